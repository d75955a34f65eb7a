"""Writes of a transfer: opened, destination chosen or declined, moved through the state
machine, the decision and the treatment recorded. Each asks the policy and the transfer's sides
before its transaction (so a refusal's audit record is kept), writes the timeline and the audit
trail, and tells people after commit."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from farcare.access.policy import Action
from farcare.access.services import authorise, require
from farcare.audit.models import AuditAction
from farcare.audit.services import Accessor, audit_record
from farcare.consults.models import Conclusion, Consultation, EvacuationAdvice
from farcare.network.models import Facility
from farcare.patients.models import Patient

from .. import planning
from ..access import may_dispatch_in, may_open_from, may_open_transfer
from ..aircraft import GroundMode
from ..models import (
    AIRCRAFT_COMMITTED,
    Aircraft,
    AircraftStatus,
    DecisionChoice,
    Transfer,
    TransferCondition,
    TransferEvent,
    TransferStatus,
    TransportMode,
    TreatmentGiven,
)
from ..workflow import MOVES, IllegalMove, Side, StaleVersion, apply, check
from . import notices
from ._common import audit, denied, lock, refuse_at_station, require_policy, require_sides

EVENTS = frozenset(move.event for move in MOVES)
# A moment "now" on the user's clock may be a little ahead of the server's.
CLOCK_SLACK = timedelta(minutes=5)
AIRCRAFT_TAKEN = "aircraft_taken"
OPEN_TRANSFER = "open_transfer"
# Moves after which the aircraft is free again.
RELEASING = frozenset({"unassign", "arrive", "hand_over", "cancel", "treat_locally", "died"})


def _not_future(value: datetime | None, field: str) -> None:
    if value is None:
        return
    if timezone.is_naive(value):
        raise ValidationError({field: _("Give the time with its time zone.")})
    if value > timezone.now() + CLOCK_SLACK:
        raise ValidationError({field: _("This time is in the future.")})


def _text(value: str, field: str, limit: int, *, required: bool = True) -> str:
    value = (value or "").strip()
    if required and not value:
        raise ValidationError({field: _("This field is required.")})
    if len(value) > limit:
        raise ValidationError({field: _("At most %(limit)s characters.") % {"limit": limit}})
    return value


def _check_destination(origin: Facility, destination: Facility | None) -> None:
    if destination is None:
        return
    if destination.pk == origin.pk:
        raise ValidationError({"destination": _("The destination is where the patient is.")})
    if destination.country != settings.FARCARE_HOME_COUNTRY:
        # The receiving hospital reads the patient's identity, which stays in Russia (152-FZ).
        raise ValidationError({"destination": _("A transfer goes to a hospital in Russia.")})


def _snapshot(transfer: Transfer, now: datetime) -> tuple[dict[str, Any], dict[str, Any]]:
    """The estimate and the advice as shown at decision time. Without a destination the advice
    is about the nearest capable hospital, which is what the decision is about."""
    estimate = planning.estimate_for(transfer)
    minutes = estimate.get("total_minutes")
    target = transfer.destination
    if target is None:
        candidates = planning.candidate_destinations(
            transfer.origin,
            transfer.condition,
            now=now,
            first_contact_at=transfer.first_contact_at,
            onset_at=transfer.onset_at,
        )
        if candidates and candidates[0].best_minutes is not None:
            target, minutes = candidates[0].facility, candidates[0].best_minutes
    advice = planning.advice_for(
        transfer.condition,
        minutes,
        now=now,
        first_contact_at=transfer.first_contact_at,
        onset_at=transfer.onset_at,
    )
    extra: dict[str, Any] = {"computed_at": now.isoformat()}
    if target is not None:
        extra["facility_uuid"] = str(target.uuid)
    if transfer.condition == TransferCondition.ISCHAEMIC_STROKE and transfer.onset_at is None:
        extra["onset_unknown"] = True  # counted from first contact: optimistic
    if estimate:
        estimate["computed_at"] = now.isoformat()
    return estimate, planning.advice_json(advice, **extra)


def _event(transfer: Transfer, event: str, actor: Any, note: str = "", **data: Any) -> None:
    TransferEvent.objects.create(
        transfer=transfer,
        from_status=transfer.status,
        to_status=transfer.status,
        event=event,
        at=timezone.now(),
        actor=actor,
        note=note,
        data=data,
    )


def transfer_open(
    *,
    accessor: Accessor,
    patient: Patient,
    origin: Facility,
    condition: str,
    reason: str,
    first_contact_at: datetime,
    onset_at: datetime | None = None,
    consultation: Consultation | None = None,
    conclusion: Conclusion | None = None,
    destination: Facility | None = None,
    decision_choice: str = "",
    decision_note: str = "",
) -> Transfer:
    """Ask for a transfer of the patient from `origin`. The estimate and the window advice at
    this moment are kept with it; from a conclusion that advises a transfer the destination is
    the one it names unless another is given."""
    refuse_at_station()
    decision = require(
        accessor=accessor, patient=patient, action=Action.UPDATE, details={"app": "evacuation"}
    )
    user = accessor.user
    if not (may_open_transfer(user, patient) and may_open_from(user, origin)):
        audit_record(
            accessor=accessor,
            action=AuditAction.DENIED,
            patient_uuid=patient.uuid,
            record=patient,
            outcome="denied",
            details={"app": "evacuation", "event": "request"},
        )
        raise PermissionDenied(_("You may not ask for a transfer of this patient from there."))
    assert user is not None
    if condition not in TransferCondition.values:
        raise ValidationError({"condition": _("Choose the condition from the list.")})
    reason = _text(reason, "reason", 4000)
    decision_note = _text(decision_note, "decision_note", 2000, required=False)
    if decision_choice and decision_choice not in DecisionChoice.values:
        raise ValidationError({"decision_choice": _("Choose the decision from the list.")})
    _not_future(first_contact_at, "first_contact_at")
    _not_future(onset_at, "onset_at")
    if consultation is not None and consultation.patient_id != patient.pk:
        raise ValidationError({"consultation": _("This consultation is about another patient.")})
    if conclusion is not None:
        if consultation is None:
            consultation = conclusion.consultation
        if conclusion.consultation_id != consultation.pk:
            raise ValidationError({"conclusion": _("This conclusion is of another consultation.")})
        advises = conclusion.evacuation in (
            EvacuationAdvice.PLANNED_TRANSFER,
            EvacuationAdvice.URGENT_AIR,
        )
        if destination is None and advises:
            destination = conclusion.evacuation_destination
    _check_destination(origin, destination)
    now = timezone.now()
    transfer = Transfer(
        patient=patient,
        consultation=consultation,
        conclusion=conclusion,
        origin=origin,
        destination=destination,
        condition=condition,
        reason=reason,
        requested_by=user,
        first_contact_at=first_contact_at,
        onset_at=onset_at,
        decided_at=now,
        decision_choice=decision_choice,
        decision_note=decision_note,
    )
    transfer.estimate, transfer.advice = _snapshot(transfer, now)
    try:
        with transaction.atomic():
            transfer.save()
            TransferEvent.objects.create(
                transfer=transfer,
                from_status="",
                to_status=TransferStatus.REQUESTED,
                event="request",
                at=now,
                actor=user,
                note="",
                data={"choice": decision_choice} if decision_choice else {},
            )
            audit(
                accessor,
                transfer,
                AuditAction.CREATE,
                {"event": "request"},
                purpose=decision.purpose,
            )
            notices.requested(transfer)
    except IntegrityError as error:
        raise ValidationError(
            _("This patient already has an open transfer. Open it instead of a new one."),
            code=OPEN_TRANSFER,
        ) from error
    return transfer


def transfer_view(*, accessor: Accessor, transfer: Transfer) -> set[Side]:
    """Authorise and audit a read of the transfer (and its patient); the viewer's sides."""
    sides = require_sides(accessor, transfer, event="view")
    authorise(
        accessor=accessor,
        patient=transfer.patient,
        action=Action.VIEW,
        record=transfer,
        details={"app": "evacuation"},
    )
    return sides


def transfer_set_destination(
    *,
    accessor: Accessor,
    transfer: Transfer,
    destination: Facility,
    expected_version: int | None = None,
) -> Transfer:
    """A coordinator chooses (or changes) the receiving hospital while no bed is confirmed."""
    refuse_at_station()
    require_sides(accessor, transfer, {Side.COORDINATOR}, event="destination")
    decision = require_policy(accessor, transfer, event="destination")
    _check_destination(transfer.origin, destination)
    with transaction.atomic():
        locked = lock(transfer)
        if expected_version is not None and expected_version != locked.version:
            raise StaleVersion(
                _(
                    "Someone changed this transfer while you were looking at it. "
                    "Reload and try again."
                ),
                code="stale",
            )
        if locked.status != TransferStatus.REQUESTED:
            raise IllegalMove(
                _("The destination is chosen before the receiving hospital confirms a bed."),
                code="illegal",
            )
        before = {"estimate": locked.estimate, "advice": locked.advice}
        locked.destination = destination
        locked.estimate, locked.advice = _snapshot(locked, timezone.now())
        _event(
            locked,
            "destination",
            accessor.user,
            destination=str(destination.uuid),
            before=before,
        )
        locked.version += 1
        locked.stall_alerted_at = None
        locked.save()
        audit(
            accessor,
            locked,
            AuditAction.UPDATE,
            {"event": "destination"},
            purpose=decision.purpose,
        )
        notices.offered(locked)
    return locked


def transfer_decline(*, accessor: Accessor, transfer: Transfer, reason: str) -> Transfer:
    """The receiving hospital has no bed: the case stays requested without a destination."""
    refuse_at_station()
    require_sides(accessor, transfer, {Side.RECEIVER}, event="decline")
    decision = require_policy(accessor, transfer, event="decline")
    reason = _text(reason, "reason", 2000)
    with transaction.atomic():
        locked = lock(transfer)
        if locked.status != TransferStatus.REQUESTED:
            raise IllegalMove(_("A bed is declined only before it is confirmed."), code="illegal")
        declined = locked.destination
        _event(
            locked,
            "decline",
            accessor.user,
            note=reason,
            facility_uuid=str(declined.uuid) if declined else "",
        )
        locked.destination = None
        locked.version += 1
        locked.stall_alerted_at = None
        locked.save()
        # The receiving hospital's reach ends here; the audit record names the patient all the same.
        audit(accessor, locked, AuditAction.UPDATE, {"event": "decline"}, purpose=decision.purpose)
        notices.declined(locked, declined)
    return locked


def _assign_details(details: dict[str, Any]) -> tuple[Aircraft | None, str]:
    aircraft = details.get("aircraft")
    ground_mode = details.get("ground_mode") or ""
    if (aircraft is None) == (not ground_mode):
        raise ValidationError(_("Choose an aircraft or a way over the ground."))
    if ground_mode and ground_mode not in GroundMode.__members__.values():
        raise ValidationError({"ground_mode": _("Choose the transport from the list.")})
    if aircraft is not None and not isinstance(aircraft, Aircraft):
        raise ValidationError({"aircraft": _("Choose an aircraft from the list.")})
    return aircraft, str(ground_mode)


def _release(transfer: Transfer) -> None:
    """Before the move (the transfer still in its source state): free the aircraft if this
    transfer holds it. After "arrive" it keeps the aircraft's name for the record but no longer
    holds it (the aircraft may already fly another transfer), so "hand_over" or "died" from
    arrived frees nothing; nor is an aircraft freed that another transfer holds."""
    if transfer.aircraft_id is None or transfer.status not in AIRCRAFT_COMMITTED:
        return
    held_elsewhere = (
        Transfer.objects.filter(aircraft_id=transfer.aircraft_id, status__in=AIRCRAFT_COMMITTED)
        .exclude(pk=transfer.pk)
        .exists()
    )
    if held_elsewhere:
        return
    Aircraft.objects.filter(pk=transfer.aircraft_id, status=AircraftStatus.ON_MISSION).update(
        status=AircraftStatus.AVAILABLE, version=F("version") + 1, updated_at=timezone.now()
    )


def _take(transfer: Transfer, aircraft: Aircraft) -> dict[str, Any]:
    """Inside the transaction: lock the aircraft row and commit it to the transfer, or refuse.
    Of two assignments of one aircraft at once the second waits for the lock and then finds
    it on a mission; the unique constraint backs this up."""
    locked = Aircraft.objects.select_for_update().select_related("base").get(pk=aircraft.pk)
    if locked.status != AircraftStatus.AVAILABLE:
        raise ValidationError(
            _(
                "Aircraft %(registration)s is not available (%(status)s): it was just "
                "assigned to another transfer or is out of service. Choose another."
            )
            % {
                "registration": locked.registration,
                "status": AircraftStatus(locked.status).label,
            },
            code=AIRCRAFT_TAKEN,
        )
    destination = transfer.destination
    assert destination is not None  # a bed is confirmed before transport is assigned
    if planning.air_estimate(locked, transfer.origin, destination) is None:
        # No estimate means no trip: accepting it would show a made-up time on the board.
        raise ValidationError(
            _(
                "Aircraft %(registration)s cannot make this trip: it cannot land at "
                "%(origin)s or at %(destination)s, or the flight is beyond its range. "
                "Choose another aircraft or a way over the ground."
            )
            % {
                "registration": locked.registration,
                "origin": transfer.origin.name,
                "destination": destination.name,
            },
            code="cannot_fly",
        )
    locked.status = AircraftStatus.ON_MISSION
    locked.version += 1
    locked.save(update_fields=["status", "version", "updated_at"])
    transfer.aircraft = locked
    transfer.transport_mode = TransportMode.AIR
    transfer.ground_mode = ""
    return planning.estimate_for(transfer, locked)


def _check_ground(transfer: Transfer, ground_mode: str) -> None:
    """A way over the ground is assigned only where a route of that mode runs this month (a
    winter road closes in spring, a river freezes): otherwise there is no estimate and no trip."""
    destination = transfer.destination
    assert destination is not None  # a bed is confirmed before transport is assigned
    running = {option.mode for option in planning.ground_options(transfer.origin, destination)}
    if ground_mode not in running:
        raise ValidationError(
            _(
                "This way over the ground does not run from %(origin)s to %(destination)s "
                "this month. Choose an aircraft or another way over the ground."
            )
            % {
                "origin": transfer.origin.name,
                "destination": destination.name,
            },
            code="no_route",
        )


def _aircraft_taken(error: IntegrityError) -> ValidationError:
    return ValidationError(
        _(
            "This aircraft was just assigned to another transfer. Choose another, or wait "
            "until it is free."
        ),
        code=AIRCRAFT_TAKEN,
    )


def transfer_move(
    *,
    accessor: Accessor,
    transfer: Transfer,
    event: str,
    note: str = "",
    at: datetime | None = None,
    expected_version: int | None = None,
    **details: Any,
) -> Transfer:
    """One move of the state machine. Details by event: accept — bed_note; assign — aircraft
    (an Aircraft) or ground_mode; hold — reason (required), expected_until (optional)."""
    refuse_at_station()
    if event not in EVENTS:
        raise IllegalMove(_("Unknown step of a transfer."), code="illegal")
    sides = require_sides(accessor, transfer, event=event)
    current = Transfer.objects.filter(pk=transfer.pk).values_list("status", flat=True).first()
    try:
        # Asked before the transaction too (of the stored state, not the caller's copy), so
        # that a move that is not theirs is refused on the audit trail. Anything else is
        # decided under the lock below.
        probe = Transfer(status=current or transfer.status, version=transfer.version)
        check(probe, event, sides=sides)
    except IllegalMove as error:
        if error.code == "forbidden":
            denied(accessor, transfer, error.messages[0], event=event)
    decision = require_policy(accessor, transfer, event=event)
    note = _text(note, "note", 2000, required=False)
    _not_future(at, "at")
    bed_note = _text(details.get("bed_note", ""), "bed_note", 200, required=False)
    aircraft, ground_mode = _assign_details(details) if event == "assign" else (None, "")
    if aircraft is not None and not may_dispatch_in(accessor.user, aircraft.base.region):
        # A coordinator dispatches their own region's bases; another region's aircraft is
        # asked for from that region's coordinator, who assigns it.
        raise ValidationError(
            _(
                "Aircraft %(registration)s belongs to a base of another region (%(region)s): "
                "ask that region's coordinator to assign it."
            )
            % {"registration": aircraft.registration, "region": aircraft.base.region},
            code="other_region",
        )
    hold_reason, expected_until = "", None
    if event == "hold":
        hold_reason = _text(details.get("reason", ""), "reason", 300)
        expected_until = details.get("expected_until")
        if expected_until is not None and timezone.is_naive(expected_until):
            raise ValidationError({"expected_until": _("Give the time with its time zone.")})
        if expected_until is not None and expected_until <= (at or timezone.now()):
            raise ValidationError({"expected_until": _("The expected time must be later.")})
    data: dict[str, Any] = {}
    try:
        with transaction.atomic():
            locked = lock(transfer)
            check(locked, event, sides=sides, expected_version=expected_version)
            if event == "accept":
                if locked.destination_id is None:
                    raise IllegalMove(
                        _("Choose the receiving hospital before confirming a bed."),
                        code="illegal",
                    )
                locked.bed_note = bed_note
                locked.accepted_by = accessor.user
                if bed_note:
                    data["bed_note"] = bed_note
            elif event == "assign":
                if aircraft is not None:
                    data["estimate"] = _take(locked, aircraft)
                    data["aircraft"] = aircraft.registration
                else:
                    _check_ground(locked, ground_mode)
                    locked.transport_mode = TransportMode.GROUND
                    locked.ground_mode = ground_mode
                    locked.aircraft = None
                    data["ground_mode"] = ground_mode
                if not locked.estimate:
                    locked.estimate = data.get("estimate") or planning.estimate_for(locked)
            elif event == "hold":
                locked.hold_reason = hold_reason
                locked.hold_expected_until = expected_until
                data["reason"] = hold_reason
                if expected_until is not None:
                    data["expected_until"] = expected_until.isoformat()
            if event in RELEASING:
                _release(locked)
                if event == "unassign":
                    data["released"] = locked.aircraft.registration if locked.aircraft else ""
                    locked.aircraft = None
                    locked.transport_mode = ""
                    locked.ground_mode = ""
            apply(
                locked,
                event,
                sides=sides,
                actor=accessor.user,
                note=note,
                at=at,
                expected_version=expected_version,
                data=data,
            )
            audit(accessor, locked, AuditAction.UPDATE, {"event": event}, purpose=decision.purpose)
            if event == "hold" or event == "cancel" or event == "died":
                notices.changed(locked, event)
    except IntegrityError as error:
        raise _aircraft_taken(error) from error
    return locked


def transfer_record_decision(
    *, accessor: Accessor, transfer: Transfer, choice: str, note: str
) -> Transfer:
    """What the clinician chose against the advice shown (never decided for them)."""
    refuse_at_station()
    require_sides(accessor, transfer, {Side.SENDER, Side.COORDINATOR}, event="decision")
    decision = require_policy(accessor, transfer, event="decision")
    if choice not in DecisionChoice.values:
        raise ValidationError({"choice": _("Choose the decision from the list.")})
    note = _text(note, "note", 2000, required=False)
    with transaction.atomic():
        locked = lock(transfer)
        if locked.is_final:
            raise IllegalMove(_("This transfer has ended."), code="illegal")
        locked.decision_choice = choice
        locked.decision_note = note
        _event(locked, "decision", accessor.user, note=note, choice=choice)
        locked.version += 1
        locked.save()
        audit(
            accessor,
            locked,
            AuditAction.UPDATE,
            {"event": "decision", "choice": choice},
            purpose=decision.purpose,
        )
    return locked


def treatment_add(
    *, accessor: Accessor, transfer: Transfer, given_at: datetime, description: str
) -> TreatmentGiven:
    """What was done for the patient before or during the transfer, for the handover."""
    refuse_at_station()
    require_sides(
        accessor, transfer, {Side.SENDER, Side.RECEIVER, Side.COORDINATOR}, event="treatment"
    )
    decision = require_policy(accessor, transfer, event="treatment")
    description = _text(description, "description", 500)
    if given_at is None:
        raise ValidationError({"given_at": _("This field is required.")})
    _not_future(given_at, "given_at")
    assert accessor.user is not None
    with transaction.atomic():
        locked = lock(transfer)
        treatment = TreatmentGiven.objects.create(
            transfer=locked, given_at=given_at, description=description, by=accessor.user
        )
        audit(
            accessor,
            locked,
            AuditAction.CREATE,
            {"event": "treatment"},
            record=treatment,
            purpose=decision.purpose,
        )
    return treatment
