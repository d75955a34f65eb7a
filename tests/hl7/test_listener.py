"""A laboratory system sends ORU^R01 results to the running listener over MLLP (the message
built with hl7apy, sent over a real socket), and gets AA, AE or AR with the reason; a repeated
control id is applied once; broken framing gets a NACK or a closed connection and the listener
goes on answering."""

from __future__ import annotations

import socket
import threading
import uuid

import pytest

from farcare.audit.models import AuditEvent
from farcare.audit.services import Accessor
from farcare.diagnostics.models import CriticalAlert, DiagnosticReport, ResultObservation
from farcare.diagnostics.services.ordering import order_place
from farcare.hl7.ack import read_ack
from farcare.hl7.listener import RunningListener
from farcare.hl7.models import ReceivedMessage
from farcare.notifications.models import Notification

from .conftest import Laboratory, send
from .messages import BMP, Oru

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_cbc_is_stored_and_acknowledged_aa(
    laboratory: Laboratory, listener: RunningListener
) -> None:
    answer = send(listener, Oru("CBC-1", snils=laboratory.patient.snils).build())

    code, control_id, _text = read_ack(answer)
    assert (code, control_id) == ("AA", "CBC-1")
    report = DiagnosticReport.objects.get(patient=laboratory.patient)
    assert report.code == "58410-2"
    assert report.performer == laboratory.facility
    assert report.observations.count() == 5
    haemoglobin = report.observations.get(code="718-7")
    assert (haemoglobin.value_number, haemoglobin.unit) == (128, "g/L")
    received = ReceivedMessage.objects.get(control_id="CBC-1")
    assert received.ack_code == "AA"
    assert received.report_uuids == [str(report.uuid)]
    assert received.ack_message.encode() == answer
    # Who stored it: the laboratory's system account, over the HL7 channel.
    audit = AuditEvent.objects.filter(record_type="ReceivedMessage").get()
    assert (audit.actor_username, audit.channel) == (laboratory.interface.account.username, "hl7")
    assert audit.patient_uuid == laboratory.patient.uuid


def test_a_repeated_control_id_is_applied_once_and_answered_the_same(
    laboratory: Laboratory, listener: RunningListener
) -> None:
    message = Oru("BMP-7", snils=laboratory.patient.snils, panel=("51990-0", "BMP"), values=BMP)
    first = send(listener, message.build())
    again = send(listener, message.build())

    assert read_ack(first)[0] == "AA"
    assert again == first
    assert DiagnosticReport.objects.filter(patient=laboratory.patient).count() == 1
    assert ResultObservation.objects.filter(patient=laboratory.patient).count() == 10
    assert ReceivedMessage.objects.get(control_id="BMP-7").attempts == 1


def test_the_same_control_id_for_another_message_is_rejected(
    laboratory: Laboratory, listener: RunningListener
) -> None:
    send(listener, Oru("CBC-2", snils=laboratory.patient.snils).build())
    other = Oru("CBC-2", snils=laboratory.patient.snils, filler="F-2002").build()

    code, _control, text = read_ack(send(listener, other))

    assert code == "AR"
    assert "used before" in text
    assert DiagnosticReport.objects.count() == 1


def test_an_unknown_patient_is_ae_and_a_later_resend_is_stored(
    laboratory: Laboratory, listener: RunningListener
) -> None:
    message = Oru("CBC-3", snils="11223344595")
    code, control_id, text = read_ack(send(listener, message.build()))

    assert (code, control_id) == ("AE", "CBC-3")
    assert "could not be matched" in text
    assert DiagnosticReport.objects.count() == 0
    # The patient is registered meanwhile; the laboratory sends the message again.
    laboratory.patient.snils = "11223344595"
    laboratory.patient.save()
    assert read_ack(send(listener, message.build()))[0] == "AA"
    assert ReceivedMessage.objects.get(control_id="CBC-3").attempts == 2
    assert DiagnosticReport.objects.count() == 1


def test_a_message_type_we_do_not_take_is_ar(
    laboratory: Laboratory, listener: RunningListener
) -> None:
    message = Oru("ADT-1", snils=laboratory.patient.snils, message_type="ADT^A01^ADT_A01")
    code, control_id, text = read_ack(send(listener, message.build()))
    assert (code, control_id) == ("AR", "ADT-1")
    assert "message type ADT is not taken" in text


def test_an_unknown_sending_facility_is_ar(
    laboratory: Laboratory, listener: RunningListener
) -> None:
    message = Oru("X-1", snils=laboratory.patient.snils, sending_facility="ELSEWHERE")
    code, _control, text = read_ack(send(listener, message.build()))
    assert code == "AR"
    assert "ELSEWHERE" in text
    assert DiagnosticReport.objects.count() == 0


def test_a_critical_potassium_for_an_order_reaches_the_orderer(
    laboratory: Laboratory, listener: RunningListener
) -> None:
    order = order_place(
        accessor=Accessor(laboratory.clinician),
        patient=laboratory.patient,
        category="laboratory",
        codes=["51990-0"],
        reason="Weakness, on diuretics",
        priority="urgent",
        client_token=uuid.uuid4(),
        performer=laboratory.facility,
    )
    values = [
        row if row[0] != "2823-3" else (*row[:3], "6.9", "mmol/L", "3.5-5.1", "HH") for row in BMP
    ]
    message = Oru(
        "BMP-K",
        snils=laboratory.patient.snils,
        placer=order.placer_number,
        panel=("51990-0", "BMP"),
        values=values,
    )

    code, _control, text = read_ack(send(listener, message.build()))

    assert code == "AA"
    assert "1 critical" in text
    alert = CriticalAlert.objects.get(patient=laboratory.patient)
    assert alert.recipient == laboratory.clinician
    assert Notification.objects.filter(recipient=laboratory.clinician).exists()


def test_broken_framing_gets_a_nack_or_a_closed_connection_and_the_listener_goes_on(
    laboratory: Laboratory, listener: RunningListener
) -> None:
    unframed = Oru("RAW-1", snils=laboratory.patient.snils).build()
    # No start block: the header can be read, so a NACK, then the connection closes.
    code, control_id, _text = read_ack(send(listener, unframed + "\r", framed=False))
    assert (code, control_id) == ("AR", "RAW-1")
    # Garbage with no header: closed without an answer.
    assert send(listener, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", framed=False) == b""
    # A start block and never an end block: answered when the frame timeout passes.
    with socket.create_connection((listener.host, listener.port), timeout=10) as sock:
        sock.sendall(b"\x0b" + unframed.replace("RAW-1", "RAW-2").encode())
        answer = sock.recv(65536)
        assert read_ack(answer.strip(b"\x0b\x1c\r"))[:2] == ("AR", "RAW-2")
        assert sock.recv(65536) == b""
    # A client that connects and leaves at once.
    socket.create_connection((listener.host, listener.port)).close()
    assert DiagnosticReport.objects.count() == 0

    after = send(listener, Oru("OK-1", snils=laboratory.patient.snils).build())
    assert read_ack(after)[0] == "AA"


def test_many_laboratory_connections_at_once_are_all_answered(
    laboratory: Laboratory, listener: RunningListener
) -> None:
    answers: dict[int, bytes] = {}

    def analyser(number: int) -> None:
        message = Oru(f"MANY-{number}", snils=laboratory.patient.snils, filler=f"F-{number}")
        answers[number] = send(listener, message.build())

    threads = [threading.Thread(target=analyser, args=(number,)) for number in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert sorted(read_ack(answer)[:2] for answer in answers.values()) == sorted(
        ("AA", f"MANY-{number}") for number in range(8)
    )
    assert DiagnosticReport.objects.count() == 8
