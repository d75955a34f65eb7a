from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from farcare.accounts.models import Role, User
from farcare.audit.services import Accessor
from farcare.diagnostics.models import Capability, Category
from farcare.hl7.interfaces import interface_add
from farcare.hl7.listener import RunningListener, listening
from farcare.hl7.mllp import ListenerConfig
from farcare.hl7.models import LaboratoryInterface
from farcare.network.models import Facility
from farcare.patients.models import Patient
from tests.conftest import Chain, make_user
from tests.factories import PatientFactory


@dataclass
class Laboratory:
    facility: Facility
    interface: LaboratoryInterface
    patient: Patient
    clinician: User


@pytest.fixture
def laboratory(chain: Chain, settings: pytest.FixtureRequest) -> Laboratory:
    """The regional hub's laboratory, whose system sends MSH-4 = CITYLAB; a patient of the
    post, and the post's feldsher who orders tests."""
    settings.FARCARE_HL7_LANGUAGE = "en"  # type: ignore[attr-defined]
    Capability.objects.create(facility=chain.hub, category=Category.LABORATORY)
    interface = interface_add(
        accessor=Accessor(None, None, "cli"), facility=chain.hub, sending_facility="CITYLAB"
    )
    patient: Patient = PatientFactory(home_facility=chain.post)  # type: ignore[assignment]
    clinician = make_user(Role.CLINICIAN, chain.post, language="en")
    return Laboratory(chain.hub, interface, patient, clinician)


@pytest.fixture
def listener(laboratory: Laboratory) -> Iterator[RunningListener]:
    """`farcare hl7 listen` on a free loopback port, in a thread, against the test database."""
    with listening("127.0.0.1", 0, ListenerConfig(frame_timeout=1.0, workers=4)) as running:
        yield running


def send(running: RunningListener, message: str | bytes, *, framed: bool = True) -> bytes:
    """What an analyser does: connect, write, read until the answer's end block or close.
    Returns the answer without its blocks ('' when the listener closed without one)."""
    data = message.encode("utf-8") if isinstance(message, str) else message
    with socket.create_connection((running.host, running.port), timeout=10) as sock:
        sock.sendall(b"\x0b" + data + b"\x1c\x0d" if framed else data)
        received = b""
        while not received.endswith(b"\x1c\x0d"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
    return received.removeprefix(b"\x0b").removesuffix(b"\x1c\x0d")
