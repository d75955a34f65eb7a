from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import time_machine

from farcare.accounts.models import Role, User
from farcare.audit.services import Accessor
from farcare.network.models import FacilityKind
from farcare.training.models import Programme, ProgrammeStatus, Session, SessionMode
from farcare.training.services import (
    enrol_learner,
    programme_create,
    programme_set_status,
    session_series_create,
)

from ..conftest import Chain, make_user
from ..factories import FacilityFactory

# Tuesday 3 March 2026, 09:00 UTC: 18:00 in Seoul (UTC+9), 21:00 in Anadyr (UTC+12).
FIRST = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
NOW = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)


@dataclass
class Course:
    """Emergency cardiology for feldshers, taught from the Korean partner hospital (Asia/Seoul)
    to the Uelen post (Asia/Anadyr): four weekly online sessions."""

    chain: Chain
    trainer: User
    feldsher: User
    programme: Programme
    sessions: list[Session]


@pytest.fixture(autouse=True)
def before_the_course() -> Iterator[None]:
    """Sunday 1 March 2026: the course starts on Tuesday."""
    with time_machine.travel(NOW, tick=True):
        yield


@pytest.fixture(autouse=True)
def media_in_tmp(settings: pytest.FixtureRequest, tmp_path: Path) -> None:
    storages = dict(settings.STORAGES)  # type: ignore[attr-defined]
    storages["default"] = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(tmp_path / "media")},
    }
    settings.STORAGES = storages  # type: ignore[attr-defined]


@pytest.fixture
def seoul_trainer(chain: Chain) -> User:
    partner = FacilityFactory(
        kind=FacilityKind.PARTNER_ABROAD, region="Seoul", time_zone="Asia/Seoul"
    )
    return make_user(Role.TRAINER, partner, language="ko", first_name="Ji-woo", last_name="Kim")


@pytest.fixture
def course(chain: Chain, seoul_trainer: User, feldsher: User) -> Course:
    by = Accessor(seoul_trainer)
    programme = programme_create(
        accessor=by,
        title="Emergency cardiology for feldshers",
        summary="Chest pain, ECG, thrombolysis at a post.",
        audience="feldshers",
    )
    sessions = session_series_create(
        accessor=by,
        programme=programme,
        title="Acute coronary syndrome",
        first_starts_at=FIRST,
        count=4,
        mode=SessionMode.BOTH,
        room="Anadyr hospital, room 214",
    )
    programme = programme_set_status(accessor=by, programme=programme, status=ProgrammeStatus.OPEN)
    enrol_learner(accessor=by, programme=programme, learner=feldsher)
    return Course(chain, seoul_trainer, feldsher, programme, sessions)
