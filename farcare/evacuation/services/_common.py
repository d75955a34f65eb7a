"""What the writes of evacuation share: the audit record, the side check, row locks."""

from __future__ import annotations

from typing import Any, NoReturn

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from farcare.access.policy import Action, Decision, abroad_refusal, is_abroad
from farcare.access.services import require
from farcare.audit.services import Accessor, audit_record, audit_refusal
from farcare.core.ports import replication

from ..access import transfer_sides
from ..models import Transfer
from ..workflow import Side

# The code of the refusal of a write at a station, for callers that tell it apart.
AT_STATION = "at_station"


def at_station() -> bool:
    """Whether this installation is a post's station. Its transfers are copies the hub sends
    down (sync.evacuation_mirror) and nothing of them crosses back up, so a change made here
    would be accepted and then lost: every write refuses it up front instead."""
    return replication().is_station()


def station_read_only() -> str:
    return _("At a station a transfer is read only: it is changed at the hub.")


def refuse_at_station() -> None:
    """Call first in every write: a bad request, not a policy refusal, so nothing is audited
    (nothing of the patient is read or changed)."""
    if at_station():
        raise ValidationError(station_read_only(), code=AT_STATION)


def audit(
    accessor: Accessor,
    transfer: Transfer,
    action: str,
    details: dict[str, Any] | None = None,
    record: Any = None,
    *,
    purpose: str,
) -> None:
    """The record of a write, under the purpose the policy granted it (break-glass included)."""
    audit_record(
        accessor=accessor,
        action=action,
        patient_uuid=transfer.patient.uuid,
        record=record or transfer,
        purpose=purpose,
        details={"app": "evacuation", **(details or {})},
    )


def require_policy(accessor: Accessor, transfer: Transfer, **details: Any) -> Decision:
    """The policy's word on changing the transfer's patient, or the refusal audited and raised.
    Standing on a side of the transfer is not enough on its own (a coordinator of the
    destination's region may not reach the patient), and the decision carries the purpose
    (normal or break-glass) the write is audited under. Call before the transaction."""
    return require(
        accessor=accessor,
        patient=transfer.patient,
        action=Action.UPDATE,
        record=transfer,
        details={"app": "evacuation", **details},
    )


def denied(accessor: Accessor, transfer: Transfer, message: str, **details: Any) -> NoReturn:
    """Audit the refusal (outside any transaction, so it is kept) and raise it."""
    audit_refusal(
        accessor=accessor,
        message=message,
        patient_uuid=transfer.patient.uuid,
        record=transfer,
        details={"app": "evacuation", **details},
    )


def require_sides(
    accessor: Accessor, transfer: Transfer, wanted: set[Side] | None = None, **details: Any
) -> set[Side]:
    """The user's sides of the transfer (those in `wanted`), or the refusal audited and raised.
    Call before the transaction."""
    sides = transfer_sides(accessor.user, transfer)
    if wanted is not None:
        sides &= wanted
    if not sides:
        user = accessor.user
        abroad = user is not None and user.is_authenticated and is_abroad(user)
        message = abroad_refusal() if abroad else _("This transfer is not yours to act on.")
        denied(accessor, transfer, message, **details)
    return sides


def lock(transfer: Transfer) -> Transfer:
    return (
        Transfer.objects.select_for_update(of=("self",))
        .select_related("patient", "origin", "destination", "aircraft")
        .get(pk=transfer.pk)
    )
