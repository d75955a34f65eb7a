"""Remote monitoring in the demo network (issue 17): four people of Chukotka followed at home for
two weeks, their feldsher at Uelen (or Lorino) and the district doctor at Lavrentiya named
responsible.

- Семён Тынетегин (Uelen, the `patient` account): hypertension; twice-daily pressures around
  145/90, and this morning 186/112 typed on his own page: an urgent alert, open.
- Ольга Рультына (Uelen): pregnancy; she sends her pressure by SMS from a registered phone
  ("АД 128/82 П 76"); this morning's 148/96 alerted the doctor, who acknowledged it.
- Алексей Ётылин (Lorino): heart failure; his scale's weight rose 2.4 kg in three days: a trend
  alert nobody acknowledged in time, escalated to the district hospital and the coordinator.
- Пётр Кергинто (Enurmino): diabetes; glucose each morning, within his band: no alert. The demo
  has no feldsher at Enurmino, so the district doctor is named for both roles (the Uelen
  feldsher is outside Enurmino's referral chain and may not be named).

The two weeks of history are written as rows (the readings as the services would have stored
them); the last readings of each person go through the services, so the rules, the alerts, the
risk on the lists and the SMS replies are what FarCare makes of them now. Loading twice changes
nothing: an active enrolment of the first person means the demo is there."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from farcare.accounts.models import User
from farcare.audit.services import Accessor
from farcare.monitoring.measures import Code
from farcare.monitoring.models import (
    AlertStatus,
    Enrolment,
    EnrolmentStatus,
    HomeReading,
    MonitoringAlert,
    ReadingSource,
)
from farcare.monitoring.services.alerts import alert_acknowledge
from farcare.monitoring.services.enrolment import enrol, phone_register
from farcare.monitoring.services.readings import ReadingIn, reading_record
from farcare.monitoring.sms_inbound import sms_receive
from farcare.patients.models import Patient

SEED = 17
DAYS = 14  # of history
PREGNANCY_PHONE = "+79141110101"
SCALE = "Весы A&D UC-411 (Bluetooth, шлюз поста Лорино)"


@dataclass(frozen=True)
class Person:
    family: str
    programme: str
    feldsher: str
    note: str


PEOPLE = (
    Person(
        "Тынетегин",
        "hypertension",
        "feldsher",
        "Амлодипин 5 мг утром. Давление утром и вечером, после 5 минут отдыха.",
    ),
    Person(
        "Рультына",
        "pregnancy",
        "feldsher",
        "Беременность 28 недель. Давление по SMS утром и вечером; при головной боли — сразу.",
    ),
    Person(
        "Ётылин",
        "heart_failure",
        "fel_lorino",
        "ХСН II ФК. Взвешивание каждое утро натощак; сухой вес 78 кг.",
    ),
    Person(
        "Кергинто",
        "diabetes",
        "doctor",
        "Сахарный диабет 2 типа, метформин. Глюкоза натощак каждое утро.",
    ),
)


def _user(username: str) -> User:
    return User.objects.get(username=username)


def _history(
    patient: Patient,
    code: Code,
    values: Sequence[tuple[datetime, Decimal, Decimal | None]],
    source: str,
    device: str = "",
    entered_by: User | None = None,
) -> None:
    """Readings of the past as the services stored them (received when taken)."""
    unit = {"85354-9": "mm[Hg]", "29463-7": "kg", "14743-9": "mmol/L"}[code.value]
    HomeReading.objects.bulk_create(
        HomeReading(
            patient=patient,
            code=code.value,
            value=value,
            value_2=value_2,
            unit=unit,
            taken_at=at,
            received_at=at + timedelta(minutes=1),
            source=source,
            device=device,
            entered_by=entered_by,
        )
        for at, value, value_2 in values
    )


def _days(now: datetime, hour: int, *, before: timedelta = timedelta(0)) -> list[datetime]:
    """Each morning (or evening) of the history, in UTC, ending yesterday; a day earlier when
    yesterday's would come less than `before` ahead of now (a reading the demo then records,
    `before` ago, must be the newest whatever the hour the demo is loaded at)."""
    today = now.replace(minute=0, second=0, microsecond=0)
    days = [today - timedelta(days=back, hours=today.hour - hour) for back in range(DAYS, 0, -1)]
    if days[-1] > now - before:
        days = [day - timedelta(days=1) for day in days]
    return days


def _enrol(person: Person, now: datetime) -> Enrolment:
    patient = Patient.objects.get(family=person.family)
    feldsher = _user(person.feldsher)
    # The district doctor enrols: every post of the demo's people is in the district.
    return enrol(
        accessor=Accessor(_user("doctor"), None, "demo"),
        patient=patient,
        programme=person.programme,
        responsible_feldsher=feldsher,
        responsible_doctor=_user("doctor"),
        in_person_visit_on=(now - timedelta(days=DAYS + 2)).date(),
        note=person.note,
        at=now - timedelta(days=DAYS + 1),
    )


def _hypertension(enrolment: Enrolment, now: datetime, rng: random.Random) -> None:
    patient = enrolment.patient
    pressures = []
    for hour in (20, 8):  # UTC: the morning and the evening in Chukotka (UTC+12)
        for at in _days(now, hour):
            pressures.append((at, Decimal(rng.randint(138, 152)), Decimal(rng.randint(84, 94))))
    _history(patient, Code.BP_PANEL, sorted(pressures), ReadingSource.PATIENT)
    assert patient.user is not None
    reading_record(
        accessor=Accessor(patient.user, None, "demo"),
        patient=patient,
        readings=[
            ReadingIn(
                Code.BP_PANEL.value,
                Decimal(186),
                Decimal(112),
                taken_at=now - timedelta(hours=2),
                note="Болит затылок",
            )
        ],
        source=ReadingSource.PATIENT,
    )


def _pregnancy(enrolment: Enrolment, now: datetime, rng: random.Random) -> None:
    patient = enrolment.patient
    feldsher = enrolment.responsible_feldsher
    pressures = [
        (at, Decimal(rng.randint(112, 128)), Decimal(rng.randint(70, 82)))
        for at in _days(now, 21)
        if at < now - timedelta(days=2)
    ]
    _history(patient, Code.BP_PANEL, pressures, ReadingSource.CLINICIAN, entered_by=feldsher)
    phone_register(
        accessor=Accessor(feldsher, None, "demo"),
        patient=patient,
        number=PREGNANCY_PHONE,
        language="ru",
    )
    texts = [
        (now - timedelta(hours=30), "АД 126/80 П 78"),
        (now - timedelta(hours=26), "ад 130/84 пульс 80"),
        (now - timedelta(hours=14), "АД 132/85 П 82"),
        (now - timedelta(hours=3), "АД 148/96 П 88"),
    ]
    for index, (at, text) in enumerate(texts, start=1):
        sms_receive(
            gateway_id=f"demo-sms-{index}", sender=PREGNANCY_PHONE, text=text, received_at=at
        )
    alert = (
        MonitoringAlert.objects.filter(enrolment=enrolment, status=AlertStatus.OPEN)
        .order_by("-raised_at")
        .first()
    )
    if alert is not None:
        alert_acknowledge(
            accessor=Accessor(alert.recipient, None, "demo"),
            alert=alert,
            note=(
                "Позвонил: повторно 138/88, белка в моче нет по тест-полоске. Завтра на приём "
                "к фельдшеру, при ухудшении — санавиация в Анадырь."
            ),
        )


def _heart_failure(enrolment: Enrolment, now: datetime, rng: random.Random) -> None:
    patient = enrolment.patient
    # The history ends before the scale's reading of eight hours ago (loaded after midnight
    # UTC, yesterday's 20:00 is later than that).
    days = _days(now, 20, before=timedelta(hours=9))
    weights = [Decimal("78.0") + Decimal(rng.randint(-3, 3)) / 10 for _day in days]
    # The last three mornings: fluid coming back.
    weights[-3:] = [Decimal("78.1"), Decimal("78.9"), Decimal("79.7")]
    _history(
        patient,
        Code.WEIGHT,
        list(zip(days, weights, [None] * len(days), strict=True)),
        ReadingSource.DEVICE,
        device=SCALE,
    )
    reading_record(
        accessor=Accessor(enrolment.responsible_feldsher, None, "demo"),
        patient=patient,
        readings=[ReadingIn(Code.WEIGHT.value, Decimal("80.5"), taken_at=now - timedelta(hours=8))],
        source=ReadingSource.DEVICE,
        device=SCALE,
        source_id="urn:farcare:demo:scale|lorino-0001",
    )
    # Nobody acknowledged it within its four hours: the watch escalated it.
    for alert in MonitoringAlert.objects.filter(enrolment=enrolment, status=AlertStatus.OPEN):
        _escalate(alert, raised=now - timedelta(hours=7), now=now)


def _escalate(alert: MonitoringAlert, *, raised: datetime, now: datetime) -> None:
    from farcare.monitoring import notices
    from farcare.monitoring.watch import escalation_recipients
    from farcare.monitoring.workflow import Side, apply

    # The alert was raised when the reading came in, seven hours ago.
    MonitoringAlert.objects.filter(pk=alert.pk).update(
        raised_at=raised, ack_deadline=raised + (alert.ack_deadline - alert.raised_at)
    )
    alert.events.filter(event="raise").update(at=raised)
    alert.refresh_from_db()
    with transaction.atomic():
        told = notices.alert_escalated(alert, escalation_recipients(alert))
        apply(
            alert,
            "escalate",
            sides={Side.SYSTEM},
            actor=None,
            at=alert.ack_deadline + timedelta(minutes=5),
            data={"told": [str(user.uuid) for user in told]},
        )


def _diabetes(enrolment: Enrolment, now: datetime, rng: random.Random) -> None:
    patient = enrolment.patient
    glucose = [(at, Decimal(rng.randint(58, 92)) / 10, None) for at in _days(now, 19)]
    _history(patient, Code.GLUCOSE, glucose, ReadingSource.PATIENT)
    reading_record(
        accessor=Accessor(enrolment.responsible_feldsher, None, "demo"),
        patient=patient,
        readings=[
            ReadingIn(
                Code.GLUCOSE.value,
                Decimal("7.4"),
                taken_at=now - timedelta(hours=5),
                note="Глюкометр показал 7,4; передал по телефону",
            )
        ],
        source=ReadingSource.CLINICIAN,
    )


STORIES = {
    "hypertension": _hypertension,
    "pregnancy": _pregnancy,
    "heart_failure": _heart_failure,
    "diabetes": _diabetes,
}


@transaction.atomic
def load_monitoring() -> None:
    first = Patient.objects.get(family=PEOPLE[0].family)
    if Enrolment.objects.filter(patient=first, status=EnrolmentStatus.ACTIVE).exists():
        return
    rng = random.Random(SEED)
    now = timezone.now()
    for person in PEOPLE:
        enrolment = _enrol(person, now)
        STORIES[person.programme](enrolment, now, rng)
