"""A small typed client of Janus's HTTP API, as the server uses it: make and unmake the video
room of a consilium call, and sign the tokens browsers show Janus.

The server holds Janus's `api_secret`; browsers never see it. They get a token signed with
Janus's `token_auth_secret` (HMAC-SHA1 of "<expiry>,janus,<plugin>", Janus's signed-token
format) that lets them use the video room plugin until it expires, and the room's pin, which
lets them into that one room. The room's own `secret` (to change or destroy it) stays here.

Rooms are small and cheap on purpose: private (not listed), at most five publishers by default,
each publisher's video capped at 128 kbit/s (a feldsher's satellite link carries four streams in
and one out), Opus and VP8, never recorded. `publishers` limits only those who send media (Janus
counts a participant against it when they `publish`, not when they join): a teaching session's
room has a few publishers (trainers) and any number of listeners, who join the room without
publishing and subscribe to the publishers' streams.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

import requests
from django.conf import settings

PLUGIN = "janus.plugin.videoroom"
MAX_PUBLISHERS = 5
# bit/s per publisher; Janus asks each browser (REMB) to keep its video under it.
BITRATE_CAP = 128_000
# Room ids are numbers that browsers handle too: keep them within JavaScript's safe integers.
MAX_ROOM_ID = 2**53 - 1
# Janus's video room error codes this client handles by name.
NO_SUCH_ROOM = 426
ROOM_EXISTS = 427


class JanusError(Exception):
    """Janus could not be reached or refused a request."""


@dataclass(frozen=True)
class Room:
    id: int
    pin: str
    secret: str


def configured() -> bool:
    return bool(settings.FARCARE_JANUS_URL and settings.FARCARE_JANUS_WS_URL)


def browser_token(*, lifetime_seconds: int = 8 * 3600, now: float | None = None) -> str:
    """A token for one browser's session with Janus: the video room plugin only, until it
    expires (Janus checks it on every request, so it outlasts any consilium)."""
    expires = int((now if now is not None else time.time()) + lifetime_seconds)
    data = f"{expires},janus,{PLUGIN}"
    key = settings.FARCARE_JANUS_TOKEN_SECRET.encode()
    signature = base64.b64encode(hmac.new(key, data.encode(), hashlib.sha1).digest()).decode()
    return f"{data}:{signature}"


class JanusClient:
    def __init__(
        self,
        url: str | None = None,
        *,
        api_secret: str | None = None,
        timeout: float | None = None,
    ) -> None:
        self.url = (url if url is not None else settings.FARCARE_JANUS_URL).rstrip("/")
        self.api_secret = (
            api_secret if api_secret is not None else settings.FARCARE_JANUS_API_SECRET
        )
        self.timeout = timeout if timeout is not None else settings.FARCARE_JANUS_TIMEOUT_SECONDS
        if not self.url:
            raise JanusError("FARCARE_JANUS_URL is not set")

    def _post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        body = {**payload, "transaction": uuid.uuid4().hex}
        if self.api_secret:
            body["apisecret"] = self.api_secret
        try:
            response = requests.post(f"{self.url}{path}", json=body, timeout=self.timeout)
            answer: dict[str, Any] = response.json()
        except (requests.RequestException, ValueError) as error:
            raise JanusError(f"Janus at {self.url} did not answer: {error}") from error
        if answer.get("janus") == "error":
            problem = answer.get("error") or {}
            raise JanusError(f"Janus refused {payload.get('janus')}: {problem.get('reason')}")
        return answer

    @contextmanager
    def _videoroom(self) -> Iterator[str]:
        """A session with the video room plugin attached, for a few requests; the path of its
        handle. The session is destroyed after (Janus would time it out in a minute anyway)."""
        session = self._post("", {"janus": "create"})["data"]["id"]
        try:
            handle = self._post(f"/{session}", {"janus": "attach", "plugin": PLUGIN})["data"]["id"]
            yield f"/{session}/{handle}"
        finally:
            with suppress(JanusError):
                self._post(f"/{session}", {"janus": "destroy"})

    def _request(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """One synchronous video room request; its answer's data, or JanusError."""
        answer = self._post(path, {"janus": "message", "body": body})
        data: dict[str, Any] = answer.get("plugindata", {}).get("data", {})
        if data.get("videoroom") == "event" and "error_code" in data:
            raise RoomError(int(data["error_code"]), str(data.get("error", "")))
        return data

    def create_room(
        self,
        *,
        pin: str,
        secret: str,
        description: str,
        room_id: int | None = None,
        publishers: int = MAX_PUBLISHERS,
    ) -> Room:
        """A new private room with this pin (to join) and secret (to change or destroy it);
        under a random number, or under `room_id` to make it again (after Janus restarted and
        forgot it). At most `publishers` of its participants send media at once; the others
        only receive."""
        if publishers < 1:
            raise ValueError(f"a room needs at least one publisher, not {publishers}")
        with self._videoroom() as path:
            for _attempt in range(5):
                number = room_id or secrets.randbelow(MAX_ROOM_ID) + 1
                try:
                    self._request(
                        path,
                        {
                            "request": "create",
                            "room": number,
                            "description": description,
                            "is_private": True,
                            "pin": pin,
                            "secret": secret,
                            "publishers": publishers,
                            "bitrate": BITRATE_CAP,
                            "bitrate_cap": True,
                            "audiocodec": "opus",
                            "videocodec": "vp8",
                            "notify_joining": True,
                            "record": False,
                            "permanent": False,
                        },
                    )
                    return Room(number, pin, secret)
                except RoomError as error:
                    if error.code != ROOM_EXISTS or room_id is not None:
                        raise
        raise JanusError("Janus had a room under every number tried")

    def room_exists(self, room_id: int) -> bool:
        with self._videoroom() as path:
            return bool(self._request(path, {"request": "exists", "room": room_id}).get("exists"))

    def destroy_room(self, room: Room) -> None:
        """Close the room (everyone still in it is told); a room already gone is fine."""
        with self._videoroom() as path:
            try:
                self._request(
                    path,
                    {"request": "destroy", "room": room.id, "secret": room.secret},
                )
            except RoomError as error:
                if error.code != NO_SUCH_ROOM:
                    raise

    def participants(self, room: Room) -> list[dict[str, Any]]:
        """Who is in the room as Janus sees it (id, display, publisher)."""
        with self._videoroom() as path:
            data = self._request(path, {"request": "listparticipants", "room": room.id})
        people: list[dict[str, Any]] = data.get("participants", [])
        return people


class RoomError(JanusError):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"video room error {code}: {reason}")
        self.code = code
