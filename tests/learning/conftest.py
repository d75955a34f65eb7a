from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache

from farcare.accounts.models import Role, User
from farcare.audit.services import Accessor
from farcare.training.models import Enrolment, Programme, ProgrammeStatus, Session, SessionMode
from farcare.training.services import attendance_record
from tests.conftest import Chain, make_user

START = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


@dataclass
class Course:
    trainer: User
    programme: Programme
    sessions: list[Session]


@pytest.fixture(autouse=True)
def fresh_throttle() -> None:
    """The public check counts lookups per address in the cache: every test starts afresh."""
    cache.clear()


@pytest.fixture
def course(chain: Chain) -> Course:
    trainer = make_user(Role.TRAINER, chain.hub, first_name="Ирина", last_name="Наставник")
    programme = Programme.objects.create(
        title="Emergency cardiology for feldshers",
        owner=trainer,
        status=ProgrammeStatus.OPEN,
    )
    sessions = [
        Session.objects.create(
            programme=programme,
            number=number,
            title=f"Session {number}",
            starts_at=START + timedelta(days=7 * (number - 1)),
            duration_minutes=90,
            mode=SessionMode.BOTH,
            credit_hours=Decimal("1.5"),
        )
        for number in (1, 2)
    ]
    return Course(trainer, programme, sessions)


def enrol(course: Course, learner: User) -> User:
    Enrolment.objects.create(programme=course.programme, learner=learner, enrolled_at=START)
    return learner


def attend(course: Course, session: Session, learner: User, minutes: int) -> None:
    """The trainer records the learner in the room from the start for `minutes`."""
    attendance_record(
        accessor=Accessor(course.trainer),
        session=session,
        learner=learner,
        how="in_person",
        joined_at=session.starts_at,
        left_at=session.starts_at + timedelta(minutes=minutes),
    )
