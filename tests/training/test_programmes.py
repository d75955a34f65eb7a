"""A trainer in Seoul builds a programme for feldshers in Chukotka; each sees its sessions on
their own clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from farcare.accounts.models import Role
from farcare.audit.models import AuditEvent
from farcare.audit.services import Accessor
from farcare.training.models import Programme, Session, SessionStatus
from farcare.training.services import session_series_create

from ..conftest import logged_in, make_user
from .conftest import FIRST, Course

pytestmark = pytest.mark.django_db


def test_a_trainer_creates_a_programme_of_four_sessions_through_the_pages(chain, seoul_trainer):
    client = logged_in(seoul_trainer)
    response = client.post(
        reverse("training:programmes"),
        {"title": "Ultrasound in pregnancy", "language": "ru", "audience": "midwives"},
    )
    programme = Programme.objects.get(title="Ultrasound in pregnancy")
    assert response.status_code == 302
    assert programme.owner == seoul_trainer and programme.status == "draft"

    response = client.post(
        reverse("training:sessions_add", args=[programme.uuid]),
        {
            "title": "Second trimester",
            "day": "2026-03-03",
            "start": "18:00",
            "zone": "Asia/Seoul",
            "count": 4,
            "every_days": 7,
            "duration_minutes": 90,
            "lecture_minutes": 30,
            "mode": "online",
            "room": "",
        },
    )
    assert response.status_code == 302
    sessions = list(Session.objects.filter(programme=programme))
    assert [s.number for s in sessions] == [1, 2, 3, 4]
    assert [s.starts_at for s in sessions] == [FIRST + timedelta(days=7 * i) for i in range(4)]
    assert AuditEvent.objects.filter(record_type="Programme", record_id=programme.uuid).count() == 2


def test_seoul_and_anadyr_see_the_same_session_at_their_own_local_time(course: Course):
    first = course.sessions[0]
    seoul = logged_in(course.trainer).get(reverse("training:session", args=[first.uuid]))
    english = logged_in(course.feldsher).get(reverse("training:mine"))
    course.feldsher.language = "ru"
    course.feldsher.save(update_fields=["language"])
    anadyr = logged_in(course.feldsher).get(reverse("training:session", args=[first.uuid]))
    assert seoul.status_code == anadyr.status_code == english.status_code == 200
    # The same moment, the same <time datetime>, read on each clock.
    assert 'datetime="2026-03-03T09:00:00+00:00"' in seoul.text
    assert 'datetime="2026-03-03T09:00:00+00:00"' in anadyr.text
    assert "18:00" in seoul.text and "Asia/Seoul, UTC+9" in seoul.text
    assert "21:00" in anadyr.text and "Asia/Anadyr, UTC+12, МСК+9" in anadyr.text
    assert "21:00" in english.text and "Asia/Anadyr, UTC+12" in english.text
    # A session held in a room too says which.
    assert "Anadyr hospital, room 214" in anadyr.text
    assert 'lang="ko"' in seoul.text and 'lang="ru"' in anadyr.text


def test_rescheduling_and_cancelling_a_session(course: Course):
    client = logged_in(course.trainer)
    second = course.sessions[1]
    response = client.post(
        reverse("training:reschedule", args=[second.uuid]),
        {"day": "2026-03-11", "start": "10:00", "zone": "Asia/Seoul", "room": "Room 3"},
    )
    assert response.status_code == 302
    second.refresh_from_db()
    # 10:00 on Wednesday 11 March in Seoul is 01:00 UTC.
    assert second.starts_at == datetime(2026, 3, 11, 1, 0, tzinfo=UTC)
    assert second.room == "Room 3"

    client.post(reverse("training:cancel", args=[second.uuid]), {"reason": "holiday"})
    second.refresh_from_db()
    assert second.status == SessionStatus.CANCELLED
    page = logged_in(course.feldsher).get(reverse("training:mine"))
    assert second.title not in page.text  # the learner's schedule no longer lists it


def test_a_bad_time_zone_is_refused_with_a_clear_message(course: Course):
    response = logged_in(course.trainer).post(
        reverse("training:reschedule", args=[course.sessions[0].uuid]),
        {"day": "2026-03-11", "start": "10:00", "zone": "Mars/Olympus"},
    )
    assert response.status_code == 400
    # In the Korean trainer's language.
    assert "알 수 없는 시간대입니다" in response.text


def test_co_trainer_and_status_changes(course: Course, chain):
    consultant = make_user(Role.CONSULTANT, chain.hub)
    client = logged_in(course.trainer)
    client.post(
        reverse("training:trainer_add", args=[course.programme.uuid]), {"person": consultant.uuid}
    )
    assert consultant in course.programme.trainers.all()
    # The co-trainer sees the programme's trainer tools.
    page = logged_in(consultant).get(reverse("training:programme", args=[course.programme.uuid]))
    assert 'data-testid="series-form"' in page.text
    client.post(
        reverse("training:programme_status", args=[course.programme.uuid]), {"status": "closed"}
    )
    course.programme.refresh_from_db()
    assert course.programme.status == "closed"


def test_strangers_and_patients_are_refused(course: Course, chain):
    patient_user = make_user(Role.PATIENT, None)
    other_trainer = make_user(Role.TRAINER, chain.hub)
    programme_url = reverse("training:programme", args=[course.programme.uuid])
    session_url = reverse("training:session", args=[course.sessions[0].uuid])
    for who in (patient_user,):
        client = logged_in(who)
        assert client.get(reverse("training:mine")).status_code == 403
        assert client.get(programme_url).status_code == 403
        assert client.get(session_url).status_code == 403
    # Another trainer neither sees nor changes this programme; a refused change is audited.
    assert logged_in(other_trainer).get(programme_url).status_code == 403
    with pytest.raises(PermissionDenied):
        session_series_create(
            accessor=Accessor(other_trainer),
            programme=course.programme,
            title="Hijacked",
            first_starts_at=FIRST,
        )
    assert AuditEvent.objects.filter(
        outcome="denied", actor_username=other_trainer.username, record_type="Programme"
    ).exists()
    assert not Session.objects.filter(title="Hijacked").exists()
