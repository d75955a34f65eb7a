"""A browser's link figures that are not numbers a link can show — NaN, Infinity, 10^999, a
string, JSON nested five thousand deep — are refused: the consilium's endpoint answers 400 in
JSON, the call's socket says what it refused and stays open, and nothing is stored."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import async_to_sync

from farcare.audit.services import Accessor
from farcare.calls.models import CallKind, CallParticipant
from farcare.calls.services import call_join

from ..conftest import Chain, logged_in
from .consilium_scene import consilium_case
from .test_call_socket import socket_of, started

NOT_FIGURES = [
    '{"loss_percent": NaN}',
    '{"sent_kbps": NaN, "loss_percent": Infinity}',
    '{"rtt_ms": -Infinity}',
    '{"rtt_ms": 1e999}',
    '{"mode": "video", "loss_percent": "1e999999999"}',
    '{"loss_percent": 100.5}',
    '{"received_kbps": 5000000000}',
    '{"rtt_ms": 60001}',
    "[" * 5000 + "]" * 5000,
]


@pytest.mark.django_db
@pytest.mark.parametrize("body", NOT_FIGURES)
def test_the_consilium_refuses_figures_that_are_not_numbers(chain: Chain, body: str) -> None:
    case = consilium_case(chain)
    call_join(
        accessor=Accessor(case.feldsher), consultation=case.consultation, kind=CallKind.CONSILIUM
    )
    response = logged_in(case.feldsher).post(
        f"/calls/{case.consultation.uuid}/consilium/quality/", body, "application/json"
    )
    assert response.status_code == 400
    assert response.json()["error"]
    me = CallParticipant.objects.get(user=case.feldsher)
    assert (me.sent_kbps, me.received_kbps, me.rtt_ms, me.loss_percent) == (None,) * 4


@pytest.mark.django_db(transaction=True)
def test_the_call_socket_refuses_them_and_stays_open(scene, case) -> None:
    call = started(scene, case)
    socket = socket_of(scene.feldsher, call)

    @async_to_sync
    async def talk() -> None:
        connected, _ = await socket.connect()
        assert connected
        await socket.receive_json_from()  # hello
        for text, refused in (
            ('{"type": "quality", "mode": "audio", "loss_percent": NaN}', "json"),
            ('{"type": "quality", "mode": "audio", "rtt_ms": 1e999}', "quality"),
            ('{"type": "quality", "mode": "audio", "sent_kbps": "fast"}', "quality"),
            ("[" * 5000 + "]" * 5000, "json"),
        ):
            await socket.send_input({"type": "websocket.receive", "text": text})
            assert await socket.receive_json_from() == {"type": "error", "refused": refused}
        # Still open: a good report is taken.
        good = {"type": "quality", "mode": "audio", "sent_kbps": 30, "loss_percent": 0.5}
        await socket.send_input({"type": "websocket.receive", "text": json.dumps(good)})
        assert await socket.receive_nothing(timeout=0.5)
        await socket.disconnect()

    talk()
    me = CallParticipant.objects.get(call=call, user=scene.feldsher)
    assert me.sent_kbps == 30 and str(me.loss_percent) == "0.50"
