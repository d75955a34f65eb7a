"""The state machines of an order (FHIR ServiceRequest.status) and of its specimens, as data.

Every change of status goes through `apply_order()` or `apply_specimen()`: the move must be in
the table for the side that makes it, and the form the user saw must still be current (a stale
version is refused). The caller holds the transaction and the row lock."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from django.core.exceptions import ValidationError
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .models import DiagnosticOrder, OrderStatus, Specimen, SpecimenStatus

StrOrPromise = str | Promise


class Side(StrEnum):
    ORDERER = "orderer"  # the ordering clinician, or staff of the ordering facility
    LABORATORY = "laboratory"  # staff of the performing facility
    COORDINATOR = "coordinator"
    SYSTEM = "system"


@dataclass(frozen=True)
class Move:
    source: str
    target: str
    sides: frozenset[Side]
    event: str
    label: StrOrPromise


ORD, LAB, K, S = Side.ORDERER, Side.LABORATORY, Side.COORDINATOR, Side.SYSTEM

ORDER_MOVES: tuple[Move, ...] = (
    Move(OrderStatus.DRAFT, OrderStatus.ACTIVE, frozenset({ORD}), "place", gettext_lazy("Order")),
    Move(
        OrderStatus.DRAFT, OrderStatus.REVOKED, frozenset({ORD}), "discard", gettext_lazy("Discard")
    ),
    Move(
        OrderStatus.ACTIVE,
        OrderStatus.REVOKED,
        frozenset({ORD, K}),
        "cancel",
        gettext_lazy("Cancel"),
    ),
    Move(OrderStatus.ACTIVE, OrderStatus.ON_HOLD, frozenset({LAB}), "hold", gettext_lazy("Hold")),
    Move(
        OrderStatus.ON_HOLD, OrderStatus.ACTIVE, frozenset({LAB}), "resume", gettext_lazy("Resume")
    ),
    Move(
        OrderStatus.ON_HOLD,
        OrderStatus.REVOKED,
        frozenset({ORD, K}),
        "cancel",
        gettext_lazy("Cancel"),
    ),
    Move(
        OrderStatus.ACTIVE,
        OrderStatus.COMPLETED,
        frozenset({S, LAB}),
        "complete",
        gettext_lazy("All results reported"),
    ),
    Move(
        OrderStatus.ACTIVE,
        OrderStatus.ENTERED_IN_ERROR,
        frozenset({ORD}),
        "error",
        gettext_lazy("Entered in error"),
    ),
)

SPECIMEN_MOVES: tuple[Move, ...] = (
    Move(
        SpecimenStatus.AWAITING,
        SpecimenStatus.COLLECTED,
        frozenset({ORD, LAB}),
        "collect",
        gettext_lazy("Collected"),
    ),
    Move(
        SpecimenStatus.COLLECTED,
        SpecimenStatus.SHIPPED,
        frozenset({ORD}),
        "ship",
        gettext_lazy("Shipped"),
    ),
    # Collected where it is tested, or brought by hand: received without a shipment.
    Move(
        SpecimenStatus.COLLECTED,
        SpecimenStatus.RECEIVED,
        frozenset({LAB}),
        "receive",
        gettext_lazy("Received"),
    ),
    Move(
        SpecimenStatus.SHIPPED,
        SpecimenStatus.RECEIVED,
        frozenset({LAB}),
        "receive",
        gettext_lazy("Received"),
    ),
    *(
        Move(source, SpecimenStatus.REJECTED, frozenset({LAB}), "reject", gettext_lazy("Reject"))
        for source in (SpecimenStatus.COLLECTED, SpecimenStatus.SHIPPED, SpecimenStatus.RECEIVED)
    ),
)

_ORDER_BY_PAIR = {(move.source, move.target): move for move in ORDER_MOVES}
_SPECIMEN_BY_PAIR = {(move.source, move.target): move for move in SPECIMEN_MOVES}


class IllegalTransition(ValidationError):
    pass


class StaleVersion(ValidationError):
    pass


def _stale() -> StaleVersion:
    return StaleVersion(
        _("Someone changed this while you were looking at it. Reload and try again."),
        code="stale",
    )


def check_version(current: int, expected: int | None) -> None:
    if expected is not None and expected != current:
        raise _stale()


def _find(table: dict[tuple[str, str], Move], source: str, target: str, side: Side) -> Move:
    move = table.get((source, target))
    if move is None:
        raise IllegalTransition(
            _("Something that is %(current)s cannot become %(target)s.")
            % {"current": _status_label(source), "target": _status_label(target)},
            code="illegal",
        )
    if side not in move.sides:
        raise IllegalTransition(_("This step is not yours to take."), code="forbidden")
    return move


def _status_label(value: str) -> str:
    for choices in (OrderStatus, SpecimenStatus):
        if value in choices.values:
            return str(choices(value).label)
    return value


def allowed_order_moves(order: DiagnosticOrder, sides: set[Side]) -> list[Move]:
    return [move for move in ORDER_MOVES if move.source == order.status and move.sides & sides]


def allowed_specimen_moves(specimen: Specimen, sides: set[Side]) -> list[Move]:
    return [
        move for move in SPECIMEN_MOVES if move.source == specimen.status and move.sides & sides
    ]


def apply_order(
    order: DiagnosticOrder, target: str, *, side: Side, expected_version: int | None = None
) -> Move:
    check_version(order.version, expected_version)
    move = _find(_ORDER_BY_PAIR, order.status, target, side)
    order.status = target
    order.version += 1
    order.save(update_fields=["status", "version", "updated_at"])
    return move


def apply_specimen(
    specimen: Specimen,
    target: str,
    *,
    side: Side,
    expected_version: int | None = None,
    fields: tuple[str, ...] = (),
) -> Move:
    """Move the specimen; `fields` are other fields the caller set and that are saved with it."""
    check_version(specimen.version, expected_version)
    move = _find(_SPECIMEN_BY_PAIR, specimen.status, target, side)
    specimen.status = target
    specimen.version += 1
    specimen.save(update_fields=["status", "version", *fields])
    return move
