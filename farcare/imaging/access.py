"""Who may open an imaging study, and whether its patient is shown or pseudonymised, on top of
the one access policy (`farcare.access.policy`).

- A radiologist reads the studies whose `reading_facility` is their facility: allowed, and
  pseudonymised when the facility is abroad (a reader abroad never sees identity, as a
  consultant abroad reads a pseudonymised case) — and abroad only with the patient's consent
  to transfer abroad on record (not revoked);
- anyone else as the policy decides for the patient (`decide(user, VIEW, patient)`: the
  ordering clinicians, a coordinator, break-glass), never abroad.

`decide_study` and `visible_studies` must agree (tests/imaging/test_reading_access.py).
The lead may move both into access.policy beside `decide_consult`."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from farcare.access.policy import Action, decide, is_abroad, visible_patients
from farcare.accounts.models import Role, User
from farcare.patients.models import ConsentKind, Patient

from .models import ImagingStudy

__all__ = [
    "StudyView",
    "consents_to_transfer_abroad",
    "decide_study",
    "is_reader",
    "visible_studies",
]


@dataclass(frozen=True)
class StudyView:
    allowed: bool
    pseudonymised: bool = False
    reader: bool = False  # may claim it and sign its report
    reason: str = ""


def _active(user: User | None) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active)


def is_reader(user: User | None, study: ImagingStudy) -> bool:
    return (
        _active(user)
        and user is not None
        and user.role == Role.RADIOLOGIST
        and user.facility_id is not None
        and study.reading_facility_id == user.facility_id
    )


def consents_to_transfer_abroad(patient: Patient) -> bool:
    """The patient's consent to the transfer of their data abroad is on record, not revoked."""
    return patient.consents.filter(
        kind=ConsentKind.TRANSFER_ABROAD, revoked_at__isnull=True
    ).exists()


def _consenting_abroad() -> QuerySet[Patient]:
    return Patient.objects.filter(
        consents__kind=ConsentKind.TRANSFER_ABROAD, consents__revoked_at__isnull=True
    )


def decide_study(user: User | None, study: ImagingStudy) -> StudyView:
    if is_reader(user, study):
        assert user is not None
        if not is_abroad(user):
            return StudyView(True, reader=True)
        if not consents_to_transfer_abroad(study.patient):
            return StudyView(
                False,
                reason=_(
                    "The patient has not consented to the transfer of their data abroad; "
                    "this study is not read abroad."
                ),
            )
        return StudyView(True, pseudonymised=True, reader=True)
    decision = decide(user, Action.VIEW, study.patient)
    if decision:
        return StudyView(True)
    return StudyView(False, reason=decision.reason)


def visible_studies(user: User | None) -> QuerySet[ImagingStudy]:
    if not _active(user):
        return ImagingStudy.objects.none()
    assert user is not None
    if user.role == Role.RADIOLOGIST:
        if user.facility_id is None:
            return ImagingStudy.objects.none()
        studies = ImagingStudy.objects.filter(reading_facility_id=user.facility_id)
        if is_abroad(user):
            studies = studies.filter(patient__in=_consenting_abroad())
        return studies
    return ImagingStudy.objects.filter(patient__in=visible_patients(user))
