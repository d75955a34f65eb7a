"""A teaching session's learners listen; its trainers speak. The Uelen feldsher's live room page
asks for no camera (listen only), she raises her hand to ask a question and the trainer's list
shows it; the trainer cannot raise one (he has the floor) and a hand is lowered when she leaves."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.urls import reverse
from django.utils.translation import gettext, override

from farcare.testing.janus import JanusServer, janus_for_farcare
from farcare.training.models import LiveSeat

from ..conftest import logged_in
from .conftest import Course

pytestmark = pytest.mark.django_db


@pytest.fixture
def janus_server(tmp_path: Path) -> Iterator[JanusServer]:
    with janus_for_farcare(tmp_path / "janus") as server:
        yield server


def _config(page: Any) -> dict[str, Any]:
    config: dict[str, Any] = page.context["config"]
    return config


def test_learners_listen_and_raise_a_hand_that_the_trainer_sees(
    course: Course, janus_server: JanusServer, django_capture_on_commit_callbacks: Any
) -> None:
    session = course.sessions[0]
    room_url = reverse("training:live", args=[session.uuid])
    with time_machine.travel(session.starts_at, tick=False):
        feldsher, trainer = logged_in(course.feldsher), logged_in(course.trainer)
        learner_page = feldsher.get(room_url)
        trainer_page = trainer.get(room_url)
        assert _config(learner_page)["listen_only"] is True
        assert _config(learner_page)["hand_url"] == f"{room_url}hand/"
        assert "no camera or microphone is needed" in learner_page.text
        assert 'data-testid="consilium-local"' not in learner_page.text
        assert _config(trainer_page)["listen_only"] is False
        assert "hand_url" not in _config(trainer_page)
        assert 'data-testid="consilium-local"' in trainer_page.text

        assert trainer.post(f"{room_url}join/").json()["listen_only"] is False
        seat = feldsher.post(f"{room_url}join/").json()
        assert seat["listen_only"] is True

        raised = feldsher.post(f"{room_url}hand/", {"raised": True}, "application/json")
        assert raised.status_code == 200
        people = trainer.post(f"{room_url}quality/", {}, "application/json").json()["people"]
        by_id = {p["id"]: p for p in people}
        her, him = by_id[str(course.feldsher.uuid)], by_id[str(course.trainer.uuid)]
        assert her["listening"] is True and her["hand"] is True
        assert him["listening"] is False and him["hand"] is False

        # The trainer has the floor already; nonsense is refused with a reason.
        refused = trainer.post(f"{room_url}hand/", {"raised": True}, "application/json")
        with override(course.trainer.language):  # the Seoul trainer reads Korean
            floor = gettext("Trainers speak without raising a hand.")
        assert refused.status_code == 403 and refused.json()["error"] == floor != ""
        assert LiveSeat.objects.get(user=course.trainer).hand_raised_at is None
        for body in ({}, {"raised": "yes"}, {"raised": True, "loud": True}):
            bad = feldsher.post(f"{room_url}hand/", body, "application/json")
            assert bad.status_code == 400 and bad.json()["error"]
        assert feldsher.post(f"{room_url}hand/", "{", "application/json").status_code == 400

    with (
        time_machine.travel(session.starts_at + timedelta(minutes=20), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert feldsher.post(f"{room_url}leave/").json() == {"left": True}
        assert LiveSeat.objects.get(user=course.feldsher).hand_raised_at is None
        # Out of the room, there is no hand to raise.
        gone = feldsher.post(f"{room_url}hand/", {"raised": True}, "application/json")
        assert gone.status_code == 403
        trainer.post(f"{room_url}leave/")


def test_link_figures_that_are_not_numbers_are_refused_and_nothing_is_stored(
    course: Course, janus_server: JanusServer
) -> None:
    session = course.sessions[0]
    room_url = reverse("training:live", args=[session.uuid])
    with time_machine.travel(session.starts_at, tick=False):
        feldsher = logged_in(course.feldsher)
        feldsher.post(f"{room_url}join/")
        for body in (
            '{"loss_percent": NaN}',
            '{"loss_percent": 1000}',
            '{"sent_kbps": 1e30}',
            '{"rtt_ms": -5}',
            '{"sent_kbps": "fast"}',
            "[" * 5000 + "]" * 5000,
        ):
            answer = feldsher.post(f"{room_url}quality/", body, "application/json")
            assert answer.status_code == 400, body[:40]
            assert answer.json()["error"]
        seat = LiveSeat.objects.get(user=course.feldsher)
        assert (seat.sent_kbps, seat.rtt_ms, seat.loss_percent) == (None, None, None)
        good = feldsher.post(
            f"{room_url}quality/",
            {"mode": "audio", "sent_kbps": 19, "rtt_ms": 640, "loss_percent": 0.5},
            "application/json",
        )
        assert good.status_code == 200
        seat.refresh_from_db()
        assert (seat.sent_kbps, seat.rtt_ms, str(seat.loss_percent)) == (19, 640, "0.50")
