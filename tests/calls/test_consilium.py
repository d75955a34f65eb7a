"""Who gets into a consilium call, and what the page and its endpoints give away: only the
requesting side and the assigned consultants get the room, its pin and a Janus token; the page
itself carries none of them; a consultant abroad sees the case pseudonymised; without Janus the
page says so and points to the call of two. Against a real Janus on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import override_settings
from django.utils import timezone

from farcare.audit.models import AuditEvent
from farcare.calls import janus
from farcare.calls.models import Call, CallKind
from farcare.testing.janus import JanusServer, janus_for_farcare

from ..conftest import Chain, logged_in
from .consilium_scene import Consilium, consilium_case


@pytest.fixture
def case(chain: Chain) -> Consilium:
    return consilium_case(chain)


@pytest.fixture
def janus_server(tmp_path: Path) -> Iterator[JanusServer]:
    with janus_for_farcare(tmp_path / "janus") as server:
        yield server


def _page(case: Consilium) -> str:
    return f"/calls/{case.consultation.uuid}/consilium/"


def _join(client: Any, case: Consilium) -> Any:
    return client.post(f"{_page(case)}join/")


def test_the_feldsher_opens_the_page_with_no_secret_in_it(
    case: Consilium, janus_server: JanusServer
) -> None:
    feldsher = logged_in(case.feldsher)
    page = feldsher.get(_page(case))
    assert page.status_code == 200
    text = page.content.decode()
    assert "Тынетегин" in text
    assert 'data-testid="consilium-join"' in text
    # The browser may reach Janus's WebSocket from this page, and use camera and microphone.
    policy = page["Content-Security-Policy"]
    connect = next(d for d in policy.split("; ") if d.startswith("connect-src "))
    assert janus_server.ws_url.rsplit("/", 1)[0] in connect
    assert "script-src 'self'" in policy
    assert "camera=(self)" in page["Permissions-Policy"]
    assert "microphone=(self)" in page["Permissions-Policy"]

    seat = _join(feldsher, case).json()
    call = Call.objects.get(consultation=case.consultation, kind=CallKind.CONSILIUM)
    assert str(seat["room"]) == call.room
    # Neither before nor after joining does the page carry the room's pin or a token.
    again = feldsher.get(_page(case)).content.decode()
    assert seat["pin"] not in again
    assert seat["token"].split(":")[1] not in again
    assert f'"room": {seat["room"]}' not in again


def test_three_join_one_room_and_the_last_one_out_closes_it(
    case: Consilium, janus_server: JanusServer, django_capture_on_commit_callbacks: Any
) -> None:
    people = [case.feldsher, case.hub_cardiologist, case.federal_cardiologist]
    clients = [logged_in(user) for user in people]
    seats = [_join(client, case).json() for client in clients]

    assert len({s["room"] for s in seats}) == 1
    assert len({s["pin"] for s in seats}) == 1
    assert {p["name"] for p in seats[-1]["people"]} == {
        "Anna Rultyneut",
        "Pavel Kergitagin",
        "Irina Sokolova",
    }
    # Each one is shown to Janus by an opaque id, never by name.
    assert {s["display"] for s in seats} == {str(u.uuid) for u in people}
    room = janus.Room(seats[0]["room"], seats[0]["pin"], "")
    assert janus.JanusClient().room_exists(room.id)

    for client in clients:
        with django_capture_on_commit_callbacks(execute=True):
            answer = client.post(f"{_page(case)}leave/").json()
    assert answer == {"ended": True}
    assert not janus.JanusClient().room_exists(room.id)
    call = Call.objects.get(consultation=case.consultation)
    assert call.ended_at is not None
    assert not call.recorded


@pytest.mark.parametrize("who", ["stranger", "coordinator"])
def test_someone_outside_the_call_gets_neither_page_nor_room(
    case: Consilium, janus_server: JanusServer, who: str
) -> None:
    # The call is open, so there is a room to leak.
    seat = _join(logged_in(case.feldsher), case).json()
    outsider = logged_in(getattr(case, who))

    page = outsider.get(_page(case))
    assert page.status_code == 403
    assert seat["pin"] not in page.content.decode()
    refused = _join(outsider, case)
    assert refused.status_code == 403
    body = refused.content.decode()
    assert seat["pin"] not in body and str(seat["room"]) not in body
    assert "error" in refused.json()
    assert outsider.post(f"{_page(case)}quality/", "{}", "application/json").status_code == 403
    denied = AuditEvent.objects.filter(actor_username=getattr(case, who).username, outcome="denied")
    assert denied.count() >= 2


def test_the_consultant_abroad_sees_the_case_pseudonymised(
    case: Consilium, janus_server: JanusServer
) -> None:
    korean = logged_in(case.korean_cardiologist)
    page = korean.get(_page(case))
    assert page.status_code == 200
    text = page.content.decode()
    assert "Тынетегин" not in text and "Семён" not in text
    assert f"Case {case.consultation.uuid.hex[:8].upper()}" in text
    assert 'data-testid="pseudonymised"' in text
    seat = _join(korean, case).json()
    assert "Тынетегин" not in json.dumps(seat, ensure_ascii=False)


def test_each_browser_reports_its_links_and_sees_everyone_s(
    case: Consilium, janus_server: JanusServer
) -> None:
    feldsher, hub = logged_in(case.feldsher), logged_in(case.hub_cardiologist)
    _join(feldsher, case)
    _join(hub, case)
    figures = {
        "mode": "video",
        "sent_kbps": 131,
        "received_kbps": 176,
        "rtt_ms": 640,
        "loss_percent": 1.5,
    }
    answer = feldsher.post(f"{_page(case)}quality/", json.dumps(figures), "application/json")
    assert answer.status_code == 200
    mine = next(p for p in answer.json()["people"] if p["me"])
    assert (mine["sent_kbps"], mine["received_kbps"], mine["rtt_ms"]) == (131, 176, 640)
    assert mine["loss_percent"] == 1.5
    # The other side sees the feldsher's link, with the time in their own zone.
    seen = hub.post(f"{_page(case)}quality/", json.dumps({"mode": "audio"}), "application/json")
    theirs = next(p for p in seen.json()["people"] if p["name"] == "Anna Rultyneut")
    assert theirs["rtt_ms"] == 640
    assert "Asia/Anadyr" in theirs["joined"]

    wrong = feldsher.post(
        f"{_page(case)}quality/", json.dumps({"sent_kbps": -5}), "application/json"
    )
    assert wrong.status_code == 400 and "sent_kbps" in wrong.json()["error"]
    unknown = feldsher.post(
        f"{_page(case)}quality/", json.dumps({"bandwidth": 5}), "application/json"
    )
    assert unknown.status_code == 400 and "bandwidth" in unknown.json()["error"]
    broken = feldsher.post(f"{_page(case)}quality/", "{not json", "application/json")
    assert broken.status_code == 400


def test_without_janus_the_page_points_to_the_call_of_two(case: Consilium) -> None:
    feldsher = logged_in(case.feldsher)
    with override_settings(FARCARE_JANUS_URL="", FARCARE_JANUS_WS_URL=""):
        page = feldsher.get(_page(case))
        assert page.status_code == 200
        text = page.content.decode()
        assert 'data-testid="consilium-unavailable"' in text
        assert f'href="/calls/{case.consultation.uuid}/"' in text
        assert 'data-testid="consilium-join"' not in text
        refused = _join(feldsher, case)
    assert refused.status_code == 503
    assert "video server" in refused.json()["error"]
    assert not Call.objects.filter(consultation=case.consultation).exists()


def test_a_janus_that_does_not_answer_undoes_the_join(case: Consilium) -> None:
    feldsher = logged_in(case.feldsher)
    with override_settings(
        FARCARE_JANUS_URL="http://127.0.0.1:9/janus",
        FARCARE_JANUS_WS_URL="ws://127.0.0.1:9",
        FARCARE_JANUS_TIMEOUT_SECONDS=1,
    ):
        refused = _join(feldsher, case)
    assert refused.status_code == 503
    call = Call.objects.get(consultation=case.consultation)
    assert call.ended_at is not None
    assert call.participants.get().left_at is not None


def test_a_member_taken_off_the_case_is_put_out_at_the_next_report(
    case: Consilium, janus_server: JanusServer, django_capture_on_commit_callbacks: Any
) -> None:
    """The Korean partner is taken off the consultation during the consilium: their next report
    is refused and ends their presence; joining again is refused with the same words, so the
    page stops there instead of rejoining for ever."""
    feldsher, korean = logged_in(case.feldsher), logged_in(case.korean_cardiologist)
    _join(feldsher, case)
    _join(korean, case)
    figures = json.dumps({"mode": "audio", "sent_kbps": 30})
    assert korean.post(f"{_page(case)}quality/", figures, "application/json").status_code == 200

    case.consultation.assignments.filter(consultant=case.korean_cardiologist).update(
        ended_at=timezone.now(), end_reason="removed by the hub"
    )
    with django_capture_on_commit_callbacks(execute=True):
        refused = korean.post(f"{_page(case)}quality/", figures, "application/json")
    assert refused.status_code == 403
    assert refused.json() == {"error": "You are no longer in this call."}
    call = Call.objects.get(consultation=case.consultation, kind=CallKind.CONSILIUM)
    assert call.participants.get(user=case.korean_cardiologist).left_at is not None
    again = _join(korean, case)
    assert again.status_code == 403
    assert again.json() == {"error": "You are no longer in this call."}
    # The others see them gone.
    people = feldsher.post(f"{_page(case)}quality/", figures, "application/json").json()["people"]
    assert "Jiwoo Park" not in {p["name"] for p in people}
