"""Access to patient data as one step: ask the policy, write the audit record, refuse with 403."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from farcare.accounts.models import User
from farcare.audit.models import AuditAction, Purpose
from farcare.audit.services import Accessor, audit_record
from farcare.patients.models import Patient

from .models import BreakGlassGrant
from .policy import Action, Decision, abroad_refusal, decide, is_abroad, may_break_glass


class PatientAccessDenied(PermissionDenied):
    def __init__(self, patient: Patient, reason: str) -> None:
        super().__init__(reason)
        self.patient = patient
        self.reason = reason


def require(
    *,
    accessor: Accessor,
    patient: Patient,
    action: Action,
    record: Any = None,
    details: dict[str, Any] | None = None,
) -> Decision:
    """Ask the policy; on a refusal write the audit record and raise PatientAccessDenied (403).
    Call it before opening the transaction of a change, so the refusal's record is kept."""
    decision = decide(accessor.user, action, patient)
    if not decision:
        audit_record(
            accessor=accessor,
            action=AuditAction.DENIED,
            patient_uuid=patient.uuid,
            record=record or patient,
            outcome="denied",
            details={"wanted": str(action), **(details or {})},
        )
        raise PatientAccessDenied(patient, decision.reason)
    return decision


def authorise(
    *,
    accessor: Accessor,
    patient: Patient,
    action: Action,
    audit_action: str = AuditAction.VIEW,
    record: Any = None,
    details: dict[str, Any] | None = None,
) -> Decision:
    """Allow and audit a read, or audit the refusal and raise PatientAccessDenied (403)."""
    decision = require(
        accessor=accessor, patient=patient, action=action, record=record, details=details
    )
    audit_record(
        accessor=accessor,
        action=audit_action,
        patient_uuid=patient.uuid,
        record=record or patient,
        purpose=decision.purpose,
        details=details,
    )
    return decision


@transaction.atomic
def break_glass_open(*, accessor: Accessor, patient: Patient, reason: str) -> BreakGlassGrant:
    user = accessor.user
    if user is not None and is_abroad(user):
        raise PermissionDenied(abroad_refusal())
    if not may_break_glass(user):
        raise PermissionDenied(_("Your role cannot use emergency access."))
    assert user is not None
    reason = reason.strip()
    if len(reason) < 10:
        raise ValidationError(
            {"reason": _("Say why you need emergency access (at least 10 characters).")}
        )
    now = timezone.now()
    grant = BreakGlassGrant.objects.create(
        user=user,
        patient=patient,
        reason=reason,
        created_at=now,
        expires_at=now + timedelta(minutes=settings.FARCARE_BREAK_GLASS_MINUTES),
    )
    audit_record(
        accessor=accessor,
        action=AuditAction.BREAK_GLASS,
        patient_uuid=patient.uuid,
        record=grant,
        purpose=Purpose.BREAK_GLASS,
        details={"reason": reason, "minutes": settings.FARCARE_BREAK_GLASS_MINUTES},
    )
    return grant


@transaction.atomic
def break_glass_review(*, accessor: Accessor, grant: BreakGlassGrant, note: str) -> BreakGlassGrant:
    reviewer: User | None = accessor.user
    if reviewer is None or grant.user_id == reviewer.pk:
        raise PermissionDenied(_("Nobody reviews their own emergency access."))
    grant = BreakGlassGrant.objects.select_for_update().get(pk=grant.pk)
    if grant.reviewed_at is not None:
        raise ValidationError(_("This emergency access was already reviewed."))
    grant.reviewed_at = timezone.now()
    grant.reviewed_by = reviewer
    grant.review_note = note.strip()
    grant.save(update_fields=["reviewed_at", "reviewed_by", "review_note"])
    audit_record(
        accessor=accessor,
        action=AuditAction.REVIEW,
        patient_uuid=grant.patient.uuid,
        record=grant,
        details={"note": grant.review_note},
    )
    return grant
