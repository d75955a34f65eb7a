"""The demo network: every settlement of shared/data as a facility, hubs, the Moscow federal
centre, the two Korean partners, ~40 practitioners, an account per role and a few patients.
The people, patients and specialties are data (`demo/data/*.csv`); loading twice changes nothing."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date, time, timedelta
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from farcare.accounts.models import Role, User
from farcare.network.importer import import_network_file
from farcare.network.models import (
    Facility,
    FacilityKind,
    Practitioner,
    PractitionerRole,
    PractitionerRoleKind,
    ReferralLink,
    Settlement,
    Specialty,
    WorkingHours,
)
from farcare.patients.identifiers import snils_check_number
from farcare.patients.models import Consent, ConsentKind, Patient

NETWORK_CSV = (
    Path(__file__).resolve().parent.parent / "network" / "data" / "far_east_settlements.csv"
)
DATA_DIR = Path(__file__).resolve().parent / "data"
DEMO_PASSWORD = "farcare-demo"  # noqa: S105 - printed by `make run`, documented in README

PARTNER_SPECIALTIES = ("oncology", "cardiology", "paediatrics", "radiology")


@dataclass(frozen=True)
class DemoPerson:
    username: str
    family: str
    given: str
    middle: str
    settlement: str
    kind: str  # FacilityKind of the workplace
    role_kind: str  # PractitionerRoleKind
    specialties: tuple[str, ...]
    languages: tuple[str, ...]
    account_role: str
    on_call_weekend: bool


def _rows(name: str) -> list[dict[str, str]]:
    with (DATA_DIR / name).open(encoding="utf-8", newline="") as data:
        return list(csv.DictReader(data))


def _list(value: str) -> tuple[str, ...]:
    return tuple(part for part in value.split(";") if part)


def specialties_data() -> list[tuple[str, str, str, str]]:
    """code, Russian, English and Korean names of each specialty (`data/specialties.csv`)."""
    return [
        (row["code"], row["name_ru"], row["name_en"], row["name_ko"])
        for row in _rows("specialties.csv")
    ]


def people_data() -> tuple[list[DemoPerson], list[tuple[str, str, str, str]]]:
    """The demo's practitioners (`data/people.csv`), and the accounts that are not
    practitioners (rows without a workplace): username, role, given name, family name."""
    people: list[DemoPerson] = []
    others: list[tuple[str, str, str, str]] = []
    for row in _rows("people.csv"):
        if not row["settlement"]:
            others.append((row["username"], row["account_role"], row["given"], row["family"]))
            continue
        people.append(
            DemoPerson(
                username=row["username"],
                family=row["family"],
                given=row["given"],
                middle=row["middle"],
                settlement=row["settlement"],
                kind=FacilityKind(row["facility_kind"]),
                role_kind=PractitionerRoleKind(row["role_kind"]),
                specialties=_list(row["specialties"]),
                languages=_list(row["languages"]),
                account_role=Role(row["account_role"]),
                on_call_weekend=row["on_call_weekend"] == "yes",
            )
        )
    return people, others


@dataclass(frozen=True)
class DemoPatient:
    family: str
    given: str
    middle: str
    sex: str
    birth_date: date
    settlement: str
    username: str  # the patient's own account, if the demo gives them one


def patients_data() -> list[DemoPatient]:
    """The demo's patients (`data/patients.csv`)."""
    return [
        DemoPatient(
            family=row["family"],
            given=row["given"],
            middle=row["middle"],
            sex=row["sex"],
            birth_date=date.fromisoformat(row["birth_date"]),
            settlement=row["settlement"],
            username=row["username"],
        )
        for row in _rows("patients.csv")
    ]


def demo_snils(serial: int) -> str:
    first_nine = f"{112_233_000 + serial * 7919:09d}"
    return f"{first_nine}{snils_check_number(first_nine):02d}"


def _facility(settlement: str, kind: str) -> Facility:
    return Facility.objects.get(settlement__name_en=settlement, kind=kind)


def _specialties() -> dict[str, Specialty]:
    result = {}
    for code, ru, en, ko in specialties_data():
        specialty, _created = Specialty.objects.update_or_create(
            code=code, defaults={"name_ru": ru, "name_en": en, "name_ko": ko}
        )
        result[code] = specialty
    return result


def _partner_links(specialties: dict[str, Specialty]) -> None:
    partners = list(Facility.objects.filter(kind=FacilityKind.PARTNER_ABROAD).order_by("name_en"))
    for hub in Facility.objects.filter(kind=FacilityKind.REGIONAL_HUB):
        for code in PARTNER_SPECIALTIES:
            for rank, partner in enumerate(partners, start=2):
                ReferralLink.objects.get_or_create(
                    source=hub, target=partner, specialty=specialties[code], defaults={"rank": rank}
                )


def _account(
    username: str, role: str, facility: Facility | None, given: str, family: str, language: str = ""
) -> User:
    user = User.objects.filter(username=username).first()
    if user is None:
        user = User(username=username)
        user.set_password(DEMO_PASSWORD)
    user.role = role
    user.facility = facility
    user.first_name = given
    user.last_name = family
    user.is_staff = user.is_superuser = role == Role.ADMINISTRATOR
    if language and not user.language:
        user.language = language
    user.save()
    return user


def _people(specialties: dict[str, Specialty], people: list[DemoPerson]) -> None:
    for person in people:
        facility = _facility(person.settlement, person.kind)
        language = "ko" if person.languages[0] == "ko" else ""
        user = _account(
            person.username, person.account_role, facility, person.given, person.family, language
        )
        practitioner, _created = Practitioner.objects.update_or_create(
            user=user,
            defaults={
                "family": person.family,
                "given": person.given,
                "middle": person.middle,
                "languages": list(person.languages),
            },
        )
        practitioner.specialties.set([specialties[code] for code in person.specialties])
        role, _created = PractitionerRole.objects.get_or_create(
            practitioner=practitioner, facility=facility, kind=person.role_kind
        )
        days = range(7) if person.on_call_weekend else range(5)
        for weekday in days:
            WorkingHours.objects.get_or_create(
                role=role, weekday=weekday, start=time(9, 0), end=time(18, 0)
            )


def _patients() -> None:
    clinician = User.objects.get(username="feldsher")
    for serial, person in enumerate(patients_data(), start=1):
        family, given, username = person.family, person.given, person.username
        settlement = Settlement.objects.get(name_en=person.settlement)
        facility = settlement.facilities.order_by("kind").first()
        assert facility is not None
        snils = demo_snils(serial)
        wanted = {
            "family": family,
            "given": given,
            "middle": person.middle,
            "sex": person.sex,
            "birth_date": person.birth_date,
            "home_settlement": settlement,
            "home_facility": facility,
            "oms_policy": f"{2790000000000000 + serial * 1013:016d}",
            "phone": f"+7 914 {100 + serial:03d}-{serial:02d}-{serial * 3 % 100:02d}",
        }
        if username:
            wanted["user"] = _account(username, Role.PATIENT, None, given, family)
        patient = Patient.objects.filter(snils=snils).first()
        if patient is None:
            patient = Patient(snils=snils, registered_by=clinician)
        # Saved only when something differs, so loading twice changes nothing at all.
        if patient.pk is None or any(getattr(patient, k) != v for k, v in wanted.items()):
            for name, value in wanted.items():
                setattr(patient, name, value)
            patient.save()
        for kind in (ConsentKind.TREATMENT, ConsentKind.TELECONSULTATION):
            Consent.objects.get_or_create(
                patient=patient,
                kind=kind,
                defaults={
                    "scope": "Informed voluntary consent, signed on paper at the post",
                    "recorded_by": clinician,
                },
            )


# The consultants of the README's table are on call round the clock: someone tries the demo at
# any hour, and with working hours alone the demo's emergencies would go to whichever hub has a
# consultant at work at that moment (at 07:00 in Khabarovsk, not the `cardiologist`).
ALWAYS_ON_CALL = ("cardiologist", "consultant_kr")


def _on_call_round_the_clock() -> None:
    from farcare.consults.models import OnCallShift

    now = timezone.now()
    for user in User.objects.filter(username__in=ALWAYS_ON_CALL):
        if not OnCallShift.objects.filter(consultant=user, ends_at__gt=now).exists():
            OnCallShift.objects.create(
                consultant=user,
                starts_at=now - timedelta(days=1),
                ends_at=now + timedelta(days=3650),
            )


@transaction.atomic
def load_demo(*, analytics: bool = True) -> list[tuple[str, str, str]]:
    """Load (or refresh) the demo network; returns the demo accounts: username, role, where.

    `analytics`: the year of past consultations and the figures computed from them
    (`demo/analytics.py`). The tests' copy of the demo leaves them out (restoring some twenty
    thousand more rows in every test that asks for the demo would cost seconds each); the tests
    of analytics load them on top."""
    import_network_file(NETWORK_CSV)
    specialties = _specialties()
    _partner_links(specialties)
    people, others = people_data()
    _people(specialties, people)
    _on_call_round_the_clock()
    for username, role, given, family in others:
        _account(username, role, None, given, family)
    _patients()
    from .consultations import load_consultations

    load_consultations()
    from .diagnostics import LABORATORY_USER, RADIOLOGIST_USER, load_diagnostics

    load_diagnostics()
    from .imaging import load_imaging

    load_imaging()
    from .scheduling import load_scheduling

    load_scheduling()
    from .training import load_training

    load_training()
    from .evacuation import load_evacuation

    load_evacuation()
    from .monitoring import load_monitoring

    load_monitoring()
    analysts = ["analyst"]
    if analytics:
        from .analytics import ANALYST_KR, load_analytics

        load_analytics()
        analysts.append(ANALYST_KR)
    accounts = []
    listed = [p.username for p in people[:6]] + [LABORATORY_USER, RADIOLOGIST_USER]
    for username in [*listed, "patient", *analysts, "admin"]:
        user = User.objects.select_related("facility").get(username=username)
        accounts.append(
            (username, user.get_role_display(), user.facility.name_en if user.facility else "")
        )
    return accounts
