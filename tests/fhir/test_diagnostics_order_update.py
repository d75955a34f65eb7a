"""A regional information system cancels a diagnostic order it placed at the Uelen post: a PUT
of the ServiceRequest with status "revoked" and the reason (the standard request-statusReason
extension, or a note) cancels it as the order page does, and the laboratory the order was sent
to gets the cancel (HL7 ORC-1 "CA"). Anything else about a placed order cannot be changed: the
answer says what may change. A stale ETag is a 412; someone who may not cancel is refused."""

from __future__ import annotations

import copy

import pytest

from farcare.audit.models import AuditEvent
from farcare.audit.services import Accessor
from farcare.diagnostics.models import DiagnosticOrder, OrderStatus
from farcare.hl7.interfaces import interface_add
from farcare.hl7.models import OrderControl, OutboundMessage, OutboundStatus

from ..diagnostics.scene import make_scene
from ..hl7.conftest import Laboratory, laboratory  # noqa: F401  (the hub's laboratory)
from ..hl7.test_orders_cancel import segments
from ..hl7.test_orders_out import laboratory_system, place, wait_for
from .test_diagnostics_orders import order_json

STATUS_REASON = "http://hl7.org/fhir/StructureDefinition/request-statusReason"


@pytest.fixture
def dx(chain):
    return make_scene(chain)


def _placed(dx, fhir_as):
    client = fhir_as(dx.feldsher)
    created = client.post("ServiceRequest", order_json(dx.patient))
    assert created.status_code == 201, created.json()
    read = client.get(f"ServiceRequest/{created.json()['id']}")
    return client, read.json(), read.headers["ETag"]


def _revoked(resource: dict, reason: str) -> dict:
    body = copy.deepcopy(resource)
    body["status"] = "revoked"
    body["extension"] = [{"url": STATUS_REASON, "valueCodeableConcept": {"text": reason}}]
    return body


@pytest.mark.django_db
def test_the_system_cancels_its_order_with_the_reason(dx, fhir_as):
    client, order_json_now, etag = _placed(dx, fhir_as)
    order_id = order_json_now["id"]

    answer = client.put(
        f"ServiceRequest/{order_id}",
        _revoked(order_json_now, "Patient evacuated to Anadyr"),
        **{"If-Match": etag},
    )

    assert answer.status_code == 200, answer.json()
    body = answer.json()
    assert body["status"] == "revoked"
    assert body["extension"] == [
        {"url": STATUS_REASON, "valueCodeableConcept": {"text": "Patient evacuated to Anadyr"}}
    ]
    assert answer.headers["ETag"] != etag
    order = DiagnosticOrder.objects.get(uuid=order_id)
    assert (order.status, order.note) == (OrderStatus.REVOKED, "Patient evacuated to Anadyr")
    # Audited as the page's cancel is, by the system's user.
    assert AuditEvent.objects.filter(
        actor_uuid=dx.feldsher.uuid,
        details__event="cancel",
        details__reason="Patient evacuated to Anadyr",
    ).exists()
    # The history keeps the order as placed; sending the same cancel again changes nothing.
    assert client.get(f"ServiceRequest/{order_id}/_history/1").json()["status"] == "active"
    again = client.put(f"ServiceRequest/{order_id}", body)
    assert again.status_code == 200 and again.headers["ETag"] == answer.headers["ETag"]


@pytest.mark.django_db
def test_the_reason_may_come_as_a_note(dx, fhir_as):
    client, resource, _etag = _placed(dx, fhir_as)
    body = copy.deepcopy(resource)
    body["status"] = "revoked"
    body["note"] = [*body.get("note", []), {"text": "Ordered twice by mistake"}]

    answer = client.put(f"ServiceRequest/{resource['id']}", body)

    assert answer.status_code == 200, answer.json()
    assert DiagnosticOrder.objects.get(uuid=resource["id"]).note == "Ordered twice by mistake"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"priority": "stat"}, "ServiceRequest.priority"),
        ({"reasonCode": [{"text": "Something else"}]}, "ServiceRequest.reasonCode"),
        ({"status": "completed"}, "ServiceRequest.status"),
        ({"status": "on-hold"}, "ServiceRequest.status"),
    ],
)
def test_other_changes_to_a_placed_order_are_refused_saying_what_may_change(
    dx, fhir_as, change, where
):
    client, resource, etag = _placed(dx, fhir_as)

    answer = client.put(f"ServiceRequest/{resource['id']}", {**resource, **change})

    assert answer.status_code == 422
    issue = answer.json()["issue"][0]
    assert "can only be cancelled" in issue["diagnostics"] and "revoked" in issue["diagnostics"]
    assert where in issue["expression"]
    order = DiagnosticOrder.objects.get(uuid=resource["id"])
    assert (order.status, order.priority) == (OrderStatus.ACTIVE, "urgent")
    assert client.get(f"ServiceRequest/{resource['id']}").headers["ETag"] == etag


@pytest.mark.django_db
def test_cancelling_with_a_new_priority_is_refused_whole(dx, fhir_as):
    client, resource, _etag = _placed(dx, fhir_as)
    body = {**_revoked(resource, "Evacuated"), "priority": "stat"}
    answer = client.put(f"ServiceRequest/{resource['id']}", body)
    assert answer.status_code == 422
    assert DiagnosticOrder.objects.get(uuid=resource["id"]).status == OrderStatus.ACTIVE


@pytest.mark.django_db
def test_a_cancel_without_a_reason_is_refused_with_the_pages_words(dx, fhir_as):
    client, resource, _etag = _placed(dx, fhir_as)
    body = {**resource, "status": "revoked"}
    answer = client.put(f"ServiceRequest/{resource['id']}", body)
    assert answer.status_code == 422
    assert answer.json()["issue"][0]["diagnostics"] == "Say why the order is cancelled."
    assert DiagnosticOrder.objects.get(uuid=resource["id"]).status == OrderStatus.ACTIVE


@pytest.mark.django_db
def test_a_stale_etag_is_refused(dx, fhir_as):
    client, resource, etag = _placed(dx, fhir_as)
    stale = etag.replace(etag.strip('W/"'), "0")
    answer = client.put(
        f"ServiceRequest/{resource['id']}", _revoked(resource, "Evacuated"), **{"If-Match": stale}
    )
    assert answer.status_code == 412
    assert DiagnosticOrder.objects.get(uuid=resource["id"]).status == OrderStatus.ACTIVE


@pytest.mark.django_db
def test_the_laboratory_cannot_cancel_the_order_it_performs(dx, fhir_as):
    _client, resource, _etag = _placed(dx, fhir_as)
    lab = fhir_as(dx.district_lab, "user/*.read user/*.write")
    answer = lab.put(f"ServiceRequest/{resource['id']}", _revoked(resource, "Not today"))
    assert answer.status_code == 403
    assert DiagnosticOrder.objects.get(uuid=resource["id"]).status == OrderStatus.ACTIVE


@pytest.mark.django_db
def test_the_patients_own_token_cannot_cancel(dx, fhir_as):
    _client, resource, _etag = _placed(dx, fhir_as)
    own = fhir_as(dx.patient_user, "patient/*.read patient/*.write")
    answer = own.put(f"ServiceRequest/{resource['id']}", _revoked(resource, "I feel better"))
    assert answer.status_code == 403
    assert DiagnosticOrder.objects.get(uuid=resource["id"]).status == OrderStatus.ACTIVE


@pytest.mark.django_db(transaction=True)
def test_the_laboratory_the_order_was_sent_to_gets_the_cancel(laboratory: Laboratory, fhir_as):  # noqa: F811
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
        client = fhir_as(laboratory.clinician)
        resource = client.get(f"ServiceRequest/{order.uuid}").json()

        answer = client.put(f"ServiceRequest/{order.uuid}", _revoked(resource, "Evacuated"))

        assert answer.status_code == 200, answer.json()
        wait_for(lambda: OutboundMessage.objects.filter(status=OutboundStatus.SENT).count() == 2)

    _new, cancel = received
    assert [orc[1] for orc in segments(cancel, "ORC")] == ["CA", "CA"]
    rows = OutboundMessage.objects.filter(order=order).order_by("pk")
    assert [row.order_control for row in rows] == [OrderControl.NEW, OrderControl.CANCEL]
