"""The Uelen feldsher joins the first session's live room (a real Janus on loopback) a few
minutes early and leaves after 45 minutes of it: the session's attendance says so."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.urls import reverse

from farcare.accounts.models import Role
from farcare.calls import janus
from farcare.testing.janus import JanusServer, janus_for_farcare
from farcare.training.models import Attendance, SessionStatus

from ..conftest import logged_in, make_user
from .conftest import Course

pytestmark = pytest.mark.django_db


@pytest.fixture
def janus_server(tmp_path: Path) -> Iterator[JanusServer]:
    with janus_for_farcare(tmp_path / "janus") as server:
        yield server


def test_joining_and_leaving_the_live_room_becomes_online_attendance(
    course: Course, janus_server: JanusServer, django_capture_on_commit_callbacks: Any
):
    session = course.sessions[0]
    room_url = reverse("training:live", args=[session.uuid])

    with time_machine.travel(session.starts_at - timedelta(minutes=10), tick=False):
        feldsher, trainer = logged_in(course.feldsher), logged_in(course.trainer)
        page = feldsher.get(room_url)
        assert page.status_code == 200
        assert "calls/consilium.js" in page.text and '"join_url"' in page.text
        assert "connect-src" in page["Content-Security-Policy"]
        trainer_seat = trainer.post(f"{room_url}join/").json()
    with time_machine.travel(session.starts_at - timedelta(minutes=5), tick=False):
        seat = feldsher.post(f"{room_url}join/").json()
    assert seat["room"] == trainer_seat["room"] and seat["pin"] == trainer_seat["pin"]
    assert seat["display"] == str(course.feldsher.uuid)
    assert {p["id"] for p in seat["people"]} == {
        str(course.trainer.uuid),
        str(course.feldsher.uuid),
    }
    assert janus.JanusClient().room_exists(seat["room"])
    session.refresh_from_db()
    assert session.status == SessionStatus.LIVE and session.live_room == str(seat["room"])

    # The page reports the link's figures every few seconds while the learner is in.
    for minutes in (0, 20, 40):
        with time_machine.travel(session.starts_at + timedelta(minutes=minutes), tick=False):
            answer = feldsher.post(
                f"{room_url}quality/",
                {"mode": "audio", "sent_kbps": 30, "received_kbps": 90, "rtt_ms": 640},
                content_type="application/json",
            ).json()
            trainer.post(f"{room_url}quality/", {"mode": "video"}, content_type="application/json")
    mine = next(p for p in answer["people"] if p["me"])
    assert mine["mode"] == "audio" and mine["rtt_ms"] == 640

    with (
        time_machine.travel(session.starts_at + timedelta(minutes=45), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        feldsher.post(f"{room_url}leave/")
    row = Attendance.objects.get(session=session, learner=course.feldsher)
    assert row.how == "online" and row.minutes == 45  # from the start, not from joining early
    assert janus.JanusClient().room_exists(seat["room"])  # the trainer is still in

    with django_capture_on_commit_callbacks(execute=True):
        trainer.post(f"{room_url}leave/")
    assert not janus.JanusClient().room_exists(seat["room"])  # the last one out closed it
    assert not Attendance.objects.filter(learner=course.trainer).exists()


def test_only_the_programme_s_people_join_and_only_while_the_session_is_on(
    course: Course, chain, janus_server: JanusServer
):
    session = course.sessions[0]
    room_url = reverse("training:live", args=[session.uuid])
    stranger = make_user(Role.CLINICIAN, chain.sibling_post)  # may see the open programme
    early = logged_in(course.feldsher).post(f"{room_url}join/")
    with time_machine.travel(session.starts_at, tick=False):
        refused = logged_in(stranger).post(f"{room_url}join/")
        assert refused.status_code == 403 and "error" in refused.json()
        patient = logged_in(make_user(Role.PATIENT)).post(f"{room_url}join/")
        assert patient.status_code == 403
    # Two days early (the suite's "now") the room is not open yet.
    assert early.status_code == 403
    assert "opens 30 minutes before" in early.json()["error"]
    assert not session.seats.exists()
