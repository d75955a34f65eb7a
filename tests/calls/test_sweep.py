"""No call is left open by a browser that vanished (a crash, a power cut at the post, a server
restart: no socket close, no pagehide beacon). Browsers report their link every ~5 s; `farcare
calls sweep` leaves a presence silent for more than FARCARE_CALL_SILENT_SECONDS as of when it was
last seen, and the last one out ends the call on the case's timeline, destroying a consilium's
Janus room. With the clock moved on."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.core.management import call_command
from django.test import override_settings

from farcare.audit.models import AuditEvent
from farcare.audit.services import Accessor
from farcare.calls import janus
from farcare.calls.models import Call, CallKind, CallParticipant
from farcare.calls.services import CALL_ENDED, call_join, call_quality
from farcare.calls.sweep import is_silent, sweep_calls
from farcare.consults.models import Consultation, Transition
from farcare.testing.janus import JanusServer, janus_for_farcare

from ..conftest import logged_in
from ..consults.conftest import Scene
from .consilium_scene import consilium_case

START = datetime.fromisoformat("2026-12-07T02:00:00+00:00")


def test_the_rule_is_silence_for_longer_than_the_limit() -> None:
    joined = START
    assert not is_silent(
        last_seen_at=None, joined_at=joined, now=START + timedelta(seconds=60), silent_seconds=60
    )
    assert is_silent(
        last_seen_at=None, joined_at=joined, now=START + timedelta(seconds=61), silent_seconds=60
    )
    seen = START + timedelta(seconds=50)
    assert not is_silent(
        last_seen_at=seen, joined_at=joined, now=START + timedelta(seconds=100), silent_seconds=60
    )


def _report(user: Any, call: Call) -> None:
    call_quality(
        accessor=Accessor(user, "127.0.0.1"),
        call=call,
        mode="video",
        sent_kbps=180,
        received_kbps=170,
        rtt_ms=640,
        loss_percent=0.5,
    )


def test_a_vanished_browser_is_left_and_the_last_one_out_ends_the_call(
    scene: Scene, case: Consultation
) -> None:
    with time_machine.travel(START, tick=False):
        feldsher = call_join(
            accessor=Accessor(scene.feldsher, "127.0.0.1"), consultation=case, kind=CallKind.PAIR
        )
        call_join(
            accessor=Accessor(scene.hub_cardiologist, "127.0.0.1"),
            consultation=case,
            kind=CallKind.PAIR,
        )
    call = feldsher.call
    # The cardiologist's page keeps reporting; the post's power went at 02:00.
    for seconds in (5, 10, 30, 55):
        with time_machine.travel(START + timedelta(seconds=seconds), tick=False):
            _report(scene.hub_cardiologist, call)

    with time_machine.travel(START + timedelta(seconds=100), tick=False):
        report = sweep_calls()
    assert report.left == [f"{call.uuid} {scene.feldsher.username}"]
    assert report.ended == []
    presences = {p.user_id: p for p in CallParticipant.objects.filter(call=call)}
    assert presences[scene.feldsher.pk].left_at == START
    assert presences[scene.hub_cardiologist.pk].left_at is None
    call.refresh_from_db()
    assert call.ended_at is None

    # The cardiologist's browser crashes too: the call ends when they were last seen.
    with time_machine.travel(START + timedelta(seconds=200), tick=False):
        report = sweep_calls()
    assert report.ended == [str(call.uuid)]
    call.refresh_from_db()
    last_seen = START + timedelta(seconds=55)
    assert call.ended_at == last_seen
    assert CallParticipant.objects.get(call=call, user=scene.hub_cardiologist).left_at == last_seen
    ended = Transition.objects.get(consultation=case, event=CALL_ENDED)
    summary = json.loads(ended.note)
    assert summary["duration_s"] == 55
    assert len(summary["participants"]) == 2
    # The case's timeline says so, as for a call hung up by hand.
    timeline = logged_in(scene.feldsher).get(f"/consultations/{case.uuid}/").content.decode()
    assert "call of two; duration 0:55" in timeline
    # Each silent leave is in the audit trail, by the system.
    silent = AuditEvent.objects.filter(details__event="call_left", details__silent=True)
    assert silent.count() == 2

    # Sweeping again changes nothing.
    with time_machine.travel(START + timedelta(seconds=300), tick=False):
        assert sweep_calls().left == []


def test_a_browser_that_keeps_reporting_stays_in(scene: Scene, case: Consultation) -> None:
    with time_machine.travel(START, tick=False):
        presence = call_join(
            accessor=Accessor(scene.feldsher, "127.0.0.1"), consultation=case, kind=CallKind.PAIR
        )
    for minute in range(1, 6):
        with time_machine.travel(START + timedelta(minutes=minute), tick=False):
            _report(scene.feldsher, presence.call)
            assert sweep_calls().left == []
    presence.refresh_from_db()
    assert presence.left_at is None
    assert presence.last_seen_at == START + timedelta(minutes=5)


@override_settings(FARCARE_CALL_SILENT_SECONDS=20)
def test_the_command_sweeps_with_the_configured_limit(scene: Scene, case: Consultation) -> None:
    with time_machine.travel(START, tick=False):
        presence = call_join(
            accessor=Accessor(scene.feldsher, "127.0.0.1"), consultation=case, kind=CallKind.PAIR
        )
    out = StringIO()
    with time_machine.travel(START + timedelta(seconds=15), tick=False):
        call_command("calls", "sweep", stdout=out)
    assert out.getvalue() == ""
    with time_machine.travel(START + timedelta(seconds=25), tick=False):
        call_command("calls", "sweep", stdout=out)
    assert f"left: {presence.call.uuid} {scene.feldsher.username}" in out.getvalue()
    assert f"ended: {presence.call.uuid}" in out.getvalue()


@pytest.fixture
def janus_server(tmp_path: Path) -> Iterator[JanusServer]:
    with janus_for_farcare(tmp_path / "janus") as server:
        yield server


def test_a_consilium_nobody_is_left_in_loses_its_janus_room(
    chain: Any, janus_server: JanusServer, django_capture_on_commit_callbacks: Any
) -> None:
    case = consilium_case(chain)
    seat = logged_in(case.feldsher).post(f"/calls/{case.consultation.uuid}/consilium/join/").json()
    assert janus.JanusClient().room_exists(seat["room"])
    later = datetime.now().astimezone() + timedelta(minutes=5)
    with (
        time_machine.travel(later, tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        report = sweep_calls()
    call = Call.objects.get(consultation=case.consultation)
    assert report.ended == [str(call.uuid)]
    assert call.ended_at is not None
    assert not janus.JanusClient().room_exists(seat["room"])
