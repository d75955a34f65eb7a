"""Slots and calls as a page lists them: each time in the viewer's zone, with the other side's
local time beside it when their clock differs ("09:00 … (Seoul 15:00)")."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, tzinfo

from farcare.accounts.models import User
from farcare.consults.workflow import Side
from farcare.core.timezones import zone_for_user

from .access import appointment_sides
from .models import Appointment, Slot
from .selectors import call_case
from .workflow import Move, allowed_moves


def _differs(moment: datetime, mine: tzinfo, theirs: tzinfo) -> bool:
    return moment.astimezone(mine).utcoffset() != moment.astimezone(theirs).utcoffset()


@dataclass(frozen=True)
class SlotRow:
    slot: Slot
    consultant: User
    their_zone: str  # the consultant's zone where it differs from the viewer's, else ''


def slot_rows(slots: Iterable[Slot], *, viewer_zone: tzinfo) -> list[SlotRow]:
    rows = []
    for slot in slots:
        consultant = slot.schedule.consultant
        theirs = zone_for_user(consultant)
        rows.append(
            SlotRow(
                slot,
                consultant,
                theirs.key if _differs(slot.starts_at, viewer_zone, theirs) else "",
            )
        )
    return rows


@dataclass(frozen=True)
class CallRow:
    appointment: Appointment
    label: str
    pseudonymised: bool
    patient_uuid: str
    their_zone: str  # the other side's zone where it differs from the viewer's, else ''
    sides: frozenset[Side]
    moves: tuple[Move, ...]


def call_row(appointment: Appointment, viewer: User) -> CallRow:
    case = call_case(appointment, viewer)
    sides = appointment_sides(viewer, appointment)
    other = (
        appointment.consultation.requester
        if appointment.consultant_id == viewer.pk
        else appointment.consultant
    )
    mine, theirs = zone_for_user(viewer), zone_for_user(other)
    return CallRow(
        appointment=appointment,
        label=case.label,
        pseudonymised=case.pseudonymised,
        patient_uuid=str(appointment.consultation.patient.uuid),
        their_zone=theirs.key if _differs(appointment.starts_at, mine, theirs) else "",
        sides=frozenset(sides),
        moves=tuple(allowed_moves(appointment, sides)),
    )


def call_rows(appointments: Iterable[Appointment], *, viewer: User) -> list[CallRow]:
    return [call_row(appointment, viewer) for appointment in appointments]
