"""A station (this test process, with the suite's database) and its hub (a real FarCare process
on loopback with the demo network), joined by a weak link that can drop."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from farcare.sync import station as sync
from farcare.sync.models import StationConfig
from farcare.testing.hub import HubProcess
from farcare.testing.weaklink import WeakLink

DEMO_PASSWORD = "farcare-demo"


@pytest.fixture
def link(hub: HubProcess) -> Iterator[WeakLink]:
    """A quick link for most tests; tests of timing set their own rate."""
    with WeakLink("127.0.0.1", hub.port, rate_bps=4_000_000, rtt_ms=20) as weak:
        yield weak


@pytest.fixture
def station(db: None, link: WeakLink, settings: Any) -> StationConfig:
    """This database enrolled at the hub by the Uelen feldsher, through the weak link."""
    settings.FARCARE_STATION_TIMEOUT_SECONDS = 10
    return sync.enrol(
        hub_url=f"http://127.0.0.1:{link.port}",
        username="feldsher",
        password=DEMO_PASSWORD,
        name="Uelen laptop",
    )
