from __future__ import annotations

from datetime import date

import factory

from farcare.accounts.models import Role, User
from farcare.network.models import (
    Facility,
    FacilityKind,
    LinkType,
    Organisation,
    Practitioner,
    ReferralLink,
    Settlement,
    Specialty,
)
from farcare.patients.identifiers import snils_check_number
from farcare.patients.models import Consent, ConsentKind, Patient

PASSWORD = "correct-horse-battery"


def valid_snils(n: int) -> str:
    first_nine = f"{200_000_000 + n * 7:09d}"
    return f"{first_nine}{snils_check_number(first_nine):02d}"


class SettlementFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Settlement

    name_en = factory.Sequence(lambda n: f"Settlement {n}")
    name_ru = factory.Sequence(lambda n: f"Посёлок {n}")
    region = "Chukotka"
    latitude = 64.7
    longitude = 177.5
    population = 1000
    time_zone = "Asia/Anadyr"


class OrganisationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organisation

    name_en = factory.Sequence(lambda n: f"Organisation {n}")
    name_ru = factory.Sequence(lambda n: f"Организация {n}")
    region = "Chukotka"


class FacilityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Facility

    name_en = factory.Sequence(lambda n: f"Facility {n}")
    name_ru = factory.Sequence(lambda n: f"Учреждение {n}")
    name_ko = factory.Sequence(lambda n: f"기관 {n}")
    kind = FacilityKind.FELDSHER_POST
    region = "Chukotka"
    organisation = factory.SubFactory(OrganisationFactory, region=factory.SelfAttribute("..region"))
    settlement = factory.SubFactory(
        SettlementFactory,
        region=factory.SelfAttribute("..region"),
        time_zone=factory.SelfAttribute("..time_zone"),
    )
    latitude = 64.7
    longitude = 177.5
    time_zone = "Asia/Anadyr"
    link_type = LinkType.VSAT
    bandwidth_kbps = 64
    rtt_ms = 650


class SpecialtyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Specialty
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"specialty-{n}")
    name_en = factory.LazyAttribute(lambda o: o.code.title())
    name_ru = factory.LazyAttribute(lambda o: o.code)
    name_ko = ""


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = "Анна"
    last_name = factory.Sequence(lambda n: f"Сотрудник{n}")
    role = Role.CLINICIAN
    facility = None
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def saved(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class PractitionerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Practitioner

    family = "Петров"
    given = "Пётр"
    languages = factory.LazyFunction(lambda: ["ru"])


class PatientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Patient

    family = "Иванов"
    given = "Иван"
    middle = "Иванович"
    sex = "male"
    birth_date = date(1970, 1, 1)
    home_facility = factory.SubFactory(FacilityFactory)
    home_settlement = factory.SelfAttribute("home_facility.settlement")
    snils = factory.Sequence(valid_snils)


class ConsentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Consent

    patient = factory.SubFactory(PatientFactory)
    kind = ConsentKind.TELECONSULTATION
    scope = "All teleconsultations"
    recorded_by = factory.SubFactory(UserFactory)


def link(source: Facility, target: Facility, rank: int = 1) -> ReferralLink:
    return ReferralLink.objects.create(source=source, target=target, rank=rank)
