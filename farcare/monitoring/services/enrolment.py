"""Enrolling a patient in a monitoring programme, changing their plan, ending it; the phones a
person sends SMS readings from (issue 17, point 1).

Remote monitoring follows an in-person visit (domain.md §2): its date is required. The
responsible feldsher and doctor must be active clinicians working in Russia: being named opens
the patient's record to them (access.policy `_monitored_by`), which an identity abroad never
gets (152-FZ). Each write asks the policy before its transaction, so a refusal's audit record is
kept, and is audited linked to the patient.

Enrolments are made at the hub: a station's copy would not cross back up, so a station refuses
them instead of accepting what would be lost.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from farcare.access.policy import Action, Decision, decide
from farcare.access.services import require
from farcare.accounts.models import Role, User
from farcare.audit.models import AuditAction, Purpose
from farcare.audit.services import Accessor, audit_record
from farcare.core.ports import replication
from farcare.network.models import Facility
from farcare.network.selectors import facilities_above
from farcare.patients.models import Patient

from .. import notices, plans
from ..models import (
    Enrolment,
    EnrolmentStatus,
    MonitoringAlert,
    ProgrammeChoice,
    ReadingPhone,
)
from ..workflow import OPEN_STATUSES, Side, StaleVersion, apply
from .alerts import recipient_for, refresh_risk

ALREADY_ENROLLED = "already_enrolled"
AT_STATION = "at_station"
NOTE_MAX_CHARS = 4000


def _refuse_at_station() -> None:
    if replication().is_station():
        raise ValidationError(
            _("Monitoring enrolments are made and changed at the hub, not at a station."),
            code=AT_STATION,
        )


def _audit(
    accessor: Accessor,
    enrolment: Enrolment,
    action: str,
    decision: Decision,
    details: dict[str, Any],
) -> None:
    audit_record(
        accessor=accessor,
        action=action,
        patient_uuid=enrolment.patient.uuid,
        record=enrolment,
        purpose=decision.purpose,
        details={"app": "monitoring", **details},
    )


def _require_update(accessor: Accessor, patient: Patient, **details: Any) -> Decision:
    decision = require(
        accessor=accessor,
        patient=patient,
        action=Action.UPDATE,
        details={"app": "monitoring", **details},
    )
    if accessor.user is None:
        raise PermissionDenied(_("You are not logged in."))
    return decision


def _refuse_break_glass(decision: Decision) -> None:
    if decision.purpose == Purpose.BREAK_GLASS:
        # Being named responsible opens the record for as long as the monitoring lasts
        # (`_monitored_by`): emergency access would outlive its grant.
        raise ValidationError(
            _(
                "You reach this person through emergency access only: monitoring is arranged "
                "and changed by the clinicians of their chain of care."
            ),
            code="break_glass",
        )


def _home(facility: Facility | None) -> bool:
    return facility is not None and facility.country == settings.FARCARE_HOME_COUNTRY


def _check_clinician(user: User | None, field: str) -> User:
    if user is None:
        raise ValidationError({field: _("Name the responsible clinician.")}, code="required")
    if not user.is_active or user.role != Role.CLINICIAN:
        raise ValidationError(
            {field: _("The responsible person must be an active clinician.")}, code="not_clinician"
        )
    if not _home(user.facility if user.facility_id else None):
        # Being named opens the patient's record: never to someone abroad (152-FZ).
        raise ValidationError(
            {field: _("The responsible clinician must work at a facility in Russia.")},
            code="abroad",
        )
    return user


def _check_reaches(user: User, patient: Patient, field: str) -> None:
    """Naming someone opens the record to them: only to a clinician of the person's chain of
    care, or one who already reaches the person in ordinary care (not by emergency access)."""
    if user.facility_id in facilities_above(patient.home_facility_id):
        return
    decision = decide(user, Action.VIEW, patient)
    if decision.allowed and decision.purpose == Purpose.NORMAL:
        return
    raise ValidationError(
        {
            field: _(
                "%(name)s does not work in this person's chain of care and cannot see their "
                "record: name a clinician who does."
            )
            % {"name": user}
        },
        code="outside_chain",
    )


def _check_visit(value: date | None, zone: str) -> date:
    if value is None:
        raise ValidationError(
            {"in_person_visit_on": _("Give the date of the in-person visit.")}, code="required"
        )
    if isinstance(value, datetime):
        value = value.date()
    if value > timezone.now().astimezone(ZoneInfo(zone)).date():
        raise ValidationError(
            {"in_person_visit_on": _("The in-person visit cannot be in the future.")},
            code="future",
        )
    return value


def _check_zone(zone: str) -> str:
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError({"zone": _("Unknown time zone.")}, code="zone") from None
    return zone


def _plan(value: object, programme: str) -> dict[str, Any]:
    try:
        return plans.normalised(value, programme=programme)
    except plans.PlanError as error:
        raise ValidationError({error.field: error.message}, code="plan") from None


def _targets(value: object) -> dict[str, dict[str, str]]:
    try:
        return plans.targets_from_json(value)
    except plans.PlanError as error:
        raise ValidationError({error.field: error.message}, code="targets") from None


def _note(value: str) -> str:
    value = (value or "").strip()
    if len(value) > NOTE_MAX_CHARS:
        raise ValidationError(
            {"note": _("At most %(limit)s characters.") % {"limit": NOTE_MAX_CHARS}}
        )
    return value


def _active_exists(patient: Patient, programme: str) -> bool:
    return Enrolment.objects.filter(
        patient=patient, programme=programme, status=EnrolmentStatus.ACTIVE
    ).exists()


def _already_enrolled(programme: str) -> ValidationError:
    return ValidationError(
        _("This person is already enrolled in the %(programme)s programme. Change that enrolment.")
        % {"programme": ProgrammeChoice(programme).label},
        code=ALREADY_ENROLLED,
    )


def enrol(
    *,
    accessor: Accessor,
    patient: Patient,
    programme: str,
    responsible_feldsher: User,
    responsible_doctor: User,
    in_person_visit_on: date,
    facility: Facility | None = None,
    plan: dict[str, Any] | None = None,
    targets: dict[str, Any] | None = None,
    zone: str | None = None,
    note: str = "",
    at: datetime | None = None,
) -> Enrolment:
    """Enrol the patient: the plan is the programme's template unless the clinician set one."""
    _refuse_at_station()
    decision = _require_update(accessor, patient, event="enrol")
    _refuse_break_glass(decision)
    if programme not in ProgrammeChoice.values:
        raise ValidationError({"programme": _("Choose the programme from the list.")})
    facility = facility or patient.home_facility
    if not _home(facility):
        raise ValidationError({"facility": _("A person is followed at a facility in Russia.")})
    zone = _check_zone(zone or facility.time_zone)
    visit = _check_visit(in_person_visit_on, zone)
    feldsher = _check_clinician(responsible_feldsher, "responsible_feldsher")
    doctor = _check_clinician(responsible_doctor, "responsible_doctor")
    _check_reaches(feldsher, patient, "responsible_feldsher")
    _check_reaches(doctor, patient, "responsible_doctor")
    stored_plan = _plan(plans.template_json(programme) if plan is None else plan, programme)
    stored_targets = _targets(plans.default_targets(programme) if targets is None else targets)
    note = _note(note)
    now = at or timezone.now()
    if _active_exists(patient, programme):
        raise _already_enrolled(programme)
    enrolment = Enrolment(
        patient=patient,
        programme=programme,
        facility=facility,
        responsible_feldsher=feldsher,
        responsible_doctor=doctor,
        in_person_visit_on=visit,
        plan=stored_plan,
        targets=stored_targets,
        zone=zone,
        note=note,
        enrolled_at=now,
        enrolled_by=accessor.user,
    )
    try:
        with transaction.atomic():
            enrolment.save()
            refresh_risk(enrolment, now=now)
            _audit(
                accessor,
                enrolment,
                AuditAction.CREATE,
                decision,
                {"event": "enrol", "programme": programme},
            )
    except IntegrityError as error:
        # Two clinicians enrolling the same person at once: the constraint decides.
        if Enrolment.objects.filter(
            patient=patient, programme=programme, status=EnrolmentStatus.ACTIVE
        ).exists():
            raise _already_enrolled(programme) from error
        raise
    return enrolment


def _lock(enrolment: Enrolment) -> Enrolment:
    return (
        Enrolment.objects.select_for_update(of=("self",))
        .select_related("patient")
        .get(pk=enrolment.pk)
    )


def _check_version(enrolment: Enrolment, expected: int | None) -> None:
    if expected is not None and expected != enrolment.version:
        raise StaleVersion(
            _("Someone changed this enrolment while you were looking at it. Reload and try again."),
            code="stale",
        )


def _check_active(enrolment: Enrolment) -> None:
    if enrolment.status != EnrolmentStatus.ACTIVE:
        raise ValidationError(_("This monitoring has ended."), code="ended")


def enrolment_update(
    *,
    accessor: Accessor,
    enrolment: Enrolment,
    expected_version: int | None,
    plan: dict[str, Any] | None = None,
    targets: dict[str, Any] | None = None,
    responsible_feldsher: User | None = None,
    responsible_doctor: User | None = None,
    note: str | None = None,
) -> Enrolment:
    """Change what is given (None leaves it as it is)."""
    _refuse_at_station()
    decision = _require_update(accessor, enrolment.patient, event="update")
    _refuse_break_glass(decision)
    new_plan = _plan(plan, enrolment.programme) if plan is not None else None
    new_targets = _targets(targets) if targets is not None else None
    for field, named in (
        ("responsible_feldsher", responsible_feldsher),
        ("responsible_doctor", responsible_doctor),
    ):
        if named is not None and getattr(enrolment, f"{field}_id") != named.pk:
            _check_clinician(named, field)
            _check_reaches(named, enrolment.patient, field)
    new_note = _note(note) if note is not None else None
    with transaction.atomic():
        locked = _lock(enrolment)
        _check_version(locked, expected_version)
        _check_active(locked)
        changed: list[str] = []
        replaced = {
            getattr(locked, f"{name}_id")
            for name, new in (
                ("responsible_feldsher", responsible_feldsher),
                ("responsible_doctor", responsible_doctor),
            )
            if new is not None and getattr(locked, f"{name}_id") != new.pk
        }
        for name, value in (
            ("plan", new_plan),
            ("targets", new_targets),
            ("responsible_feldsher", responsible_feldsher),
            ("responsible_doctor", responsible_doctor),
            ("note", new_note),
        ):
            if value is not None and getattr(locked, name) != value:
                setattr(locked, name, value)
                changed.append(name)
        if not changed:
            return locked
        locked.version += 1
        locked.save()
        now = timezone.now()
        reassigned = _reassign_alerts(locked, replaced, accessor=accessor, at=now)
        refresh_risk(locked, now=now)
        _audit(
            accessor,
            locked,
            AuditAction.UPDATE,
            decision,
            {"event": "update", "changed": changed, "alerts_reassigned": reassigned},
        )
    return locked


def _reassign_alerts(
    enrolment: Enrolment, replaced: set[int], *, accessor: Accessor, at: datetime
) -> int:
    """Open alerts of a clinician no longer named go to whoever now answers for them: the
    replaced one may no longer open the record, and an alert nobody can open is lost."""
    if not replaced:
        return 0
    moved = 0
    alerts = (
        MonitoringAlert.objects.select_for_update(of=("self",))
        .select_related("patient", "recipient")
        .filter(enrolment=enrolment, status__in=OPEN_STATUSES, recipient_id__in=replaced)
    )
    for alert in alerts:
        new = recipient_for(enrolment, alert.severity)
        if new.pk == alert.recipient_id:
            continue
        old = alert.recipient
        alert.recipient = new
        apply(
            alert,
            "reassign",
            sides={Side.SYSTEM},
            actor=accessor.user,
            at=at,
            data={"from": str(old.uuid), "to": str(new.uuid)},
        )
        # Queued now, sent after commit (notify): a rolled-back change tells nobody.
        notices.alert_reassigned(alert)
        moved += 1
    return moved


def enrolment_end(
    *, accessor: Accessor, enrolment: Enrolment, reason: str, expected_version: int | None = None
) -> Enrolment:
    """End the monitoring; its alerts still open are closed (nobody follows them any more)."""
    _refuse_at_station()
    decision = _require_update(accessor, enrolment.patient, event="end")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Say why the monitoring ends.")}, code="required")
    if len(reason) > NOTE_MAX_CHARS:
        raise ValidationError(
            {"reason": _("At most %(limit)s characters.") % {"limit": NOTE_MAX_CHARS}}
        )
    now = timezone.now()
    with transaction.atomic():
        locked = _lock(enrolment)
        _check_version(locked, expected_version)
        _check_active(locked)
        locked.status = EnrolmentStatus.ENDED
        locked.ended_at = now
        locked.ended_by = accessor.user
        locked.end_reason = reason
        locked.risk = 0
        locked.risk_reason = ""
        locked.version += 1
        locked.save()
        closed = 0
        for alert in locked.alerts.select_for_update().filter(status__in=OPEN_STATUSES):
            apply(alert, "close", sides={Side.SYSTEM}, actor=accessor.user, at=now, note=reason)
            closed += 1
        _audit(
            accessor,
            locked,
            AuditAction.UPDATE,
            decision,
            {"event": "end", "alerts_closed": closed},
        )
    return locked


# --- phones for SMS readings -------------------------------------------------------------------

_SEPARATORS = re.compile(r"[\s\-().]")


def normalise_number(number: str) -> str:
    """E.164: "8 914 123-45-67" and "+7 (914) 123-45-67" -> "+79141234567"."""
    raw = _SEPARATORS.sub("", number or "")
    if raw.startswith("00"):
        raw = "+" + raw[2:]
    if raw.startswith("8") and len(raw) == 11 and raw.isdigit():
        raw = "+7" + raw[1:]  # the Russian trunk prefix
    elif raw.startswith("7") and len(raw) == 11 and raw.isdigit():
        raw = "+" + raw
    if not (raw.startswith("+") and raw[1:].isdigit() and 8 <= len(raw) - 1 <= 15):
        raise ValidationError(
            {"number": _("Give the phone number with its country code, e.g. +7 914 123-45-67.")},
            code="number",
        )
    return raw


def phone_register(
    *, accessor: Accessor, patient: Patient, number: str, language: str = "ru"
) -> ReadingPhone:
    """The phone the person sends readings from. Registering the same number again for them
    changes the language of replies; a number active for someone else is refused (a reading
    must never land in another person's record)."""
    _refuse_at_station()
    decision = require(
        accessor=accessor,
        patient=patient,
        action=Action.RECORD_READING,
        details={"app": "monitoring", "event": "phone_register"},
    )
    normalised = normalise_number(number)
    if language not in dict(settings.LANGUAGES):
        raise ValidationError({"language": _("Choose the language from the list.")})
    taken = ValidationError(
        {"number": _("This number already sends readings for another person.")}, code="taken"
    )
    try:
        with transaction.atomic():
            phone = (
                ReadingPhone.objects.select_for_update()
                .filter(number=normalised, active=True)
                .first()
            )
            if phone is not None and phone.patient_id != patient.pk:
                raise taken
            if phone is None:
                phone = ReadingPhone.objects.create(
                    patient=patient,
                    number=normalised,
                    language=language,
                    registered_at=timezone.now(),
                    registered_by=accessor.user,
                )
                event = "phone_register"
            else:
                phone.language = language
                phone.save(update_fields=["language"])
                event = "phone_language"
            audit_record(
                accessor=accessor,
                action=AuditAction.UPDATE,
                patient_uuid=patient.uuid,
                record=phone,
                purpose=decision.purpose,
                details={"app": "monitoring", "event": event},
            )
    except IntegrityError as error:
        raise taken from error
    return phone


def phone_unregister(*, accessor: Accessor, phone: ReadingPhone) -> None:
    _refuse_at_station()
    decision = require(
        accessor=accessor,
        patient=phone.patient,
        action=Action.RECORD_READING,
        details={"app": "monitoring", "event": "phone_unregister"},
    )
    with transaction.atomic():
        updated = ReadingPhone.objects.filter(pk=phone.pk, active=True).update(active=False)
        phone.active = False
        if updated:
            audit_record(
                accessor=accessor,
                action=AuditAction.UPDATE,
                patient_uuid=phone.patient.uuid,
                record=phone,
                purpose=decision.purpose,
                details={"app": "monitoring", "event": "phone_unregister"},
            )
