"""Who may join a consultation's call: the requesting side and the consultants assigned to it,
while the consultation is live and was asked for in real time or as a consilium.

Narrower than opening the case (`policy.consult_sides`): a consultant who could only claim a
request, and a coordinator of the region, read the case but are not in the call."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _

from farcare.access.policy import ConsultView, consult_sides, decide_consult
from farcare.accounts.models import User
from farcare.audit.models import AuditAction
from farcare.audit.services import Accessor, audit_record
from farcare.consults.models import Consultation, ConsultMode, Status
from farcare.consults.workflow import Side

# Consultations that are asked for live.
CALL_MODES = frozenset({ConsultMode.REALTIME, ConsultMode.CONSILIUM})
# While a consultant holds the request (accepted, working on it, waiting for an answer).
CALL_STATUSES = frozenset({Status.ACCEPTED, Status.IN_PROGRESS, Status.ON_HOLD})


def _assigned(user: User, consultation: Consultation) -> bool:
    return consultation.assignments.filter(consultant=user, ended_at__isnull=True).exists()


def may_join(user: User | None, consultation: Consultation) -> bool:
    if user is None or not user.is_authenticated:
        return False
    if consultation.mode not in CALL_MODES or consultation.status not in CALL_STATUSES:
        return False
    sides = consult_sides(user, consultation)
    if Side.REQUESTER in sides:
        return True
    return Side.CONSULTANT in sides and _assigned(user, consultation)


def require_join(accessor: Accessor, consultation: Consultation) -> ConsultView:
    """The view of the case the user gets in the call (pseudonymised abroad), or a refusal that
    is audited. Called before any transaction, so the refusal's record is never rolled back."""
    if not may_join(accessor.user, consultation):
        audit_record(
            accessor=accessor,
            action=AuditAction.DENIED,
            patient_uuid=consultation.patient.uuid,
            record=consultation,
            outcome="denied",
            details={"wanted": "call"},
        )
        raise PermissionDenied(_("You are not in this consultation's call."))
    return decide_consult(accessor.user, consultation)
