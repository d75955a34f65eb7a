"""A laboratory whose system asked for orders gets each laboratory order placed for it as
OML^O21 (or ORM^O01) over MLLP, after the order is committed; while the laboratory cannot be
reached the order stands and the message waits to be retried."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.utils import timezone

from farcare.audit.services import Accessor
from farcare.diagnostics.models import DiagnosticOrder
from farcare.diagnostics.services.ordering import order_place
from farcare.hl7.ack import AckCode, build_ack
from farcare.hl7.header import read_header
from farcare.hl7.interfaces import interface_add
from farcare.hl7.mllp import Deframer, frame
from farcare.hl7.models import OutboundMessage, OutboundStatus
from farcare.hl7.orders_out import deliver_due

from .conftest import Laboratory

pytestmark = pytest.mark.django_db(transaction=True)


@contextmanager
def laboratory_system(answer: str = "AA") -> Iterator[tuple[int, list[str]]]:
    """A laboratory information system's MLLP port on loopback: it keeps what it receives
    and acknowledges each message."""
    received: list[str] = []
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _address = server.accept()
            except TimeoutError:
                continue
            with conn:
                deframer = Deframer()
                conn.settimeout(5)
                while not (messages := deframer.feed(conn.recv(65536))):
                    pass
                text = messages[0].decode()  # type: ignore[union-attr]
                received.append(text)
                header = read_header(text)
                assert header is not None
                conn.sendall(frame(build_ack(header, AckCode(answer))))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1], received
    finally:
        stop.set()
        thread.join(5)
        server.close()


def place(laboratory: Laboratory) -> DiagnosticOrder:
    return order_place(
        accessor=Accessor(laboratory.clinician),
        patient=laboratory.patient,
        category="laboratory",
        codes=["58410-2", "51990-0"],
        reason="Fatigue | weight loss",
        priority="stat",
        client_token=uuid.uuid4(),
        performer=laboratory.facility,
    )


def wait_for(predicate: object, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


def test_an_order_placed_for_the_laboratory_reaches_its_system_as_oml(
    laboratory: Laboratory,
) -> None:
    with laboratory_system() as (port, received):
        interface_add(
            accessor=Accessor(None, None, "cli"),
            facility=laboratory.facility,
            sending_facility="CITYLAB",
            order_message="OML^O21",
            host="127.0.0.1",
            port=port,
        )
        order = place(laboratory)
        wait_for(lambda: OutboundMessage.objects.filter(status=OutboundStatus.SENT).exists())

    (text,) = received
    segments = {line.split("|")[0]: line.split("|") for line in text.split("\r")}
    assert segments["MSH"][8] == "OML^O21^OML_O21"
    assert segments["MSH"][5] == "CITYLAB"
    pid = segments["PID"]
    assert f"{laboratory.patient.uuid}^^^FARCARE^PI" in pid[3]
    assert f"{laboratory.patient.snils}^^^SNILS^PT" in pid[3]
    assert pid[5].startswith("Иванов^Иван")
    orcs = [line.split("|") for line in text.split("\r") if line.startswith("ORC")]
    obrs = [line.split("|") for line in text.split("\r") if line.startswith("OBR")]
    assert [orc[1] for orc in orcs] == ["NW", "NW"]
    assert {obr[2] for obr in obrs} == {f"{order.placer_number}^FARCARE"}
    assert sorted(obr[4].split("^")[0] for obr in obrs) == ["51990-0", "58410-2"]
    assert obrs[0][13] == "Fatigue \\F\\ weight loss"
    assert orcs[0][7] == "^^^^^S"
    sent = OutboundMessage.objects.get(order=order)
    assert (sent.ack_code, sent.attempts) == ("AA", 1)


def test_an_unreachable_laboratory_does_not_stop_the_order_and_is_retried(
    laboratory: Laboratory,
) -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        closed_port = probe.getsockname()[1]
    interface = interface_add(
        accessor=Accessor(None, None, "cli"),
        facility=laboratory.facility,
        sending_facility="CITYLAB",
        order_message="ORM^O01",
        host="127.0.0.1",
        port=closed_port,
    )
    order = place(laboratory)

    assert DiagnosticOrder.objects.filter(pk=order.pk, status="active").exists()
    wait_for(lambda: OutboundMessage.objects.filter(order=order, attempts=1).exists())
    wait_for(lambda: OutboundMessage.objects.filter(order=order, last_error__gt="").exists())
    queued = OutboundMessage.objects.get(order=order)
    assert queued.status == OutboundStatus.PENDING
    assert queued.next_attempt_at is not None and queued.next_attempt_at > timezone.now()

    with laboratory_system() as (port, received):
        interface.port = port
        interface.save()
        report = deliver_due(timezone.now() + timedelta(minutes=5))

    assert report.sent == [queued.control_id]
    assert received[0].split("\r")[0].split("|")[8] == "ORM^O01^ORM_O01"
    assert OutboundMessage.objects.get(order=order).attempts == 2


def test_orders_for_a_laboratory_without_an_interface_are_not_queued(
    laboratory: Laboratory,
) -> None:
    place(laboratory)  # the laboratory's interface takes results only
    assert not OutboundMessage.objects.exists()
