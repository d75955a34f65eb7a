"""The demo network: every settlement of shared/data as a facility, hubs, the Moscow federal
centre, the two Korean partners, ~40 practitioners, an account per role and a few patients.
Loading it twice changes nothing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time
from pathlib import Path

from django.db import transaction

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
DEMO_PASSWORD = "farcare-demo"  # noqa: S105 - printed by `make run`, documented in README

SPECIALTIES = [
    ("cardiology", "Кардиология", "Cardiology", "심장내과"),
    ("neurology", "Неврология", "Neurology", "신경과"),
    ("paediatrics", "Педиатрия", "Paediatrics", "소아청소년과"),
    ("obstetrics", "Акушерство и гинекология", "Obstetrics and gynaecology", "산부인과"),
    ("surgery", "Хирургия", "Surgery", "외과"),
    ("traumatology", "Травматология и ортопедия", "Traumatology and orthopaedics", "정형외과"),
    ("oncology", "Онкология", "Oncology", "종양내과"),
    ("infectious", "Инфекционные болезни", "Infectious diseases", "감염내과"),
    ("psychiatry", "Психиатрия", "Psychiatry", "정신건강의학과"),
    ("pulmonology", "Пульмонология", "Pulmonology", "호흡기내과"),
    ("endocrinology", "Эндокринология", "Endocrinology", "내분비내과"),
    ("radiology", "Рентгенология", "Radiology", "영상의학과"),
    ("dermatology", "Дерматовенерология", "Dermatology", "피부과"),
    ("ophthalmology", "Офтальмология", "Ophthalmology", "안과"),
]

# Specialties the Korean partners are routed for, as backups after the federal centre.
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
    account_role: str = Role.CONSULTANT
    on_call_weekend: bool = False


RU = ("ru",)
RU_EN = ("ru", "en")
KO_EN = ("ko", "en")

PEOPLE: list[DemoPerson] = [
    # The demo accounts, one per role (see README).
    DemoPerson(
        "feldsher",
        "Рультытегина",
        "Анна",
        "Петровна",
        "Uelen",
        FacilityKind.FELDSHER_POST,
        PractitionerRoleKind.FELDSHER,
        (),
        RU,
        Role.CLINICIAN,
    ),
    DemoPerson(
        "doctor",
        "Кузнецов",
        "Игорь",
        "Васильевич",
        "Lavrentiya",
        FacilityKind.DISTRICT_HOSPITAL,
        PractitionerRoleKind.DOCTOR,
        ("surgery",),
        RU,
        Role.CLINICIAN,
    ),
    DemoPerson(
        "cardiologist",
        "Ли",
        "Виктор",
        "Сергеевич",
        "Khabarovsk",
        FacilityKind.REGIONAL_HUB,
        PractitionerRoleKind.CONSULTANT,
        ("cardiology",),
        ("ru", "ko", "en"),
        Role.CONSULTANT,
        True,
    ),
    DemoPerson(
        "consultant_kr",
        "김",
        "민준",
        "",
        "Seongnam (Bundang)",
        FacilityKind.PARTNER_ABROAD,
        PractitionerRoleKind.CONSULTANT,
        ("oncology",),
        KO_EN,
    ),
    DemoPerson(
        "coordinator",
        "Тынеро",
        "Мария",
        "Ивановна",
        "Anadyr",
        FacilityKind.REGIONAL_HUB,
        PractitionerRoleKind.COORDINATOR,
        (),
        RU_EN,
        Role.COORDINATOR,
    ),
    DemoPerson(
        "trainer",
        "Сивцева",
        "Аграфена",
        "Николаевна",
        "Yakutsk",
        FacilityKind.REGIONAL_HUB,
        PractitionerRoleKind.TRAINER,
        ("paediatrics",),
        RU_EN,
        Role.TRAINER,
    ),
    # Consultants at the regional hubs.
    DemoPerson(
        "hub_anadyr_surgeon",
        "Омрынто",
        "Алексей",
        "Викторович",
        "Anadyr",
        FacilityKind.REGIONAL_HUB,
        PractitionerRoleKind.CONSULTANT,
        ("surgery", "traumatology"),
        RU,
    ),
    DemoPerson(
        "hub_anadyr_paed",
        "Смирнова",
        "Ольга",
        "Андреевна",
        "Anadyr",
        FacilityKind.REGIONAL_HUB,
        PractitionerRoleKind.CONSULTANT,
        ("paediatrics",),
        RU_EN,
        Role.CONSULTANT,
        True,
    ),
    DemoPerson(
        "hub_pk_cardio",
        "Волков",
        "Дмитрий",
        "Олегович",
        "Petropavlovsk-Kamchatsky",
        FacilityKind.REGIONAL_HUB,
        PractitionerRoleKind.CONSULTANT,
        ("cardiology",),
        RU_EN,
    ),
    DemoPerson(
        "hub_pk_neuro",
        "Белова",
        "Ирина",
        "Максимовна",
        "Petropavlovsk-Kamchatsky",
        FacilityKind.REGIONAL_HUB,
        PractitionerRoleKind.CONSULTANT,
        ("neurology",),
        RU,
    ),
    DemoPerson(
        "hub_magadan_obst",
        "Егорова",
        "Наталья",
        "Павловна",
        "Magadan",
        FacilityKind.REGIONAL_HUB,
        PractitionerRoleKind.CONSULTANT,
        ("obstetrics",),
        RU,
    ),
    DemoPerson(
        "hub_magadan_infect",
        "Орлов",
        "Сергей",
        "Юрьевич",
        "Magadan",
        FacilityKind.REGIONAL_HUB,
        PractitionerRoleKind.CONSULTANT,
        ("infectious", "pulmonology"),
        RU_EN,
    ),
    DemoPerson(
        "hub_yakutsk_cardio",
        "Николаев",
        "Айсен",
        "Прокопьевич",
        "Yakutsk",
        FacilityKind.REGIONAL_HUB,
        PractitionerRoleKind.CONSULTANT,
        ("cardiology",),
        RU_EN,
        Role.CONSULTANT,
        True,
    ),
    DemoPerson(
        "hub_yakutsk_trauma",
        "Готовцев",
        "Семён",
        "Семёнович",
        "Yakutsk",
        FacilityKind.REGIONAL_HUB,
        PractitionerRoleKind.CONSULTANT,
        ("traumatology", "surgery"),
        RU,
    ),
    DemoPerson(
        "hub_yakutsk_psych",
        "Аммосова",
        "Сардана",
        "Ивановна",
        "Yakutsk",
        FacilityKind.REGIONAL_HUB,
        PractitionerRoleKind.CONSULTANT,
        ("psychiatry",),
        RU,
    ),
    DemoPerson(
        "hub_khab_neuro",
        "Ким",
        "Елена",
        "Алексеевна",
        "Khabarovsk",
        FacilityKind.REGIONAL_HUB,
        PractitionerRoleKind.CONSULTANT,
        ("neurology",),
        ("ru", "ko"),
    ),
    DemoPerson(
        "hub_khab_endo",
        "Фёдорова",
        "Алёна",
        "Игоревна",
        "Khabarovsk",
        FacilityKind.REGIONAL_HUB,
        PractitionerRoleKind.CONSULTANT,
        ("endocrinology",),
        RU,
    ),
    DemoPerson(
        "hub_vlad_radiology",
        "Пак",
        "Андрей",
        "Ильич",
        "Vladivostok",
        FacilityKind.REGIONAL_HUB,
        PractitionerRoleKind.CONSULTANT,
        ("radiology",),
        ("ru", "ko", "en"),
    ),
    DemoPerson(
        "hub_vlad_derm",
        "Соколова",
        "Вера",
        "Николаевна",
        "Vladivostok",
        FacilityKind.REGIONAL_HUB,
        PractitionerRoleKind.CONSULTANT,
        ("dermatology",),
        RU,
    ),
    DemoPerson(
        "hub_blag_ophth",
        "Зайцев",
        "Павел",
        "Андреевич",
        "Blagoveshchensk",
        FacilityKind.REGIONAL_HUB,
        PractitionerRoleKind.CONSULTANT,
        ("ophthalmology",),
        RU,
    ),
    DemoPerson(
        "hub_sakhalin_pulm",
        "Цой",
        "Марина",
        "Вячеславовна",
        "Yuzhno-Sakhalinsk",
        FacilityKind.REGIONAL_HUB,
        PractitionerRoleKind.CONSULTANT,
        ("pulmonology",),
        ("ru", "ko"),
    ),
    DemoPerson(
        "hub_sakhalin_paed",
        "Морозова",
        "Светлана",
        "Петровна",
        "Yuzhno-Sakhalinsk",
        FacilityKind.REGIONAL_HUB,
        PractitionerRoleKind.CONSULTANT,
        ("paediatrics",),
        RU,
    ),
    # The federal centre.
    DemoPerson(
        "nmic_cardio",
        "Алексеев",
        "Михаил",
        "Борисович",
        "Moscow",
        FacilityKind.FEDERAL_CENTRE,
        PractitionerRoleKind.CONSULTANT,
        ("cardiology",),
        RU_EN,
    ),
    DemoPerson(
        "nmic_onco",
        "Романова",
        "Татьяна",
        "Викторовна",
        "Moscow",
        FacilityKind.FEDERAL_CENTRE,
        PractitionerRoleKind.CONSULTANT,
        ("oncology",),
        RU_EN,
    ),
    DemoPerson(
        "nmic_neuro",
        "Гусев",
        "Андрей",
        "Львович",
        "Moscow",
        FacilityKind.FEDERAL_CENTRE,
        PractitionerRoleKind.CONSULTANT,
        ("neurology",),
        RU_EN,
    ),
    DemoPerson(
        "nmic_paed",
        "Лебедева",
        "Анна",
        "Сергеевна",
        "Moscow",
        FacilityKind.FEDERAL_CENTRE,
        PractitionerRoleKind.CONSULTANT,
        ("paediatrics",),
        RU,
    ),
    DemoPerson(
        "nmic_obst",
        "Ковалёва",
        "Юлия",
        "Дмитриевна",
        "Moscow",
        FacilityKind.FEDERAL_CENTRE,
        PractitionerRoleKind.CONSULTANT,
        ("obstetrics",),
        RU_EN,
    ),
    # The Korean partners.
    DemoPerson(
        "bundang_cardio",
        "이",
        "서연",
        "",
        "Seongnam (Bundang)",
        FacilityKind.PARTNER_ABROAD,
        PractitionerRoleKind.CONSULTANT,
        ("cardiology",),
        KO_EN,
    ),
    DemoPerson(
        "bundang_radio",
        "박",
        "지훈",
        "",
        "Seongnam (Bundang)",
        FacilityKind.PARTNER_ABROAD,
        PractitionerRoleKind.CONSULTANT,
        ("radiology",),
        ("ko", "en", "ru"),
    ),
    DemoPerson(
        "sinchon_onco",
        "최",
        "수아",
        "",
        "Seoul (Sinchon)",
        FacilityKind.PARTNER_ABROAD,
        PractitionerRoleKind.CONSULTANT,
        ("oncology",),
        KO_EN,
    ),
    DemoPerson(
        "sinchon_paed",
        "정",
        "하준",
        "",
        "Seoul (Sinchon)",
        FacilityKind.PARTNER_ABROAD,
        PractitionerRoleKind.CONSULTANT,
        ("paediatrics",),
        KO_EN,
    ),
    # Requesting clinicians at posts and district hospitals.
    DemoPerson(
        "fel_lorino",
        "Кымын",
        "Галина",
        "Ивановна",
        "Lorino",
        FacilityKind.FELDSHER_POST,
        PractitionerRoleKind.FELDSHER,
        (),
        RU,
        Role.CLINICIAN,
    ),
    DemoPerson(
        "fel_esso",
        "Адуканова",
        "Ольга",
        "Петровна",
        "Esso",
        FacilityKind.FELDSHER_POST,
        PractitionerRoleKind.FELDSHER,
        (),
        RU,
        Role.CLINICIAN,
    ),
    DemoPerson(
        "fel_oymyakon",
        "Винокуров",
        "Иван",
        "Егорович",
        "Oymyakon",
        FacilityKind.FELDSHER_POST,
        PractitionerRoleKind.FELDSHER,
        (),
        RU,
        Role.CLINICIAN,
    ),
    DemoPerson(
        "fel_ayan",
        "Громова",
        "Людмила",
        "Фёдоровна",
        "Ayan",
        FacilityKind.FELDSHER_POST,
        PractitionerRoleKind.FELDSHER,
        (),
        RU,
        Role.CLINICIAN,
    ),
    DemoPerson(
        "fel_kurilsk",
        "Тен",
        "Валентина",
        "Олеговна",
        "Kurilsk",
        FacilityKind.FELDSHER_POST,
        PractitionerRoleKind.FELDSHER,
        (),
        ("ru", "ko"),
        Role.CLINICIAN,
    ),
    DemoPerson(
        "doc_pevek",
        "Иванов",
        "Николай",
        "Петрович",
        "Pevek",
        FacilityKind.DISTRICT_HOSPITAL,
        PractitionerRoleKind.DOCTOR,
        ("surgery",),
        RU,
        Role.CLINICIAN,
    ),
    DemoPerson(
        "doc_tiksi",
        "Слепцова",
        "Мария",
        "Егоровна",
        "Tiksi",
        FacilityKind.DISTRICT_HOSPITAL,
        PractitionerRoleKind.DOCTOR,
        ("paediatrics",),
        RU,
        Role.CLINICIAN,
    ),
    DemoPerson(
        "doc_okhotsk",
        "Попов",
        "Артём",
        "Викторович",
        "Okhotsk",
        FacilityKind.DISTRICT_HOSPITAL,
        PractitionerRoleKind.DOCTOR,
        ("traumatology",),
        RU_EN,
        Role.CLINICIAN,
    ),
    DemoPerson(
        "coord_yakutsk",
        "Петров",
        "Егор",
        "Афанасьевич",
        "Yakutsk",
        FacilityKind.REGIONAL_HUB,
        PractitionerRoleKind.COORDINATOR,
        (),
        RU,
        Role.COORDINATOR,
    ),
    DemoPerson(
        "coord_khabarovsk",
        "Юн",
        "Ксения",
        "Романовна",
        "Khabarovsk",
        FacilityKind.REGIONAL_HUB,
        PractitionerRoleKind.COORDINATOR,
        (),
        ("ru", "ko"),
        Role.COORDINATOR,
    ),
]

# Accounts that are not practitioners.
OTHER_ACCOUNTS = [
    ("analyst", Role.ANALYST, "Ольга", "Минздравова"),
    ("admin", Role.ADMINISTRATOR, "Админ", "Системы"),
]


def demo_snils(serial: int) -> str:
    first_nine = f"{112_233_000 + serial * 7919:09d}"
    return f"{first_nine}{snils_check_number(first_nine):02d}"


DEMO_PATIENTS = [
    # family, given, middle, sex, birth date, settlement, account username
    ("Тынетегин", "Семён", "Петрович", "male", date(1961, 3, 14), "Uelen", "patient"),
    ("Рультына", "Ольга", "Семёновна", "female", date(1988, 7, 2), "Uelen", ""),
    ("Ётылин", "Алексей", "Иванович", "male", date(1975, 11, 23), "Lorino", ""),
    ("Нутэвги", "Дарья", "Андреевна", "female", date(2019, 1, 9), "Lavrentiya", ""),
    ("Кергинто", "Пётр", "Юрьевич", "male", date(1954, 5, 30), "Enurmino", ""),
    ("Слепцов", "Николай", "Гаврильевич", "male", date(1969, 2, 11), "Oymyakon", ""),
    ("Винокурова", "Алёна", "Егоровна", "female", date(1993, 9, 17), "Tiksi", ""),
    ("Ким", "Сергей", "Николаевич", "male", date(1958, 12, 1), "Kurilsk", ""),
    ("Адуканов", "Виктор", "Павлович", "male", date(1982, 4, 4), "Esso", ""),
    ("Громов", "Иван", "Ильич", "male", date(2001, 6, 21), "Ayan", ""),
    ("Пак", "Мин Со", "", "female", date(1977, 8, 8), "Okhotsk", ""),
    ("Ёлкина", "Светлана", "Андреевна", "female", date(1990, 10, 10), "Pevek", ""),
]


def _facility(settlement: str, kind: str) -> Facility:
    return Facility.objects.get(settlement__name_en=settlement, kind=kind)


def _specialties() -> dict[str, Specialty]:
    result = {}
    for code, ru, en, ko in SPECIALTIES:
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


def _people(specialties: dict[str, Specialty]) -> None:
    for person in PEOPLE:
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
    for serial, (family, given, middle, sex, born, settlement_name, username) in enumerate(
        DEMO_PATIENTS, start=1
    ):
        settlement = Settlement.objects.get(name_en=settlement_name)
        facility = settlement.facilities.order_by("kind").first()
        assert facility is not None
        snils = demo_snils(serial)
        wanted = {
            "family": family,
            "given": given,
            "middle": middle,
            "sex": sex,
            "birth_date": born,
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


@transaction.atomic
def load_demo() -> list[tuple[str, str, str]]:
    """Load (or refresh) the demo network; returns the demo accounts: username, role, where."""
    import_network_file(NETWORK_CSV)
    specialties = _specialties()
    _partner_links(specialties)
    _people(specialties)
    for username, role, given, family in OTHER_ACCOUNTS:
        _account(username, role, None, given, family)
    _patients()
    from .consultations import load_consultations

    load_consultations()
    accounts = []
    for username in [p.username for p in PEOPLE[:6]] + ["patient", "analyst", "admin"]:
        user = User.objects.select_related("facility").get(username=username)
        accounts.append(
            (username, user.get_role_display(), user.facility.name_en if user.facility else "")
        )
    return accounts
