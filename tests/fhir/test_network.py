"""The care network over FHIR: Organization, Location, Practitioner and PractitionerRole are a
read-only registry (kept in the admin) that any client with the right scope may read and search."""

from __future__ import annotations

from datetime import time
from typing import Any

import pytest
from django.utils import translation

from farcare.accounts.models import Role, User
from farcare.evacuation.models import TransportBase
from farcare.fhir.resources.network import (
    BCP47,
    FACILITY_KIND,
    LINK_PROFILE,
    PRACTITIONER_ROLE,
    SPECIALTY,
    TIMEZONE,
)
from farcare.fhir.validation import validated
from farcare.network.models import (
    Facility,
    FacilityKind,
    LinkType,
    Organisation,
    Practitioner,
    PractitionerRole,
    PractitionerRoleKind,
    WorkingHours,
)

from ..conftest import make_user
from ..factories import FacilityFactory, PractitionerFactory, SettlementFactory, SpecialtyFactory

NETWORK_TYPES = ("Organization", "Location", "Practitioner", "PractitionerRole")


def outcome(response: Any) -> dict[str, Any]:
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    return body["issue"][0]


def entries(bundle: dict[str, Any], mode: str = "match") -> list[dict[str, Any]]:
    assert bundle["resourceType"] == "Bundle"
    return [e["resource"] for e in bundle.get("entry", []) if e["search"]["mode"] == mode]


def searched(client: Any, resource_type: str, mode: str = "match", **params: str) -> list[dict]:
    response = client.get(resource_type, **params)
    assert response.status_code == 200, response.content
    found = entries(response.json(), mode)
    for resource in found:
        validated(resource["resourceType"], resource)
    return found


def extension(resource: dict[str, Any], url: str) -> dict[str, Any]:
    return next(e for e in resource.get("extension", []) if e["url"] == url)


def codes(concepts: list[dict[str, Any]]) -> list[str]:
    return [coding["code"] for concept in concepts for coding in concept["coding"]]


@pytest.fixture
def demo(demo_network: None) -> User:
    """The demo network, read by its coordinator."""
    return User.objects.get(username="coordinator")


@pytest.fixture
def hub_cardiology(chain: Any) -> PractitionerRole:
    """A cardiologist at the Anadyr hub working Mon–Fri 9–18 and Saturday mornings."""
    cardiology = SpecialtyFactory(code="cardiology", name_en="Cardiology", name_ru="Кардиология")
    practitioner = PractitionerFactory(
        family="Фёдорова", given="Алёна", middle="Игоревна", languages=["ru", "ko"]
    )
    practitioner.specialties.add(cardiology)
    role = PractitionerRole.objects.create(
        practitioner=practitioner, facility=chain.hub, kind=PractitionerRoleKind.CONSULTANT
    )
    for weekday in range(5):
        WorkingHours.objects.create(role=role, weekday=weekday, start=time(9), end=time(18))
    WorkingHours.objects.create(role=role, weekday=5, start=time(10), end=time(14))
    return role


# --- the demo network -----------------------------------------------------------------------


def test_every_resource_of_the_demo_network_reads_and_validates(demo, fhir_as):
    client = fhir_as(demo, "user/*.read")
    counts = {
        "Organization": Organisation.objects.count(),
        # Facilities and air-ambulance bases (issue 16) are both Locations.
        "Location": Facility.objects.count() + TransportBase.objects.count(),
        "Practitioner": Practitioner.objects.count(),
        "PractitionerRole": PractitionerRole.objects.count(),
    }
    for resource_type in NETWORK_TYPES:
        bundle = client.get(resource_type, _count="500").json()
        assert bundle["total"] == counts[resource_type] > 0
        found = entries(bundle)
        assert len(found) == counts[resource_type]
        for resource in found:
            validated(resource_type, resource)
        first = found[0]["id"]
        read = client.get(f"{resource_type}/{first}")
        assert read.status_code == 200
        assert read["ETag"] == 'W/"1"'
        history = client.get(f"{resource_type}/{first}/_history").json()
        assert history["type"] == "history"
        assert client.get(f"{resource_type}/{first}/_history/1").json()["id"] == first


def test_searching_the_demo_network(demo, fhir_as):
    client = fhir_as(demo, "user/*.read")

    chukotka = searched(client, "Location", **{"address-state": "Chukotka", "_count": "500"})
    assert len(chukotka) == (
        Facility.objects.filter(region="Chukotka").count()
        + TransportBase.objects.filter(region="Chukotka").count()
    )
    assert {location["address"]["state"] for location in chukotka} == {"Chukotka"}
    hubs = searched(client, "Location", type=f"{FACILITY_KIND}|regional_hub", _count="500")
    assert "Anadyr regional hospital" in {hub["name"] for hub in hubs}
    assert {code for hub in hubs for code in codes(hub["type"])} == {"regional_hub"}

    # Any of the three names, starts-with, case- and ё-insensitive.
    by_russian = searched(client, "Organization", name="анадырь: регион")
    assert [org["name"] for org in by_russian] == ["Anadyr regional hospital"]
    assert searched(client, "Organization", name="ANADYR REG") == by_russian
    assert searched(client, "Organization", name="nadyr") == []
    partners = searched(client, "Organization", **{"address-country": "KR"})
    assert len(partners) == 2
    assert all(org["address"][0]["country"] == "KR" for org in partners)

    cardiologists = searched(
        client,
        "PractitionerRole",
        specialty=f"{SPECIALTY}|cardiology",
        _include="PractitionerRole:practitioner",
    )
    assert cardiologists
    assert all("cardiology" in codes(role["specialty"]) for role in cardiologists)
    included = searched(
        client,
        "PractitionerRole",
        mode="include",
        specialty=f"{SPECIALTY}|cardiology",
        _include="PractitionerRole:practitioner",
    )
    assert {p["resourceType"] for p in included} == {"Practitioner"}
    assert {p["name"][0]["family"] for p in included} >= {"Ли", "Волков", "Николаев"}
    assert {f"Practitioner/{p['id']}" for p in included} == {
        role["practitioner"]["reference"] for role in cardiologists
    }

    korean_speakers = searched(client, "Practitioner", communication=f"{BCP47}|ko")
    expected = {p.family for p in Practitioner.objects.all() if "ko" in p.languages}
    assert {p["name"][0]["family"] for p in korean_speakers} == expected
    assert {"Ли", "Пак", "Цой", "김"} <= expected

    def names(**params: str) -> list[str]:
        return sorted(p["name"][0]["family"] for p in searched(client, "Practitioner", **params))

    assert names(family="федор") == ["Фёдорова"]
    assert names(name="федор") == ["Громова", "Фёдорова"]  # Громова is Фёдоровна
    assert names(name="фёдорова алёна") == ["Фёдорова"]


# --- mapping --------------------------------------------------------------------------------


@pytest.fixture
def uelen(db: None) -> Facility:
    """The feldsher–midwife post of Uelen, on a 64 kbit/s satellite link."""
    return FacilityFactory(
        name_en="Uelen feldsher–midwife post",
        name_ru="ФАП Уэлен",
        name_ko="우엘렌 진료소",
        settlement=SettlementFactory(name_en="Uelen", name_ru="Уэлен"),
        latitude=66.159,
        longitude=-169.809,
        link_type=LinkType.VSAT,
        bandwidth_kbps=64,
        rtt_ms=650,
    )


def test_a_facility_is_a_location_with_its_zone_link_and_organisation(uelen, fhir_as):
    post = uelen
    client = fhir_as(make_user(Role.ANALYST), "user/Location.read user/Organization.read")

    location = client.get(f"Location/{post.uuid}").json()
    validated("Location", location)
    # The resource is the same whatever the reader's language: no new version for a Russian one.
    with translation.override("ru"):
        in_russian = client.client.get(
            f"/fhir/Location/{post.uuid}", headers={**client.headers, "Accept-Language": "ru"}
        ).json()
    assert in_russian == location
    assert location["name"] == "Uelen feldsher–midwife post"
    assert location["alias"] == ["ФАП Уэлен", "우엘렌 진료소"]
    assert location["status"] == "active"
    assert location["mode"] == "instance"
    assert location["type"][0]["coding"] == [
        {"system": FACILITY_KIND, "code": "feldsher_post", "display": "Feldsher–midwife post"}
    ]
    assert location["position"] == {"latitude": 66.159, "longitude": -169.809}
    assert location["address"]["city"] == "Uelen"
    assert location["address"]["state"] == "Chukotka"
    assert location["address"]["country"] == "RU"
    assert extension(location, TIMEZONE)["valueCode"] == "Asia/Anadyr"
    link = {e["url"]: e for e in extension(location, LINK_PROFILE)["extension"]}
    assert link["type"]["valueCoding"]["code"] == "vsat"
    assert link["type"]["valueCoding"]["display"] == "Satellite (VSAT)"
    assert link["bandwidth"]["valueQuantity"]["value"] == 64
    assert link["bandwidth"]["valueQuantity"]["code"] == "kbit/s"
    assert link["roundTripTime"]["valueQuantity"]["value"] == 650

    reference = location["managingOrganization"]["reference"]
    assert reference == f"Organization/{post.organisation.uuid}"
    organization = client.get(reference).json()
    validated("Organization", organization)
    assert organization["name"] == post.organisation.name_en
    assert post.organisation.name_ru in organization["alias"]
    assert organization["address"] == [{"state": "Chukotka", "country": "RU"}]
    assert "feldsher_post" in codes(organization["type"])


def test_a_practitioner_and_their_role_with_weekly_hours(hub_cardiology, fhir_as):
    role = hub_cardiology
    client = fhir_as(make_user(Role.CLINICIAN), "user/*.read")

    practitioner = client.get(f"Practitioner/{role.practitioner.uuid}").json()
    validated("Practitioner", practitioner)
    assert practitioner["name"][0]["family"] == "Фёдорова"
    assert practitioner["name"][0]["given"] == ["Алёна", "Игоревна"]
    assert codes(practitioner["communication"]) == ["ru", "ko"]
    assert practitioner["communication"][0]["coding"][0]["system"] == BCP47
    assert practitioner["qualification"][0]["code"]["coding"] == [
        {"system": SPECIALTY, "code": "cardiology", "display": "Cardiology"}
    ]

    resource = client.get(f"PractitionerRole/{role.uuid}").json()
    validated("PractitionerRole", resource)
    assert resource["practitioner"]["reference"] == f"Practitioner/{role.practitioner.uuid}"
    assert resource["location"][0]["reference"] == f"Location/{role.facility.uuid}"
    assert resource["organization"]["reference"] == (
        f"Organization/{role.facility.organisation.uuid}"
    )
    assert resource["code"][0]["coding"][0] == {
        "system": PRACTITIONER_ROLE,
        "code": "consultant",
        "display": "Consultant",
    }
    assert codes(resource["specialty"]) == ["cardiology"]
    assert resource["availableTime"] == [
        {
            "daysOfWeek": ["mon", "tue", "wed", "thu", "fri"],
            "availableStartTime": "09:00:00",
            "availableEndTime": "18:00:00",
        },
        {
            "daysOfWeek": ["sat"],
            "availableStartTime": "10:00:00",
            "availableEndTime": "14:00:00",
        },
    ]
    assert "Asia/Anadyr" in resource["availabilityExceptions"]


def test_a_change_in_the_admin_makes_a_new_version(chain, feldsher, fhir_as):
    client = fhir_as(feldsher, "user/Location.read")
    assert client.get(f"Location/{chain.post.uuid}").json()["meta"]["versionId"] == "1"
    chain.post.link_type, chain.post.bandwidth_kbps = LinkType.CELLULAR, 256
    chain.post.save()

    current = client.get(f"Location/{chain.post.uuid}")
    assert current["ETag"] == 'W/"2"'
    history = client.get(f"Location/{chain.post.uuid}/_history").json()
    assert [e["resource"]["meta"]["versionId"] for e in history["entry"]] == ["2", "1"]
    first = client.get(f"Location/{chain.post.uuid}/_history/1").json()
    link = {e["url"]: e for e in extension(first, LINK_PROFILE)["extension"]}
    assert link["bandwidth"]["valueQuantity"]["value"] == 64


# --- search ---------------------------------------------------------------------------------


def test_names_are_searched_in_every_language_they_are_kept_in(uelen, fhir_as):
    FacilityFactory(name_en="Lorino feldsher–midwife post", name_ru="ФАП Лорино")
    client = fhir_as(make_user(Role.CLINICIAN), "user/Location.rs")

    def found(**params: str) -> list[str]:
        return [location["name"] for location in searched(client, "Location", **params)]

    uelen_only = ["Uelen feldsher–midwife post"]
    assert found(name="уэлен") == uelen_only  # a word of the Russian name
    assert found(name="УЭЛ") == uelen_only
    assert found(name="우엘렌") == uelen_only
    assert found(name="elen") == []  # starts-with, not contains
    assert found(**{"name:contains": "elen"}) == uelen_only
    assert found(**{"name:exact": "ФАП Уэлен"}) == uelen_only  # each name on its own
    assert found(**{"name:exact": "ФАП"}) == []
    assert len(found(name="фап")) == 2
    assert found(**{"address-city": "уэлен"}) == uelen_only
    assert found(**{"address-city": "Uelen"}) == uelen_only


def test_finding_who_works_where(chain, feldsher, hub_cardiology, fhir_as):
    surgeon = PractitionerFactory(family="Омрынто", given="Алексей", middle="Викторович")
    surgeon.specialties.add(SpecialtyFactory(code="surgery", name_en="Surgery"))
    PractitionerRole.objects.create(
        practitioner=surgeon, facility=chain.hub, kind=PractitionerRoleKind.CONSULTANT
    )
    PractitionerRole.objects.create(
        practitioner=PractitionerFactory(family="Рультытегина", given="Анна"),
        facility=chain.post,
        kind=PractitionerRoleKind.FELDSHER,
    )
    client = fhir_as(feldsher, "user/*.read")

    at_the_hub = client.get(
        "Location", _id=str(chain.hub.uuid), _revinclude="PractitionerRole:location"
    ).json()
    assert [location["id"] for location in entries(at_the_hub)] == [str(chain.hub.uuid)]
    roles = entries(at_the_hub, "include")
    assert {role["resourceType"] for role in roles} == {"PractitionerRole"}
    assert {role["practitioner"]["display"].split()[0] for role in roles} == {
        "Фёдорова",
        "Омрынто",
    }

    def families(**params: str) -> list[str]:
        """The practitioners of the roles found, as included in the same bundle."""
        included = searched(
            client,
            "PractitionerRole",
            mode="include",
            _include="PractitionerRole:practitioner",
            **params,
        )
        return sorted(p["name"][0]["family"] for p in included)

    assert families(location=f"Location/{chain.hub.uuid}") == ["Омрынто", "Фёдорова"]
    assert families(organization=f"Organization/{chain.post.organisation.uuid}") == ["Рультытегина"]
    assert families(specialty="surgery") == ["Омрынто"]
    assert families(role=f"{PRACTITIONER_ROLE}|feldsher") == ["Рультытегина"]
    assert families(practitioner=str(surgeon.uuid)) == ["Омрынто"]
    assert searched(client, "PractitionerRole", role="urn:other|feldsher") == []

    with_places = client.get(
        "PractitionerRole",
        practitioner=f"Practitioner/{surgeon.uuid}",
        _include=["PractitionerRole:location", "PractitionerRole:organization"],
    ).json()
    assert sorted(r["resourceType"] for r in entries(with_places, "include")) == [
        "Location",
        "Organization",
    ]

    def names(**params: str) -> list[str]:
        return sorted(p["name"][0]["family"] for p in searched(client, "Practitioner", **params))

    assert names(family="омрын") == ["Омрынто"]
    assert names(given="викторович") == ["Омрынто"]  # the patronymic is a given name
    assert names(name="алена") == ["Фёдорова"]
    assert names(communication="ko") == ["Фёдорова"]
    assert names(**{"communication:not": "ko"}) == ["Омрынто", "Рультытегина"]

    posts = searched(client, "Location", type="feldsher_post", **{"address-state": "Sakha"})
    assert [location["id"] for location in posts] == [str(chain.other_region_post.uuid)]
    by_organisation = client.get(
        "Location",
        organization=f"Organization/{chain.hub.organisation.uuid}",
        _include="Location:organization",
    ).json()
    assert [r["id"] for r in entries(by_organisation)] == [str(chain.hub.uuid)]
    assert [r["id"] for r in entries(by_organisation, "include")] == [
        str(chain.hub.organisation.uuid)
    ]
    assert client.get("Location", near="64.7|177.5|10|km").status_code == 400


# --- what is not allowed --------------------------------------------------------------------


def test_the_registry_is_read_only_over_fhir(chain, feldsher, fhir_as):
    client = fhir_as(feldsher)  # with write scopes
    before = Organisation.objects.count()

    created = client.post(
        "Organization", {"resourceType": "Organization", "name": "Lorino district hospital"}
    )
    assert created.status_code == 405
    assert outcome(created)["code"] == "not-supported"
    assert Organisation.objects.count() == before

    location = client.get(f"Location/{chain.post.uuid}").json()
    changed = client.put(f"Location/{chain.post.uuid}", {**location, "status": "inactive"})
    assert changed.status_code == 405
    assert outcome(changed)["code"] == "not-supported"
    assert client.delete(f"Location/{chain.post.uuid}").status_code == 405
    assert Facility.objects.filter(pk=chain.post.pk, kind=FacilityKind.FELDSHER_POST).exists()


def test_a_token_without_the_scope_is_refused(chain, feldsher, fhir_as):
    patients_only = fhir_as(feldsher, "user/Patient.read")
    for path in (f"Organization/{chain.post.organisation.uuid}", "Location", "Practitioner"):
        refused = patients_only.get(path)
        assert refused.status_code == 403
        assert outcome(refused)["code"] == "forbidden"

    organisations_only = fhir_as(feldsher, "user/Organization.rs")
    assert organisations_only.get(f"Organization/{chain.post.organisation.uuid}").status_code == 200
    assert organisations_only.get(f"Location/{chain.post.uuid}").status_code == 403
