"""The server's client of Janus against a real Janus on loopback: a consilium's room is made
private with its pin, small and capped, and goes when it is destroyed; a browser's token opens
Janus, a forged one does not."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from farcare.calls import janus
from farcare.testing.janus import JanusServer, janus_for_farcare


@pytest.fixture
def janus_server(tmp_path: Path) -> Iterator[JanusServer]:
    with janus_for_farcare(tmp_path / "janus") as server:
        yield server


def _raw(server: JanusServer, body: dict[str, object], path: str = "") -> dict[str, object]:
    answer: dict[str, object] = requests.post(
        f"{server.http_url}{path}", data=json.dumps({**body, "transaction": "t"}), timeout=5
    ).json()
    return answer


def test_a_room_is_made_private_and_capped_and_goes_when_destroyed(
    janus_server: JanusServer,
) -> None:
    client = janus.JanusClient()
    room = client.create_room(pin="pin-1", secret="secret-1", description="consilium test")

    assert 0 < room.id <= janus.MAX_ROOM_ID
    assert client.room_exists(room.id)
    assert client.participants(room) == []

    # Janus itself says what kind of room it is (asked with the room's secret).
    session = _raw(janus_server, {"janus": "create", "apisecret": janus_server.api_secret})
    session_id = session["data"]["id"]  # type: ignore[index]
    handle = _raw(
        janus_server,
        {"janus": "attach", "plugin": janus.PLUGIN, "apisecret": janus_server.api_secret},
        f"/{session_id}",
    )["data"]["id"]  # type: ignore[index]
    listed = _raw(
        janus_server,
        {
            "janus": "message",
            "apisecret": janus_server.api_secret,
            "body": {"request": "list", "admin_key": ""},
        },
        f"/{session_id}/{handle}",
    )
    rooms = listed["plugindata"]["data"]["list"]  # type: ignore[index]
    # Private rooms are not listed to anyone who asks.
    assert room.id not in [r["room"] for r in rooms]

    client.destroy_room(room)
    assert not client.room_exists(room.id)
    # Destroying it twice is harmless (the last two people may both end the call).
    client.destroy_room(room)


def test_a_room_number_in_use_is_not_taken_twice(janus_server: JanusServer) -> None:
    client = janus.JanusClient()
    first = client.create_room(pin="a", secret="a", description="one")
    with pytest.raises(janus.RoomError) as refused:
        client.create_room(pin="b", secret="b", description="two", room_id=first.id)
    assert refused.value.code == janus.ROOM_EXISTS
    # A wrong secret cannot destroy someone else's room.
    with pytest.raises(janus.RoomError):
        client.destroy_room(janus.Room(first.id, "a", "not-the-secret"))
    assert client.room_exists(first.id)


def test_without_the_api_secret_janus_refuses_the_server(janus_server: JanusServer) -> None:
    with pytest.raises(janus.JanusError, match="Unauthorized"):
        janus.JanusClient(api_secret="guessed").create_room(pin="x", secret="y", description="z")


def test_a_signed_browser_token_opens_janus_and_a_forged_or_old_one_does_not(
    janus_server: JanusServer,
) -> None:
    good = janus.browser_token()
    assert _raw(janus_server, {"janus": "create", "token": good})["janus"] == "success"

    expired = janus.browser_token(lifetime_seconds=-60)
    assert _raw(janus_server, {"janus": "create", "token": expired})["janus"] == "error"

    data, _signature = good.split(":")
    forged = f"{data}:AAAAAAAAAAAAAAAAAAAAAAAAAAA="
    assert _raw(janus_server, {"janus": "create", "token": forged})["janus"] == "error"


def test_a_janus_that_is_down_is_a_janus_error() -> None:
    with pytest.raises(janus.JanusError):
        janus.JanusClient("http://127.0.0.1:9/janus", timeout=1).room_exists(1)
