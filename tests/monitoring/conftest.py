"""A small monitoring scene for the tests of remote monitoring (issue 17), on the Chukotka chain
of tests/conftest.py (Uelen post → Lavrentiya district hospital → Anadyr regional hospital):

- `mon.feldsher` works at the post, `mon.doctor` at the district hospital (the district
  doctor), `mon.other_doctor` too (told on escalation), `mon.coordinator` at the regional
  hospital (the region's coordinator);
- `mon.patient` lives at the post and has an account (`mon.patient_user`);
- `mon.enrolment` puts them in the hypertension programme (the template plan: ≥ 180/110 at once
  is urgent, ≥ 160/100 twice in a row is "watch", pressure daily, missed after 36 hours),
  enrolled 20 hours ago after a visit today, feldsher and doctor named (so readings of the
  last hours count, and no reading is missed before the watch moves the clock 36 hours on).

Helpers: `mon.bp(150, 95, hours_ago=2)` records a blood pressure typed by the feldsher,
`mon.weight("71.0", hours_ago=...)`, `mon.record(ReadingIn(...), accessor=...)` anything else;
`mon.enrol(programme)` enrols the patient in another programme.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from farcare.accounts.models import Role, User
from farcare.audit.services import Accessor
from farcare.monitoring.measures import Code
from farcare.monitoring.models import Enrolment, ReadingSource
from farcare.monitoring.services.enrolment import enrol
from farcare.monitoring.services.readings import ReadingIn, RecordResult, reading_record
from farcare.patients.models import Patient

from ..conftest import Chain, make_user
from ..factories import PatientFactory


def VISITED_ON() -> date:
    """Yesterday in UTC: a date already past in every zone of the network (UTC+3 to UTC+12),
    whatever the machine's own zone and hour. `date.today()` is the machine's date, which can be
    tomorrow in Yakutsk's eyes (the CI ran when it was)."""
    return timezone.now().date() - timedelta(days=1)


@dataclass
class MonitoringScene:
    chain: Chain
    feldsher: User
    doctor: User
    other_doctor: User
    coordinator: User
    patient: Patient
    patient_user: User
    enrolment: Enrolment

    def as_(self, user: User | None = None) -> Accessor:
        return Accessor(user or self.feldsher, "127.0.0.1")

    def enrol(self, programme: str, **kwargs: Any) -> Enrolment:
        by = kwargs.pop("by", self.feldsher)
        return enrol(
            accessor=self.as_(by),
            patient=kwargs.pop("patient", self.patient),
            programme=programme,
            responsible_feldsher=kwargs.pop("responsible_feldsher", self.feldsher),
            responsible_doctor=kwargs.pop("responsible_doctor", self.doctor),
            in_person_visit_on=kwargs.pop("in_person_visit_on", VISITED_ON()),
            at=kwargs.pop("at", timezone.now() - timedelta(hours=20)),
            **kwargs,
        )

    def record(self, *readings: ReadingIn, by: User | None = None, **kwargs: Any) -> RecordResult:
        return reading_record(
            accessor=kwargs.pop("accessor", None) or self.as_(by),
            patient=kwargs.pop("patient", self.patient),
            readings=list(readings),
            source=kwargs.pop("source", ReadingSource.CLINICIAN),
            **kwargs,
        )

    def bp(self, systolic: int, diastolic: int, *, hours_ago: float = 0, **kw: Any) -> RecordResult:
        taken = timezone.now() - timedelta(hours=hours_ago)
        return self.record(
            ReadingIn(Code.BP_PANEL.value, Decimal(systolic), Decimal(diastolic), taken), **kw
        )

    def weight(self, kg: str, *, hours_ago: float = 0, **kw: Any) -> RecordResult:
        taken = timezone.now() - timedelta(hours=hours_ago)
        return self.record(ReadingIn(Code.WEIGHT.value, Decimal(kg), None, taken), **kw)


@pytest.fixture
def mon(chain: Chain) -> MonitoringScene:
    patient_user = make_user(Role.PATIENT, None, language="en")
    patient = PatientFactory(
        home_facility=chain.post, family="Рультына", given="Анна", user=patient_user
    )
    feldsher = make_user(Role.CLINICIAN, chain.post, language="en")
    doctor = make_user(Role.CLINICIAN, chain.district, language="en")
    scene = MonitoringScene(
        chain=chain,
        feldsher=feldsher,
        doctor=doctor,
        other_doctor=make_user(Role.CLINICIAN, chain.district, language="en"),
        coordinator=make_user(Role.COORDINATOR, chain.hub, language="en"),
        patient=patient,
        patient_user=patient_user,
        enrolment=None,  # type: ignore[arg-type]
    )
    scene.enrolment = scene.enrol("hypertension")
    return scene


__all__ = ["MonitoringScene"]
