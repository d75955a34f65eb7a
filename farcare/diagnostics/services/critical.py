"""Acknowledging a critical alert: who acted, what they did, and how long it took from the
result's arrival (kept as `acknowledged_at - raised_at`, shown and measured)."""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from farcare.access.policy import Action, decide
from farcare.accounts.models import Role
from farcare.audit.models import AuditAction
from farcare.audit.services import Accessor, audit_record
from farcare.core.ports import replication

from ..models import AlertStatus, CriticalAlert
from ..workflow import check_version

ACTION_MAX_CHARS = 1000
ACKNOWLEDGING_ROLES = (Role.CLINICIAN, Role.COORDINATOR)


def may_acknowledge(alert: CriticalAlert, user: object) -> bool:
    from farcare.accounts.models import User

    if not isinstance(user, User) or not user.is_active:
        return False
    if alert.recipient_id == user.pk:
        return True
    # Whoever was told on escalation (the district doctor, the coordinator) may act as well:
    # a clinician or coordinator who may see the patient.
    return user.role in ACKNOWLEDGING_ROLES and bool(decide(user, Action.VIEW, alert.patient))


def critical_acknowledge(
    *,
    accessor: Accessor,
    alert: CriticalAlert,
    action_taken: str,
    version: int,
    acknowledged_at: datetime | None = None,
) -> CriticalAlert:
    """`acknowledged_at`: when it was acknowledged, if before now (at a post with no link,
    the feldsher acted then; the acknowledgement reaches the hub later)."""
    if not may_acknowledge(alert, accessor.user):
        audit_record(
            accessor=accessor,
            action=AuditAction.DENIED,
            patient_uuid=alert.patient.uuid,
            record=alert,
            outcome="denied",
            details={"wanted": "acknowledge"},
        )
        raise PermissionDenied(_("This alert is not yours to acknowledge."))
    action_taken = action_taken.strip()
    if not action_taken:
        raise ValidationError({"action_taken": _("Say what was done about the result.")})
    if len(action_taken) > ACTION_MAX_CHARS:
        raise ValidationError(
            {"action_taken": _("Too long (at most %(limit)d characters).") % {"limit": 1000}}
        )
    with transaction.atomic():
        locked = (
            CriticalAlert.objects.select_for_update(of=("self",))
            .select_related("patient", "observation")
            .get(pk=alert.pk)
        )
        if locked.status == AlertStatus.ACKNOWLEDGED:
            raise ValidationError(_("This alert was already acknowledged."))
        check_version(locked.version, version)
        locked.status = AlertStatus.ACKNOWLEDGED
        now = timezone.now()
        locked.acknowledged_at = (
            min(max(acknowledged_at, locked.raised_at), now) if acknowledged_at else now
        )
        locked.acknowledged_by = accessor.user
        locked.action_taken = action_taken
        locked.version += 1
        locked.save(
            update_fields=[
                "status",
                "acknowledged_at",
                "acknowledged_by",
                "action_taken",
                "version",
            ]
        )
        elapsed = locked.time_to_acknowledge
        audit_record(
            accessor=accessor,
            action=AuditAction.UPDATE,
            patient_uuid=locked.patient.uuid,
            record=locked,
            details={
                "event": "acknowledge",
                "seconds_to_acknowledge": int(elapsed.total_seconds()) if elapsed else None,
                "action_taken": action_taken,
            },
        )
        replication().alert_acknowledged(alert=locked, actor=accessor.user)
    return locked
