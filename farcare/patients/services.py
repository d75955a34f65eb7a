"""Writes of patients and consents. Each call authorises through the access policy and audits
the change in the same transaction, so a change without an audit record cannot exist."""

from __future__ import annotations

import uuid as uuid_lib
from collections.abc import Sequence
from datetime import date
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from farcare.access.policy import Action, may_register_at
from farcare.access.services import require
from farcare.audit.models import AuditAction
from farcare.audit.services import Accessor, Audited, audit_record, audit_records
from farcare.core.db.inserts import insert_rows
from farcare.core.ports import replication
from farcare.network.models import Facility

from .identifiers import normalise_text
from .models import PATIENT_FIELDS, Consent, ConsentKind, Patient
from .records import patient_fields
from .selectors import duplicates_of


class LikelyDuplicate(ValidationError):
    """Same name and birth date as a registered patient: the user must confirm."""


def _check_duplicates(data: dict[str, Any], *, confirmed: bool, exclude_pk: int | None) -> None:
    same_snils, same_person = duplicates_of(
        snils=data.get("snils", ""),
        family=data.get("family", ""),
        given=data.get("given", ""),
        birth_date=data.get("birth_date"),
        exclude_pk=exclude_pk,
    )
    if same_snils is not None:
        raise ValidationError(
            {"snils": _("A patient with this SNILS is already registered.")}, code="duplicate"
        )
    if same_person and not confirmed:
        raise LikelyDuplicate(
            _(
                "A patient with the same name and birth date is already registered. "
                "Check that this is a different person, then confirm."
            ),
            code="likely_duplicate",
        )


def _check_facility(accessor: Accessor, facility: Facility) -> None:
    if not may_register_at(accessor.user, facility):
        raise PermissionDenied(_("You cannot register patients at this facility."))


def _check_dates(birth_date: date) -> None:
    if birth_date > timezone.localdate():
        raise ValidationError({"birth_date": _("The birth date is in the future.")})


@transaction.atomic
def patient_register(
    *,
    accessor: Accessor,
    data: dict[str, Any],
    confirm_duplicate: bool = False,
    uuid: uuid_lib.UUID | None = None,
) -> Patient:
    """Register a patient. `uuid` is given when the patient was registered at a station first:
    one patient keeps one identifier at both ends."""
    _check_facility(accessor, data["home_facility"])
    _check_dates(data["birth_date"])
    _check_duplicates(data, confirmed=confirm_duplicate, exclude_pk=None)
    patient = Patient(**{name: data.get(name, "") for name in PATIENT_FIELDS})
    if uuid is not None:
        patient.uuid = uuid
    patient.registered_by = accessor.user
    try:
        with transaction.atomic():
            patient.save()
            audit_record(
                accessor=accessor,
                action=AuditAction.CREATE,
                patient_uuid=patient.uuid,
                record=patient,
                details={"duplicate_confirmed": confirm_duplicate},
            )
            replication().patient_created(patient=patient, actor=accessor.user)
    except IntegrityError as error:  # a concurrent registration took the SNILS first
        raise ValidationError(
            {"snils": _("A patient with this SNILS is already registered.")}
        ) from error
    return patient


class RegistrationRefused(Exception):
    """Registration number `position` of `patients_register_many` was refused with `error`
    (what `patient_register` raises for it); nothing of the batch was registered."""

    def __init__(self, position: int, error: Exception) -> None:
        super().__init__(f"registration {position}: {error}")
        self.position = position
        self.error = error


def patients_register_many(
    *,
    accessor: Accessor,
    registrations: Sequence[dict[str, Any]],
    confirm_duplicate: bool = False,
) -> list[Patient]:
    """Register several patients at once (a FHIR transaction's Patient entries), exactly as
    `patient_register` would one after another, in a constant number of statements: the
    facilities allowed by the policy without a query (`may_register_at`), the SNILS already
    taken (and, unconfirmed, the likely duplicates) asked once for all; one INSERT of the
    patients, one of their audit records. Each registration is checked in order against the
    database and the ones before it; the first refused raises `RegistrationRefused` with its
    position and `patient_register`'s error for it, before anything is written.

    One confirmed registration alone (a FHIR create) leaves its SNILS to the unique constraint:
    no check comes after it, so the refusal is the same, and a SNILS taken meanwhile had to be
    caught there anyway. Nor does it need a savepoint: on a refusal the caller's transaction
    is rolled back with it."""
    if not registrations:
        return []
    alone = len(registrations) == 1 and confirm_duplicate
    facilities = {data["home_facility"].pk: data["home_facility"] for data in registrations}
    user = accessor.user
    allowed = {pk for pk, facility in facilities.items() if may_register_at(user, facility)}
    wanted = {data.get("snils", "") for data in registrations} - {""}
    taken = (
        set(Patient.objects.filter(snils__in=wanted).order_by().values_list("snils", flat=True))
        if wanted and not alone
        else set()
    )
    people: set[tuple[date, str]] = (
        set() if confirm_duplicate else _people_registered(registrations)
    )
    patients: list[Patient] = []
    for position, data in enumerate(registrations):
        patient = Patient(**{name: data.get(name, "") for name in PATIENT_FIELDS})
        # What Patient.save derives from the name (a bulk INSERT does not call save()).
        patient.search_name = normalise_text(patient.full_name)
        patient.registered_by = accessor.user
        try:
            _check_one_of_many(data, patient, allowed, taken, people, confirm_duplicate)
        except (PermissionDenied, ValidationError) as error:
            raise RegistrationRefused(position, error) from error
        # The ones after it see it registered, as they would one by one.
        if patient.snils:
            taken.add(patient.snils)
        people.add((patient.birth_date, patient.search_name))
        patients.append(patient)
    try:
        with transaction.atomic(savepoint=not alone):
            insert_rows(patients)
            audit_records(
                records=[
                    Audited(
                        accessor=accessor,
                        action=AuditAction.CREATE,
                        patient_uuid=patient.uuid,
                        record=patient,
                        details={"duplicate_confirmed": confirm_duplicate},
                    )
                    for patient in patients
                ]
            )
            port = replication()
            if port.is_station():  # the hub (no station) asks once and queues nothing
                for patient in patients:
                    port.patient_created(patient=patient, actor=accessor.user)
    except IntegrityError as error:  # a SNILS taken before, or by a concurrent registration
        position = 0
        if not alone:
            now_taken = set(
                Patient.objects.filter(snils__in=wanted).order_by().values_list("snils", flat=True)
            )
            position = next((i for i, p in enumerate(patients) if p.snils in now_taken), 0)
        refusal = ValidationError({"snils": _("A patient with this SNILS is already registered.")})
        raise RegistrationRefused(position, refusal) from error
    return patients


def _people_registered(registrations: Sequence[dict[str, Any]]) -> set[tuple[date, str]]:
    """(birth date, search name) of the registered patients who may be the same person as one
    of `registrations` (same birth date, name starting with its family and given name, as
    `duplicates_of` asks): one query for all."""
    same = Q(pk__in=[])
    for data in registrations:
        family, given, born = data.get("family", ""), data.get("given", ""), data.get("birth_date")
        if family and given and born:
            same |= Q(birth_date=born, search_name__startswith=normalise_text(f"{family} {given}"))
    # No ordering: the model's (by name) would sort what is only looked up.
    return set(Patient.objects.filter(same).order_by().values_list("birth_date", "search_name"))


def _check_one_of_many(
    data: dict[str, Any],
    patient: Patient,
    allowed: set[int],
    taken: set[str],
    people: set[tuple[date, str]],
    confirmed: bool,
) -> None:
    """`patient_register`'s checks, in its order, against what was asked once for the batch."""
    if data["home_facility"].pk not in allowed:
        raise PermissionDenied(_("You cannot register patients at this facility."))
    _check_dates(data["birth_date"])
    if patient.snils and patient.snils in taken:
        raise ValidationError(
            {"snils": _("A patient with this SNILS is already registered.")}, code="duplicate"
        )
    family, given, born = data.get("family", ""), data.get("given", ""), data.get("birth_date")
    if confirmed or not (family and given and born):
        return
    key = normalise_text(f"{family} {given}")
    if any(day == born and name.startswith(key) for day, name in people):
        raise LikelyDuplicate(
            _(
                "A patient with the same name and birth date is already registered. "
                "Check that this is a different person, then confirm."
            ),
            code="likely_duplicate",
        )


def patient_update(
    *, accessor: Accessor, patient: Patient, data: dict[str, Any], confirm_duplicate: bool = False
) -> Patient:
    decision = require(accessor=accessor, patient=patient, action=Action.UPDATE)
    with transaction.atomic():
        return _patient_update(accessor, patient, data, confirm_duplicate, decision.purpose)


def _patient_update(
    accessor: Accessor,
    patient: Patient,
    data: dict[str, Any],
    confirm_duplicate: bool,
    purpose: str,
) -> Patient:
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    changed = [
        name for name in PATIENT_FIELDS if name in data and getattr(patient, name) != data[name]
    ]
    if "home_facility" in changed:
        _check_facility(accessor, data["home_facility"])
    if "birth_date" in changed:
        _check_dates(data["birth_date"])
    _check_duplicates(
        {name: data.get(name, getattr(patient, name)) for name in PATIENT_FIELDS},
        confirmed=confirm_duplicate,
        exclude_pk=patient.pk,
    )
    before = patient_fields(patient)
    for name in changed:
        setattr(patient, name, data[name])
    patient.save()
    replication().patient_changed(
        patient=patient, actor=accessor.user, before=before, changed=changed
    )
    audit_record(
        accessor=accessor,
        action=AuditAction.UPDATE,
        patient_uuid=patient.uuid,
        record=patient,
        purpose=purpose,
        details={"fields": changed},
    )
    return patient


def consent_record(
    *,
    accessor: Accessor,
    patient: Patient,
    kind: str,
    scope: str,
    uuid: uuid_lib.UUID | None = None,
) -> Consent:
    decision = require(accessor=accessor, patient=patient, action=Action.MANAGE_CONSENT)
    if kind not in ConsentKind.values:
        raise ValidationError({"kind": _("Unknown kind of consent.")})
    if not scope.strip():
        raise ValidationError({"scope": _("Say what the consent covers.")})
    assert accessor.user is not None  # require() admits only an active user
    with transaction.atomic():
        consent = Consent(
            patient=patient, kind=kind, scope=scope.strip(), recorded_by=accessor.user
        )
        if uuid is not None:
            consent.uuid = uuid
        consent.save()
        replication().consent_recorded(consent=consent, actor=accessor.user)
        audit_record(
            accessor=accessor,
            action=AuditAction.CREATE,
            patient_uuid=patient.uuid,
            record=consent,
            purpose=decision.purpose,
            details={"consent": kind, "scope": consent.scope},
        )
    return consent


def consent_revoke(*, accessor: Accessor, consent: Consent, reason: str) -> Consent:
    decision = require(
        accessor=accessor, patient=consent.patient, action=Action.REVOKE_CONSENT, record=consent
    )
    with transaction.atomic():
        consent = Consent.objects.select_for_update().select_related("patient").get(pk=consent.pk)
        if consent.revoked_at is not None:
            raise ValidationError(_("This consent was already revoked."))
        consent.revoked_at = timezone.now()
        consent.revoked_by = accessor.user
        consent.revocation_reason = reason.strip()
        consent.save(update_fields=["revoked_at", "revoked_by", "revocation_reason"])
        audit_record(
            accessor=accessor,
            action=AuditAction.UPDATE,
            patient_uuid=consent.patient.uuid,
            record=consent,
            purpose=decision.purpose,
            details={"revoked": consent.kind, "reason": consent.revocation_reason},
        )
    return consent


def active_consents(patient: Patient) -> dict[str, Consent]:
    return {
        consent.kind: consent
        for consent in patient.consents.filter(revoked_at__isnull=True).order_by("granted_at")
    }
