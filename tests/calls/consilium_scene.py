"""A consilium consultation ready for a call: a feldsher at Uelen asks two cardiologists (the
regional hub and the federal centre) in real time; the hub's cardiologist accepted. A Korean
cardiologist and a coordinator stand by for the tests of who may join.

Used by tests/calls and tests/browser/test_consilium_story.py."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import time

from farcare.accounts.models import Role, User
from farcare.audit.services import Accessor
from farcare.consults.models import (
    Assignment,
    AssignmentRole,
    Consultation,
    ConsultMode,
    RoutingRule,
)
from farcare.consults.services import RequestData, consult_accept, consult_submit
from farcare.network.models import (
    Facility,
    FacilityKind,
    PractitionerRole,
    PractitionerRoleKind,
    WorkingHours,
)
from farcare.patients.models import Consent, ConsentKind, Patient

from ..conftest import Chain, make_user
from ..factories import FacilityFactory, PatientFactory, PractitionerFactory, SpecialtyFactory


def _consultant(facility: Facility, specialty: object, username: str, full_name: str) -> User:
    given, family = full_name.split(" ", 1)
    user = make_user(
        Role.CONSULTANT, facility, username=username, first_name=given, last_name=family
    )
    practitioner = PractitionerFactory(user=user, languages=["ru", "en"])
    practitioner.specialties.add(specialty)
    role = PractitionerRole.objects.create(
        practitioner=practitioner, facility=facility, kind=PractitionerRoleKind.CONSULTANT
    )
    for weekday in range(7):
        WorkingHours.objects.create(role=role, weekday=weekday, start=time(0), end=time(23, 59))
    return user


@dataclass
class Consilium:
    consultation: Consultation
    patient: Patient
    feldsher: User
    hub_cardiologist: User
    federal_cardiologist: User
    korean_cardiologist: User
    coordinator: User
    stranger: User

    def accessor(self, user: User) -> Accessor:
        return Accessor(user, "127.0.0.1")


def consilium_case(chain: Chain, *, password: str | None = None) -> Consilium:
    """`password`: the people's (the browser tests log in through the form with the demo's)."""
    cardiology = SpecialtyFactory(code="cardiology", name_en="Cardiology")
    partner = FacilityFactory(
        kind=FacilityKind.PARTNER_ABROAD, region="Korea", country="KR", time_zone="Asia/Seoul"
    )
    for rank, facility in enumerate((chain.hub, chain.federal), start=1):
        RoutingRule.objects.create(
            region="Chukotka", specialty=cardiology, facility=facility, rank=rank
        )
    feldsher = make_user(
        Role.CLINICIAN,
        chain.post,
        username="feldsher_uelen",
        first_name="Anna",
        last_name="Rultyneut",
        language="en",
    )
    hub = _consultant(chain.hub, cardiology, "hub_cardio", "Pavel Kergitagin")
    federal = _consultant(chain.federal, cardiology, "fed_cardio", "Irina Sokolova")
    korean = _consultant(partner, cardiology, "kr_cardio", "Jiwoo Park")
    coordinator = make_user(Role.COORDINATOR, chain.hub, username="coord_chukotka")
    stranger = _consultant(chain.other_region_hub, cardiology, "sakha_cardio", "Oleg Ivanov")
    if password is not None:
        for user in (feldsher, hub, federal, korean, coordinator, stranger):
            user.set_password(password)
            user.save()
    patient = PatientFactory(home_facility=chain.post, family="Тынетегин", given="Семён")
    Consent.objects.create(
        patient=patient, kind=ConsentKind.TELECONSULTATION, scope="all", recorded_by=feldsher
    )
    consultation = consult_submit(
        accessor=Accessor(feldsher, "127.0.0.1"),
        patient=patient,
        client_token=uuid.uuid4(),
        data=RequestData(
            specialty=cardiology,
            form="urgent",
            question="Inferior STEMI 3 hours ago? Thrombolysis here or fly to Anadyr?",
            summary="Male, 61, chest pain since the morning.",
            mode=ConsultMode.CONSILIUM,
            consilium_size=2,
        ),
    )
    assert set(consultation.assignments.values_list("consultant__username", flat=True)) == {
        "hub_cardio",
        "fed_cardio",
    }
    consultation = consult_accept(accessor=Accessor(hub, "127.0.0.1"), consultation=consultation)
    # The Korean partner was asked in as a third member (the patient agreed to the transfer).
    Consent.objects.create(
        patient=patient,
        kind=ConsentKind.TRANSFER_ABROAD,
        scope="pseudonymised case to partner hospitals in Korea",
        recorded_by=feldsher,
    )
    Assignment.objects.create(
        consultation=consultation,
        consultant=korean,
        facility=partner,
        role=AssignmentRole.MEMBER,
        assigned_by=hub,
    )
    return Consilium(
        consultation=consultation,
        patient=patient,
        feldsher=feldsher,
        hub_cardiologist=hub,
        federal_cardiologist=federal,
        korean_cardiologist=korean,
        coordinator=coordinator,
        stranger=stranger,
    )
