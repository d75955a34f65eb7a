"""Finding the patient a laboratory's report is about: by FarCare's UUID, or by SNILS or OMS
policy number; the name and birth date the sender gave must agree with the record, or the
report is refused (a report filed under the wrong person is worse than one held back)."""

from __future__ import annotations

import uuid as uuid_lib

from django.utils.translation import gettext as _

from farcare.patients.identifiers import digits, normalise_text
from farcare.patients.models import Patient

from .inbound import PatientRef, ReportRefused

# Assigning authorities as laboratories write them (HL7 PID-3.4, FHIR identifier.system).
SNILS_SYSTEMS = frozenset({"snils", "снилс", "1.2.643.100.3", "urn:oid:1.2.643.100.3"})
OMS_SYSTEMS = frozenset({"oms", "омс", "enp", "енп"})
UUID_SYSTEMS = frozenset({"farcare", "uuid", "urn:ietf:rfc:3986"})
FULL_DATE_DIGITS = 8  # YYYYMMDD


def _not_matched() -> str:
    return _("The patient could not be matched.")


def _kind(system: str) -> str:
    system = system.strip().casefold()
    if system in SNILS_SYSTEMS or system.endswith("/snils"):
        return "snils"
    if system in OMS_SYSTEMS or system.endswith("/oms"):
        return "oms"
    if system in UUID_SYSTEMS or system.endswith("/patient-uuid"):
        return "uuid"
    return ""


def _by_uuid(value: str) -> Patient | None:
    try:
        key = uuid_lib.UUID(value.strip().removeprefix("urn:uuid:"))
    except ValueError:
        return None
    return Patient.objects.select_related("home_facility", "user").filter(uuid=key).first()


def find_patient(ref: PatientRef) -> Patient:
    found: dict[int, Patient] = {}
    named = False
    if ref.uuid:
        named = True
        patient = _by_uuid(ref.uuid)
        if patient is not None:
            found[patient.pk] = patient
    for system, value in ref.identifiers:
        kind = _kind(system)
        if not kind or not value.strip():
            continue
        named = True
        if kind == "uuid":
            patient = _by_uuid(value)
            matches = [patient] if patient else []
        elif kind == "snils":
            matches = list(
                Patient.objects.select_related("home_facility", "user").filter(snils=digits(value))
            )
        else:
            matches = list(
                Patient.objects.select_related("home_facility", "user").filter(
                    oms_policy=digits(value)
                )
            )
        for patient in matches:
            found[patient.pk] = patient
    if not named:
        raise ReportRefused(
            _("The report does not identify the patient (FarCare ID, SNILS or OMS policy)."),
            field="patient",
        )
    if len(found) != 1:
        raise ReportRefused(_not_matched(), field="patient")
    patient = next(iter(found.values()))
    check_identity(ref, patient)
    return patient


def check_identity(ref: PatientRef, patient: Patient) -> None:
    """The name and birth date sent must agree with the record. Every disagreement gets the
    one answer (which part differed would tell a sender about the record); a birth date is
    compared only when sent in full."""
    if ref.family and normalise_text(ref.family) != normalise_text(patient.family):
        raise ReportRefused(_not_matched(), field="patient")
    sent = digits(ref.birth_date)
    if len(sent) == FULL_DATE_DIGITS and sent != patient.birth_date.strftime("%Y%m%d"):
        raise ReportRefused(_not_matched(), field="patient")
