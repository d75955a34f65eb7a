from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time

import pytest
import time_machine

from farcare.accounts.models import User
from farcare.audit.services import Accessor
from farcare.consults.models import Consultation, ConsultMode
from farcare.consults.services import consult_accept
from farcare.scheduling.models import Slot
from farcare.scheduling.services import Weekly, slots_publish_weekly

from ..consults.conftest import Scene, scene  # noqa: F401
from ..fhir.conftest import fhir_as  # noqa: F401

# Sunday 1 March 2026, 00:00 UTC: Monday 2 March 09:00 in Seoul is 00:00 UTC on the Monday.
NOW = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)
MONDAY = date(2026, 3, 2)


@dataclass
class Live:
    """A real-time consultation from the Uelen post (Asia/Anadyr, UTC+12), taken by the Korean
    partner's cardiologist (Asia/Seoul, UTC+9), who published weekday mornings."""

    scene: Scene
    consultation: Consultation
    consultant: User
    slots: list[Slot]

    @property
    def feldsher(self) -> User:
        return self.scene.feldsher


def publish_mornings(consultant: User, weeks: int = 1) -> list[Slot]:
    return slots_publish_weekly(
        accessor=Accessor(consultant),
        consultant=consultant,
        pattern=Weekly(
            weekdays=frozenset({0, 1, 2, 3, 4}),
            start=time(9, 0),
            end=time(12, 0),
            minutes=30,
            first_day=MONDAY,
            weeks=weeks,
            zone="Asia/Seoul",
        ),
    )


def live_consultation(scene: Scene, mode: str = ConsultMode.REALTIME) -> Consultation:  # noqa: F811
    consultation = scene.submit("planned", mode=mode)
    return consult_accept(accessor=Accessor(scene.partner_cardiologist), consultation=consultation)


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def live(scene: Scene, clock) -> Live:  # noqa: F811
    scene.only_the_korean_partner_answers()
    consultation = live_consultation(scene)
    return Live(
        scene,
        consultation,
        scene.partner_cardiologist,
        publish_mornings(scene.partner_cardiologist),
    )
