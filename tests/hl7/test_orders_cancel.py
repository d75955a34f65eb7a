"""The feldsher cancels an order the laboratory's system already accepted: the laboratory gets
the cancel (ORC-1 "CA", in the message type its interface asked for) through the same outbox,
once; an order cancelled before it was ever sent is simply not sent."""

from __future__ import annotations

import pytest
from django.utils import timezone

from farcare.audit.services import Accessor
from farcare.diagnostics.services.ordering import order_cancel
from farcare.hl7.interfaces import interface_add
from farcare.hl7.models import OrderControl, OutboundMessage, OutboundStatus
from farcare.hl7.orders_out import deliver_due

from .conftest import Laboratory
from .test_orders_out import laboratory_system, place, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def segments(text: str, name: str) -> list[list[str]]:
    return [line.split("|") for line in text.split("\r") if line.startswith(name + "|")]


@pytest.mark.parametrize(
    ("configured", "msh_9"), [("OML^O21", "OML^O21^OML_O21"), ("ORM^O01", "ORM^O01^ORM_O01")]
)
def test_an_order_cancelled_after_the_laboratory_accepted_it_is_cancelled_there(
    laboratory: Laboratory, configured: str, msh_9: str
) -> None:
    with laboratory_system() as (port, received):
        interface_add(
            accessor=Accessor(None, None, "cli"),
            facility=laboratory.facility,
            sending_facility="CITYLAB",
            order_message=configured,
            host="127.0.0.1",
            port=port,
        )
        order = place(laboratory)
        wait_for(lambda: OutboundMessage.objects.filter(status=OutboundStatus.SENT).exists())
        order.refresh_from_db()
        order_cancel(
            accessor=Accessor(laboratory.clinician),
            order=order,
            reason="Patient evacuated to the regional hospital",
            version=order.version,
        )
        wait_for(lambda: OutboundMessage.objects.filter(status=OutboundStatus.SENT).count() == 2)

    new, cancel = received
    assert [orc[1] for orc in segments(new, "ORC")] == ["NW", "NW"]
    assert [orc[1] for orc in segments(cancel, "ORC")] == ["CA", "CA"]
    assert segments(cancel, "MSH")[0][8] == msh_9
    assert {obr[2] for obr in segments(cancel, "OBR")} == {f"{order.placer_number}^FARCARE"}
    assert f"{laboratory.patient.uuid}^^^FARCARE^PI" in segments(cancel, "PID")[0][3]
    rows = list(OutboundMessage.objects.filter(order=order).order_by("pk"))
    assert [(row.order_control, row.status, row.ack_code) for row in rows] == [
        (OrderControl.NEW, OutboundStatus.SENT, "AA"),
        (OrderControl.CANCEL, OutboundStatus.SENT, "AA"),
    ]
    assert rows[0].control_id != rows[1].control_id
    assert segments(cancel, "MSH")[0][9] == rows[1].control_id
    # Once: the outbox has nothing more for this order.
    assert deliver_due(timezone.now()).sent == []


def test_an_order_cancelled_before_it_was_sent_is_not_sent_at_all(
    laboratory: Laboratory, settings: pytest.FixtureRequest
) -> None:
    settings.FARCARE_HL7_SEND_ON_COMMIT = False  # type: ignore[attr-defined]
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
        order_cancel(
            accessor=Accessor(laboratory.clinician),
            order=order,
            reason="Ordered twice",
            version=order.version,
        )
        report = deliver_due(timezone.now())

    assert received == [] and report.sent == []
    [row] = OutboundMessage.objects.filter(order=order)
    assert (row.order_control, row.status) == (OrderControl.NEW, OutboundStatus.CANCELLED)
