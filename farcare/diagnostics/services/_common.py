"""What the writes of diagnostics share: the audit record, row locks, the side check."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _

from farcare.audit.models import AuditAction
from farcare.audit.services import Accessor, audit_record

from ..models import DiagnosticOrder
from ..sides import order_sides
from ..workflow import Side


def audit(
    accessor: Accessor,
    order_or_record: Any,
    patient_uuid: Any,
    action: str,
    details: dict[str, Any] | None = None,
    purpose: str = "normal",
) -> None:
    audit_record(
        accessor=accessor,
        action=action,
        patient_uuid=patient_uuid,
        record=order_or_record,
        purpose=purpose,
        details=details,
    )


def require_side(accessor: Accessor, order: DiagnosticOrder, wanted: set[Side]) -> Side:
    """The side the user acts on, one of `wanted`; else the refusal is audited and raised.
    Called before the transaction, so the refusal's record is kept."""
    sides = order_sides(accessor.user, order) & wanted
    if not sides:
        audit_record(
            accessor=accessor,
            action=AuditAction.DENIED,
            patient_uuid=order.patient.uuid,
            record=order,
            outcome="denied",
            details={"wanted": sorted(str(side) for side in wanted)},
        )
        raise PermissionDenied(_("This order is not yours to act on."))
    # The orderer's side first: a clinician who is also staff of the performer acts as orderer.
    for side in (Side.ORDERER, Side.LABORATORY, Side.COORDINATOR):
        if side in sides:
            return side
    return next(iter(sides))


def lock_order(order: DiagnosticOrder) -> DiagnosticOrder:
    return (
        DiagnosticOrder.objects.select_for_update(of=("self",))
        .select_related("patient", "ordering_facility", "performer", "orderer")
        .get(pk=order.pk)
    )
