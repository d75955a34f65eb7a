"""Writes of patients and consents. Each call authorises through the access policy and audits
the change in the same transaction, so a change without an audit record cannot exist."""

from __future__ import annotations

import uuid as uuid_lib
from datetime import date
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from farcare.access.policy import Action, facilities_for_registration
from farcare.access.services import require
from farcare.audit.models import AuditAction
from farcare.audit.services import Accessor, audit_record
from farcare.core.ports import replication
from farcare.network.models import Facility

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
    if not facilities_for_registration(accessor.user).filter(pk=facility.pk).exists():
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
