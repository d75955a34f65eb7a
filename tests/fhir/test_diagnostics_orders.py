"""Diagnostic orders through FHIR: a regional information system at the Uelen post orders a
basic metabolic panel as a ServiceRequest, finds it among the patient's requests beside the
consultations, follows its tubes (Specimen), and a consultant abroad sees none of it."""

from __future__ import annotations

import uuid

import pytest

from farcare.accounts.models import Role
from farcare.audit.models import AuditEvent
from farcare.audit.services import Accessor
from farcare.diagnostics.models import DiagnosticOrder, RejectionReason
from farcare.diagnostics.services.specimens import specimen_collect, specimen_reject
from farcare.fhir import systems

from ..conftest import make_user
from ..diagnostics.scene import make_scene
from ..factories import FacilityFactory

LABORATORY = {"system": systems.SNOMED, "code": "108252007"}
CLIENT_TOKEN = "urn:farcare:client-token"
PLACER = "urn:farcare:placer-number"


@pytest.fixture
def dx(chain):
    return make_scene(chain)


def order_json(patient, *, token: str | None = None, codes=("51990-0",), **changes) -> dict:
    resource = {
        "resourceType": "ServiceRequest",
        "identifier": [{"system": CLIENT_TOKEN, "value": token or str(uuid.uuid4())}],
        "status": "active",
        "intent": "order",
        "category": [{"coding": [LABORATORY]}],
        "priority": "urgent",
        "code": {"coding": [{"system": systems.LOINC, "code": codes[0]}]},
        "orderDetail": [
            {"coding": [{"system": systems.LOINC, "code": code}]} for code in codes[1:]
        ],
        "subject": {"reference": f"Patient/{patient.uuid}"},
        "reasonCode": [{"text": "Weakness and palpitations for two days"}],
        "note": [{"text": "Patient on furosemide"}],
    }
    if not resource["orderDetail"]:
        del resource["orderDetail"]
    resource.update(changes)
    return resource


def test_an_order_is_placed_found_and_included_with_its_performer(dx, fhir_as):
    client = fhir_as(dx.feldsher)
    token = str(uuid.uuid4())
    created = client.post("ServiceRequest", order_json(dx.patient, token=token))
    assert created.status_code == 201, created.json()
    body = created.json()
    order = DiagnosticOrder.objects.get(uuid=body["id"])
    assert body["category"][0]["coding"][0]["code"] == "108252007"
    assert body["code"]["coding"][0] == {
        "system": systems.LOINC,
        "code": "51990-0",
        "display": order.tests.get().display,
    }
    placer = next(i for i in body["identifier"] if i["system"] == PLACER)
    assert placer["value"] == order.placer_number and placer["value"].startswith("DX-")
    assert body["priority"] == "urgent" and body["status"] == "active"
    assert body["reasonCode"] == [{"text": "Weakness and palpitations for two days"}]
    # Routed by the network: the district hospital's laboratory performs it.
    assert body["performer"][0]["reference"] == (
        f"Organization/{dx.chain.district.organisation.uuid}"
    )
    assert [ref["reference"] for ref in body["specimen"]] == [
        f"Specimen/{specimen.uuid}" for specimen in order.specimens.all()
    ]
    # What FarCare does not hold is kept and returned.
    assert body["note"] == [{"text": "Patient on furosemide"}]

    again = client.post("ServiceRequest", order_json(dx.patient, token=token))
    assert again.status_code == 200 and again.json()["id"] == body["id"]
    assert DiagnosticOrder.objects.count() == 1

    found = client.get(
        "ServiceRequest",
        patient=str(dx.patient.uuid),
        category=f"{systems.SNOMED}|108252007",
        code=f"{systems.LOINC}|51990-0",
        status="active",
        _include="ServiceRequest:performer",
    ).json()
    kinds = [(e["resource"]["resourceType"], e["search"]["mode"]) for e in found["entry"]]
    assert kinds == [("ServiceRequest", "match"), ("Organization", "include")]
    assert found["total"] == 1
    by_placer = client.get("ServiceRequest", identifier=f"{PLACER}|{order.placer_number}").json()
    assert [e["resource"]["id"] for e in by_placer["entry"]] == [body["id"]]
    subject = client.get("ServiceRequest", _id=body["id"], _include="ServiceRequest:subject").json()
    assert subject["entry"][1]["resource"]["id"] == str(dx.patient.uuid)
    # A consultation search is not an order search.
    consultations = client.get("ServiceRequest", category=f"{systems.SNOMED}|11429006").json()
    assert consultations["total"] == 0
    searches = AuditEvent.objects.filter(action="search", details__fhir="ServiceRequest")
    shown = [event.details.get("patients_shown", []) for event in searches.order_by("pk")]
    assert [str(dx.patient.uuid) in patients for patients in shown] == [True] * 3 + [False]


def test_an_order_outside_the_catalogue_is_refused_naming_the_code(dx, fhir_as):
    client = fhir_as(dx.feldsher)
    refused = client.post("ServiceRequest", order_json(dx.patient, codes=("99999-9",)))
    assert refused.status_code == 422
    issue = refused.json()["issue"][0]
    assert issue["expression"] == ["ServiceRequest.code"]
    assert "99999-9" in issue["diagnostics"]
    no_reason = client.post("ServiceRequest", order_json(dx.patient, reasonCode=[]))
    assert no_reason.status_code == 422
    assert no_reason.json()["issue"][0]["expression"] == ["ServiceRequest.reasonCode"]
    assert DiagnosticOrder.objects.count() == 0


def test_a_specimen_is_followed_to_its_rejection_with_the_reason(dx, fhir_as):
    order = dx.order(["51990-0"])
    [specimen] = order.specimens.all()
    client = fhir_as(dx.feldsher)
    waiting = client.get("Specimen", patient=str(dx.patient.uuid)).json()
    assert [e["resource"]["status"] for e in waiting["entry"]] == ["unavailable"]
    specimen_collect(accessor=Accessor(dx.feldsher, "127.0.0.1"), specimen=specimen)
    specimen.refresh_from_db()
    specimen_reject(
        accessor=Accessor(dx.district_lab, "127.0.0.1"),
        specimen=specimen,
        reason=RejectionReason.HAEMOLYSED,
        note="pink serum",
    )
    read = client.get(f"Specimen/{specimen.uuid}").json()
    assert read["status"] == "unsatisfactory"
    assert read["condition"] == [
        {
            "coding": [
                {
                    "system": "urn:farcare:specimen-rejection",
                    "code": "haemolysed",
                    "display": "haemolysed",
                }
            ],
            "text": "pink serum",
        }
    ]
    assert read["collection"]["collectedDateTime"]
    assert read["request"] == [{"reference": f"ServiceRequest/{order.uuid}"}]
    rejected = client.get("Specimen", patient=str(dx.patient.uuid), status="unsatisfactory")
    assert rejected.json()["total"] == 1
    assert client.get("Specimen", status="available").json()["total"] == 0
    history = client.get(f"Specimen/{specimen.uuid}/_history").json()
    assert [e["resource"]["status"] for e in history["entry"]][-1] == "unavailable"


def test_a_consultant_abroad_sees_no_order(dx, fhir_as):
    order = dx.order(["51990-0"])
    seoul = FacilityFactory(country="KR", region="Gyeonggi", time_zone="Asia/Seoul")
    abroad = fhir_as(make_user(Role.CONSULTANT, seoul, language="en"))
    assert abroad.get(f"ServiceRequest/{order.uuid}").status_code == 403
    assert abroad.get("ServiceRequest", category="108252007").json()["total"] == 0
    assert abroad.get("Specimen").json()["total"] == 0
