from __future__ import annotations

import fcntl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.utils import translation

from farcare.accounts.models import Role, User
from farcare.network.models import Facility, FacilityKind
from farcare.testing.demo_snapshot import DemoSnapshot, restore_demo, take_demo_snapshot
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


# --- the demo network ---------------------------------------------------------------------


@pytest.fixture(scope="session")
def demo_snapshot(django_db_setup: None, django_db_blocker: Any) -> DemoSnapshot:
    """The real load_demo() once per test process (a few seconds), kept as rows."""
    with django_db_blocker.unblock():
        return take_demo_snapshot()


@pytest.fixture
def demo_network(db: None, demo_snapshot: DemoSnapshot) -> None:
    """The demo network (`make run`'s people, posts and cases) in this test's database: a copy
    of the rows load_demo() made, in a fraction of the time. With live_server or
    transactional_db it is committed where the server sees it, and flushed after the test."""
    restore_demo(demo_snapshot)


@pytest.fixture(autouse=True)
def referral_graph_of_this_test() -> None:
    """The access policy caches the referral graph per process under a generation; the demo's
    rows are restored without signals and every test rolls back, so each test starts with a new
    generation rather than a graph some earlier test left."""
    from farcare.network.selectors import bump_graph_generation

    bump_graph_generation()


# --- a hub in its own process (tests of uploads and of station sync) ---------------------------


@pytest.fixture(scope="session")
def hub_template(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """Migrate and the demo network once per test run (~20 s); each hub copies it. Parallel
    workers (pytest-xdist) share one: the first makes it while the others wait on a lock."""
    if worker_id == "master":
        return prepare_hub_template(tmp_path_factory.mktemp("hub-template"))
    shared = tmp_path_factory.getbasetemp().parent / "hub-template"
    with open(f"{shared}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (shared / "ready").exists():
            prepare_hub_template(shared)
            (shared / "ready").touch()
    return shared


@pytest.fixture
def hub(hub_template: Path, tmp_path: Path) -> Iterator[HubProcess]:
    with running_hub(tmp_path / "hub", hub_template) as started:
        yield started


# --- the parallel run: the long tests first, one at the head of each worker's share -----------


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """pytest-xdist (worksteal) hands each worker a contiguous share of the collection, and
    steals from the tails. A two-minute test collected late ends the run two minutes after
    everything else, so each share starts with its part of the tests marked `long`, the
    longest spread first. The order is the same on every worker, as xdist requires."""
    workers = int(getattr(config, "workerinput", {}).get("workercount", 0))
    long = sorted(
        (item for item in items if item.get_closest_marker("long")),
        key=lambda item: -float(item.get_closest_marker("long").args[0]),  # type: ignore[union-attr]
    )
    if workers < 2 or not long:
        return
    rest = [item for item in items if not item.get_closest_marker("long")]
    heads: list[list[pytest.Item]] = [[] for _ in range(workers)]
    for index, item in enumerate(long):
        heads[index % workers].append(item)
    # The scheduler's first split: each idle worker gets len(pending) // workers_left.
    ordered: list[pytest.Item] = []
    remaining_total, remaining_rest = len(items), rest
    for share, head in enumerate(heads):
        size = remaining_total // (workers - share)
        take = max(0, size - len(head))
        ordered += head + remaining_rest[:take]
        remaining_rest = remaining_rest[take:]
        remaining_total -= len(head) + take
    items[:] = ordered + remaining_rest


__all__ = ["Chain", "logged_in", "make_user"]
