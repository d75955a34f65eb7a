"""A small Chukotka for the transfer tests (H1): Uelen's post, Lavrentiya's district hospital,
Anadyr's regional hub with a cath lab and the air-ambulance base at Anadyr airport (one Mi-8, a
second Mi-8 and an L-410), a coordinator at Anadyr, one in Yakutia, and a consultant in Korea.
Coordinates are the demo network's own (settlements.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pytest

from farcare.accounts.models import Role, User
from farcare.audit.services import Accessor
from farcare.evacuation import services
from farcare.evacuation.aircraft import L_410, MI_8, AircraftProfile
from farcare.evacuation.models import (
    Aircraft,
    Airfield,
    Capability,
    FacilityCapability,
    Transfer,
    TransferCondition,
    TransportBase,
)
from farcare.network.models import Facility, FacilityKind, Settlement
from farcare.patients.models import Patient

from ..conftest import make_user
from ..factories import FacilityFactory, PatientFactory, SettlementFactory, link
from .settlements import settlement


def place(name: str, region: str = "Chukotka", zone: str = "Asia/Anadyr") -> Settlement:
    found = settlement(name)
    return SettlementFactory(
        name_en=name,
        name_ru=name,
        region=region,
        latitude=found.lat,
        longitude=found.lon,
        time_zone=zone,
    )


def facility(
    name: str, at: Settlement, kind: str, region: str = "Chukotka", country: str = "RU"
) -> Facility:
    return FacilityFactory(
        name_en=name,
        kind=kind,
        region=region,
        country=country,
        settlement=at,
        latitude=at.latitude,
        longitude=at.longitude,
        time_zone=at.time_zone,
    )


def airframe(base: TransportBase, registration: str, profile: AircraftProfile) -> Aircraft:
    return Aircraft.objects.create(
        base=base,
        registration=registration,
        profile=profile.code,
        kind=profile.kind.value,
        cruise_kmh=profile.cruise_kmh,
        range_km=profile.range_km,
        crew=profile.crew,
    )


@dataclass
class World:
    uelen: Settlement
    lavrentiya: Settlement
    anadyr: Settlement
    post: Facility
    district: Facility
    hub: Facility
    sakha_hub: Facility
    korea: Facility
    base: TransportBase
    mi8: Aircraft
    mi8_second: Aircraft
    l410: Aircraft
    feldsher: User
    district_doctor: User
    hub_doctor: User
    coordinator: User
    sakha_coordinator: User
    consultant_abroad: User
    patient: Patient

    def open(
        self,
        *,
        patient: Patient | None = None,
        condition: str = TransferCondition.EMERGENCY,
        first_contact_at: datetime,
        destination: Facility | None = None,
        by: User | None = None,
        **extra: object,
    ) -> Transfer:
        return services.transfer_open(
            accessor=Accessor(by or self.feldsher),
            patient=patient or self.patient,
            origin=self.post,
            condition=condition,
            reason="Suspected STEMI, evacuation advised by the cardiologist.",
            first_contact_at=first_contact_at,
            destination=destination if destination is not None else self.hub,
            **extra,  # type: ignore[arg-type]
        )

    def another_patient(self) -> Patient:
        return PatientFactory(home_facility=self.post, home_settlement=self.uelen)


def build_world() -> World:
    uelen, lavrentiya, anadyr = place("Uelen"), place("Lavrentiya"), place("Anadyr")
    yakutsk = SettlementFactory(
        name_en="Yakutsk",
        region="Sakha",
        latitude=62.03,
        longitude=129.73,
        time_zone="Asia/Yakutsk",
    )
    seongnam = SettlementFactory(
        name_en="Seongnam",
        region="Gyeonggi",
        latitude=37.44,
        longitude=127.14,
        time_zone="Asia/Seoul",
    )
    post = facility("Uelen post", uelen, FacilityKind.FELDSHER_POST)
    district = facility("Lavrentiya district hospital", lavrentiya, FacilityKind.DISTRICT_HOSPITAL)
    hub = facility("Anadyr regional hospital", anadyr, FacilityKind.REGIONAL_HUB)
    sakha_hub = facility("Yakutsk hospital", yakutsk, FacilityKind.REGIONAL_HUB, region="Sakha")
    korea = facility(
        "Seongnam partner", seongnam, FacilityKind.PARTNER_ABROAD, region="Gyeonggi", country="KR"
    )
    link(post, district)
    link(district, hub)
    FacilityCapability.objects.create(facility=hub, capability=Capability.PCI)
    FacilityCapability.objects.create(facility=hub, capability=Capability.STROKE_THROMBOLYSIS)
    Airfield.objects.create(settlement=anadyr, has_airstrip=True, ground_minutes=40)
    Airfield.objects.create(settlement=lavrentiya, has_airstrip=True, ground_minutes=10)
    Airfield.objects.create(settlement=uelen, has_airstrip=False, ground_minutes=10)
    base = TransportBase.objects.create(
        name_en="Anadyr air ambulance",
        name_ru="Санавиация Анадырь",
        region="Chukotka",
        settlement=anadyr,
        latitude=anadyr.latitude,
        longitude=anadyr.longitude,
    )
    mi8 = airframe(base, "RA-22001", MI_8)
    mi8_second = airframe(base, "RA-22002", MI_8)
    l410 = airframe(base, "RA-67001", L_410)
    return World(
        uelen=uelen,
        lavrentiya=lavrentiya,
        anadyr=anadyr,
        post=post,
        district=district,
        hub=hub,
        sakha_hub=sakha_hub,
        korea=korea,
        base=base,
        mi8=mi8,
        mi8_second=mi8_second,
        l410=l410,
        feldsher=make_user(Role.CLINICIAN, post, username="uelen_feldsher"),
        district_doctor=make_user(Role.CLINICIAN, district, username="lavrentiya_doctor"),
        hub_doctor=make_user(Role.CLINICIAN, hub, username="anadyr_cardiologist"),
        coordinator=make_user(Role.COORDINATOR, hub, username="anadyr_coordinator"),
        sakha_coordinator=make_user(Role.COORDINATOR, sakha_hub, username="yakutsk_coordinator"),
        consultant_abroad=make_user(Role.CONSULTANT, korea, username="seongnam_cardiologist"),
        patient=PatientFactory(home_facility=post, home_settlement=uelen),
    )


@pytest.fixture
def world(db: None) -> World:
    return build_world()
