from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.test import Client
from django.utils import translation

from farcare.accounts.models import Role, User
from farcare.network.models import Facility, FacilityKind
from farcare.testing.hub import HubProcess, prepare_hub_template, running_hub

from .factories import PASSWORD, FacilityFactory, UserFactory, link


@pytest.fixture(autouse=True)
def english_by_default():
    """Messages of services called directly come in English unless a test asks otherwise; pages
    choose their language per request, and console commands use the deployment's language."""
    with translation.override("en"):
        yield


@dataclass
class Chain:
    """A small chain of care in Chukotka, and a post in another region."""

    post: Facility
    district: Facility
    hub: Facility
    federal: Facility
    sibling_post: Facility
    other_region_post: Facility
    other_region_hub: Facility


@pytest.fixture
def chain(db: None) -> Chain:
    federal = FacilityFactory(
        kind=FacilityKind.FEDERAL_CENTRE, region="Moscow", time_zone="Europe/Moscow"
    )
    hub = FacilityFactory(kind=FacilityKind.REGIONAL_HUB, name_en="Anadyr regional hospital")
    district = FacilityFactory(kind=FacilityKind.DISTRICT_HOSPITAL, name_en="Lavrentiya district")
    post = FacilityFactory(kind=FacilityKind.FELDSHER_POST, name_en="Uelen post")
    sibling = FacilityFactory(kind=FacilityKind.FELDSHER_POST, name_en="Lorino post")
    other_hub = FacilityFactory(
        kind=FacilityKind.REGIONAL_HUB, region="Sakha", time_zone="Asia/Yakutsk"
    )
    other_post = FacilityFactory(
        kind=FacilityKind.FELDSHER_POST, region="Sakha", time_zone="Asia/Yakutsk"
    )
    link(post, district)
    link(sibling, district)
    link(district, hub)
    link(hub, federal)
    link(other_post, other_hub)
    link(other_hub, federal)
    return Chain(post, district, hub, federal, sibling, other_post, other_hub)


def make_user(role: str, facility: Facility | None = None, **kwargs: object) -> User:
    return UserFactory(role=role, facility=facility, **kwargs)


def logged_in(user: User, language: str = "en") -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    assert client.login(username=user.username, password=PASSWORD)
    return client


@pytest.fixture
def feldsher(chain: Chain) -> User:
    return make_user(Role.CLINICIAN, chain.post, language="en")


# --- a hub in its own process (tests of uploads and of station sync) ---------------------------


@pytest.fixture(scope="session")
def hub_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrate and the demo network once per test session (~20 s); each hub copies it."""
    return prepare_hub_template(tmp_path_factory.mktemp("hub-template"))


@pytest.fixture
def hub(hub_template: Path, tmp_path: Path) -> Iterator[HubProcess]:
    with running_hub(tmp_path / "hub", hub_template) as started:
        yield started


__all__ = ["Chain", "logged_in", "make_user"]
