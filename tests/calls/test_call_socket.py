"""The call's signalling socket on the real ASGI app: only the call's two people get in (4403
for anyone else), what one sends reaches the other and nobody else, a drop and a return count
as a reconnect of the same presence, and hanging up ends the call for both."""

from __future__ import annotations

import json
import uuid

import pytest
from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator
from channels.db import database_sync_to_async
from django.core.files.uploadedfile import SimpleUploadedFile

from farcare.asgi import application
from farcare.audit.models import AuditEvent
from farcare.audit.services import Accessor
from farcare.calls.models import Call, CallKind, CallParticipant
from farcare.calls.services import call_join
from farcare.consults.attachments import attachment_store
from farcare.consults.services.handling import consult_reassign

from ..conftest import logged_in

pytestmark = pytest.mark.django_db(transaction=True)

# The smallest JPEG a check of its first bytes accepts (no preview can be made of it).
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64 + b"\xff\xd9"


class Socket(ApplicationCommunicator):
    """A browser's end of a WebSocket, on the ASGI app itself (channels.testing would need
    daphne, which the project does not install)."""

    def __init__(self, path: str, headers: list[tuple[bytes, bytes]]) -> None:
        scope = {"type": "websocket", "path": path, "headers": headers, "subprotocols": []}
        scope |= {"client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 80)}
        super().__init__(application, scope)

    async def connect(self, timeout: float = 20):
        await self.send_input({"type": "websocket.connect"})
        answer = await self.receive_output(timeout)
        return answer["type"] == "websocket.accept", answer

    async def send_json_to(self, data) -> None:
        await self.send_input({"type": "websocket.receive", "text": json.dumps(data)})

    async def receive_json_from(self, timeout: float = 20):
        answer = await self.receive_output(timeout)
        assert answer["type"] == "websocket.send", answer
        return json.loads(answer["text"])

    async def disconnect(self, code: int = 1000, timeout: float = 20) -> None:
        await self.send_input({"type": "websocket.disconnect", "code": code})
        await self.wait(timeout)


def socket_of(user, call):
    cookie = logged_in(user).cookies["sessionid"].value
    return Socket(
        f"/ws/call/{call.uuid}/",
        headers=[(b"cookie", f"sessionid={cookie}".encode()), (b"origin", b"http://127.0.0.1")],
    )


def started(scene, case) -> Call:
    joined = call_join(
        accessor=Accessor(scene.feldsher, "127.0.0.1"), consultation=case, kind=CallKind.PAIR
    )
    return joined.call


@async_to_sync
async def two_talk(feldsher_socket, consultant_socket):
    connected, _ = await feldsher_socket.connect()
    assert connected
    hello = await feldsher_socket.receive_json_from()
    assert hello == {"type": "hello", "polite": True, "peers": 0}
    connected, _ = await consultant_socket.connect()
    assert connected
    assert await consultant_socket.receive_json_from() == {
        "type": "hello",
        "polite": False,
        "peers": 1,
    }
    assert await feldsher_socket.receive_json_from() == {"type": "peer-joined"}
    offer = {"description": {"type": "offer", "sdp": "v=0\r\n"}}
    await consultant_socket.send_json_to({"type": "signal", "data": offer})
    assert await feldsher_socket.receive_json_from() == {"type": "signal", "data": offer}
    # Not echoed to the sender.
    assert await consultant_socket.receive_nothing(timeout=0.2)
    figures = {"mode": "audio", "sent_kbps": 30, "received_kbps": 28, "rtt_ms": 640}
    await feldsher_socket.send_json_to(
        {"type": "quality", **figures, "loss_percent": 0.5, "audio_only": True}
    )
    # The feldsher wants no video: the consultant's page hears it and sends none either.
    assert await consultant_socket.receive_json_from() == {
        "type": "quality",
        **figures,
        "loss_percent": 0.5,
        "audio_only": True,
    }
    await feldsher_socket.send_json_to({"type": "quality", "mode": "smell"})
    assert await feldsher_socket.receive_json_from() == {"type": "error", "refused": "quality"}
    await feldsher_socket.send_json_to({"type": "gossip"})
    assert await feldsher_socket.receive_json_from() == {"type": "error", "refused": "type"}
    # The feldsher's link drops and comes back.
    await feldsher_socket.disconnect()
    assert await consultant_socket.receive_json_from() == {"type": "peer-left"}


def test_the_two_sides_signal_to_each_other_and_a_drop_is_a_reconnect(scene, case):
    call = started(scene, case)
    two_talk(socket_of(scene.feldsher, call), socket_of(scene.hub_cardiologist, call))
    feldsher = CallParticipant.objects.get(call=call, user=scene.feldsher)
    assert feldsher.mode == "audio" and feldsher.sent_kbps == 30 and feldsher.rtt_ms == 640
    assert feldsher.left_at is not None
    back = socket_of(scene.feldsher, call)

    @async_to_sync
    async def come_back():
        connected, _ = await back.connect()
        assert connected
        assert (await back.receive_json_from())["peers"] == 1
        await back.send_json_to({"type": "hangup"})
        assert await back.receive_json_from() == {"type": "ended"}
        await back.disconnect()

    come_back()
    feldsher.refresh_from_db()
    assert feldsher.reconnects == 1
    call.refresh_from_db()
    assert call.ended_at is not None
    assert case.transitions.filter(event="call_ended").count() == 1


def test_a_stranger_is_closed_with_4403(scene, case):
    call = started(scene, case)

    @async_to_sync
    async def knock(socket):
        connected, _ = await socket.connect()
        assert connected
        closed = await socket.receive_output(20)
        assert closed == {"type": "websocket.close", "code": 4403}

    knock(socket_of(scene.federal_cardiologist, call))
    knock(socket_of(scene.coordinator, call))
    assert not call.participants.exclude(user=scene.feldsher).exists()


def test_a_stranger_s_knock_is_audited_once_linked_to_the_patient(scene, case):
    """The page audits a refused join; the socket, the other way in, does the same."""
    call = started(scene, case)
    before = set(AuditEvent.objects.filter(action="denied").values_list("pk", flat=True))

    @async_to_sync
    async def knock(socket):
        assert (await socket.connect())[0]
        assert await socket.receive_output(20) == {"type": "websocket.close", "code": 4403}

    knock(socket_of(scene.federal_cardiologist, call))
    denied = AuditEvent.objects.filter(action="denied").exclude(pk__in=before)
    assert denied.count() == 1
    refusal = denied.get()
    assert refusal.actor_username == scene.federal_cardiologist.username
    assert refusal.patient_uuid == case.patient.uuid
    assert refusal.channel == "socket"


def test_a_knock_on_a_call_that_does_not_exist_looks_the_same_and_is_audited(scene, case):
    call = started(scene, case)
    nowhere = Call(uuid=uuid.uuid4(), consultation=case)
    before = set(AuditEvent.objects.filter(action="denied").values_list("pk", flat=True))

    @async_to_sync
    async def knock(socket):
        assert (await socket.connect())[0]
        # 4403 as for a call one may not join: a knock learns nothing of what exists.
        assert await socket.receive_output(20) == {"type": "websocket.close", "code": 4403}

    knock(socket_of(scene.federal_cardiologist, nowhere))
    refusal = AuditEvent.objects.filter(action="denied").exclude(pk__in=before).get()
    assert refusal.patient_uuid is None
    assert refusal.details["call"] == str(nowhere.uuid)
    assert not call.participants.exclude(user=scene.feldsher).exists()


def test_a_consultant_taken_off_the_case_is_put_out_at_the_next_report(scene, case):
    """The coordinator hands the case to another cardiologist during the call: the first one's
    next quality report closes their socket with 4403 and their presence ends."""
    call = started(scene, case)
    feldsher_socket = socket_of(scene.feldsher, call)
    consultant_socket = socket_of(scene.hub_cardiologist, call)
    figures = {"type": "quality", "mode": "audio", "sent_kbps": 30}

    @async_to_sync
    async def talk_then_reassign():
        assert (await feldsher_socket.connect())[0]
        await feldsher_socket.receive_json_from()  # hello
        assert (await consultant_socket.connect())[0]
        await consultant_socket.receive_json_from()  # hello
        await feldsher_socket.receive_json_from()  # peer-joined
        await consultant_socket.send_json_to(figures)
        assert (await feldsher_socket.receive_json_from())["type"] == "quality"

        await database_sync_to_async(consult_reassign)(
            accessor=Accessor(scene.coordinator, "127.0.0.1"),
            consultation=case,
            consultant=scene.federal_cardiologist,
            reason="Needs the federal centre",
        )
        await consultant_socket.send_json_to(figures)
        assert await consultant_socket.receive_output(20) == {
            "type": "websocket.close",
            "code": 4403,
        }
        await consultant_socket.send_input({"type": "websocket.disconnect", "code": 4403})
        await consultant_socket.wait(20)
        # The feldsher hears them leave, not their figures.
        assert await feldsher_socket.receive_json_from() == {"type": "peer-left"}
        await feldsher_socket.disconnect()

    talk_then_reassign()
    gone = CallParticipant.objects.get(call=call, user=scene.hub_cardiologist)
    assert gone.left_at is not None


def test_an_ended_call_says_so(scene, case):
    call = started(scene, case)
    call.ended_at = call.started_at
    call.save()

    socket = socket_of(scene.feldsher, call)

    @async_to_sync
    async def knock():
        await socket.connect()
        assert await socket.receive_output(20) == {"type": "websocket.close", "code": 4410}

    knock()


def test_a_photo_is_announced_by_its_attachment_alone(scene, case):
    """The feldsher filed a photo with the consultation (by tus): the consultant hears its
    UUID, nothing else; a UUID of another case's file, or anything but a UUID, is refused."""
    call = started(scene, case)
    photo = attachment_store(
        consultation=case,
        upload=SimpleUploadedFile("rash.jpg", JPEG, content_type="image/jpeg"),
        user=scene.feldsher,
    )
    elsewhere = attachment_store(
        consultation=scene.submit("planned"),
        upload=SimpleUploadedFile("other.jpg", JPEG, content_type="image/jpeg"),
        user=scene.feldsher,
    )
    feldsher_socket = socket_of(scene.feldsher, call)
    consultant_socket = socket_of(scene.hub_cardiologist, call)

    @async_to_sync
    async def show():
        assert (await feldsher_socket.connect())[0]
        await feldsher_socket.receive_json_from()  # hello
        assert (await consultant_socket.connect())[0]
        await consultant_socket.receive_json_from()  # hello
        await feldsher_socket.receive_json_from()  # peer-joined
        await feldsher_socket.send_json_to(
            {"type": "photo", "attachment": str(photo.uuid), "name": "Тынетегин, rash"}
        )
        assert await consultant_socket.receive_json_from() == {
            "type": "photo",
            "attachment": str(photo.uuid),
        }
        for wrong in (str(elsewhere.uuid), "../../etc/passwd", None):
            await feldsher_socket.send_json_to({"type": "photo", "attachment": wrong})
            assert await feldsher_socket.receive_json_from() == {
                "type": "error",
                "refused": "photo",
            }
        assert await consultant_socket.receive_nothing(timeout=0.2)
        await feldsher_socket.disconnect()
        await consultant_socket.disconnect()

    show()
