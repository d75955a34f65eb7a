from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import time

import pytest

from farcare.accounts.models import Role, User
from farcare.audit.services import Accessor
from farcare.consults.models import RoutingRule
from farcare.consults.services import RequestData, consult_submit
from farcare.network.models import (
    Facility,
    FacilityKind,
    PractitionerRole,
    PractitionerRoleKind,
    Specialty,
    WorkingHours,
)
from farcare.patients.models import Consent, ConsentKind, Patient

from ..conftest import Chain, make_user
from ..factories import FacilityFactory, PatientFactory, PractitionerFactory, SpecialtyFactory

ALL_DAY = (time(0, 0), time(23, 59, 59))


def consultant(
    facility: Facility,
    specialty: Specialty,
    *,
    languages: tuple[str, ...] = ("ru",),
    hours: tuple[time, time] | None = ALL_DAY,
    username: str | None = None,
) -> User:
    """A consultant of `specialty` at `facility`, on duty all week unless told otherwise."""
    user = make_user(Role.CONSULTANT, facility, **({"username": username} if username else {}))
    practitioner = PractitionerFactory(user=user, languages=list(languages))
    practitioner.specialties.add(specialty)
    role = PractitionerRole.objects.create(
        practitioner=practitioner, facility=facility, kind=PractitionerRoleKind.CONSULTANT
    )
    if hours:
        for weekday in range(7):
            WorkingHours.objects.create(role=role, weekday=weekday, start=hours[0], end=hours[1])
    return user


@dataclass
class Scene:
    chain: Chain
    cardiology: Specialty
    feldsher: User
    coordinator: User
    hub_cardiologist: User
    federal_cardiologist: User
    partner: Facility
    partner_cardiologist: User
    patient: Patient

    def only_the_korean_partner_answers(self) -> None:
        """The Russian cardiologists are away, and the patient agreed to a transfer abroad."""
        for user in (self.hub_cardiologist, self.federal_cardiologist):
            user.is_active = False
            user.save()
        Consent.objects.create(
            patient=self.patient,
            kind=ConsentKind.TRANSFER_ABROAD,
            scope="pseudonymised case to partner hospitals in Korea",
            recorded_by=self.feldsher,
        )

    def accessor(self, user: User) -> Accessor:
        return Accessor(user, "127.0.0.1")

    def submit(self, form: str = "emergency", *, vitals=None, token=None, **kwargs):
        data = RequestData(
            specialty=self.cardiology,
            form=form,
            question=kwargs.pop("question", "Chest pain for 2 hours. Thrombolysis or evacuation?"),
            summary=kwargs.pop("summary", "Male, 65, crushing chest pain, sweating."),
            vitals=vitals or {},
            **kwargs,
        )
        return consult_submit(
            accessor=self.accessor(self.feldsher),
            patient=self.patient,
            client_token=token or uuid.uuid4(),
            data=data,
        )


@pytest.fixture
def scene(chain: Chain) -> Scene:
    cardiology = SpecialtyFactory(code="cardiology", name_en="Cardiology")
    partner = FacilityFactory(
        kind=FacilityKind.PARTNER_ABROAD, region="Korea", country="KR", time_zone="Asia/Seoul"
    )
    for rank, facility in enumerate((chain.hub, chain.federal, partner), start=1):
        RoutingRule.objects.create(
            region="Chukotka", specialty=cardiology, facility=facility, rank=rank
        )
    feldsher = make_user(Role.CLINICIAN, chain.post, username="feldsher_uelen", language="en")
    patient = PatientFactory(home_facility=chain.post, family="Тынетегин", given="Семён")
    Consent.objects.create(
        patient=patient, kind=ConsentKind.TELECONSULTATION, scope="all", recorded_by=feldsher
    )
    return Scene(
        chain=chain,
        cardiology=cardiology,
        feldsher=feldsher,
        coordinator=make_user(Role.COORDINATOR, chain.hub, username="coord_chukotka"),
        hub_cardiologist=consultant(chain.hub, cardiology, username="hub_cardio"),
        federal_cardiologist=consultant(
            chain.federal, cardiology, languages=("ru", "en"), username="fed_cardio"
        ),
        partner=partner,
        partner_cardiologist=consultant(
            partner, cardiology, languages=("ko", "en", "ru"), username="kr_cardio"
        ),
        patient=patient,
    )
