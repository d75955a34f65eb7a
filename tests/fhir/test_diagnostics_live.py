"""Diagnostics as two independent FHIR clients from PyPI see them over a real socket
(pytest-django's live server): the laboratory's system sends the panel with fhirpy, the post's
bedside app finds the order, the report and its values with SMART's fhirclient, whose models of
FHIR 4.0.1 parse every resource strictly; the server's own R4B models validate them too."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fhirclient.models.diagnosticreport import DiagnosticReport as SmartDiagnosticReport
from fhirclient.models.fhirabstractresource import FHIRAbstractResource
from fhirclient.models.fhirelementfactory import FHIRElementFactory
from fhirclient.models.observation import Observation as SmartObservation
from fhirclient.models.servicerequest import ServiceRequest as SmartServiceRequest
from fhirclient.models.specimen import Specimen as SmartSpecimen
from fhirclient.server import FHIRServer
from fhirpy import SyncFHIRClient

from farcare.fhir import systems
from farcare.fhir.validation import validated

from ..diagnostics.scene import make_scene
from .conftest import issue_token
from .test_diagnostics_results import report_json

READ_WRITE = "user/*.read user/*.write"


@pytest.fixture
def dx(chain):
    return make_scene(chain)


def conforms(resource: Any) -> dict[str, Any]:
    if isinstance(resource, FHIRAbstractResource):
        resource = resource.as_json()
    elif hasattr(resource, "serialize"):
        resource = resource.serialize()
    body: dict[str, Any] = json.loads(json.dumps(resource))
    validated(body["resourceType"], body)
    assert isinstance(
        FHIRElementFactory.instantiate(body["resourceType"], body), FHIRAbstractResource
    )
    return body


def test_a_laboratory_system_and_a_bedside_app_exchange_a_panel(dx, live_server):
    base = f"{live_server.url}/fhir"
    order = dx.order(["51990-0"])
    laboratory = SyncFHIRClient(
        base, authorization=f"Bearer {issue_token(dx.district_lab, READ_WRITE)}"
    )
    sent = laboratory.resource("DiagnosticReport", **report_json(dx, order, potassium=5.6))
    sent.save()
    report_id = str(sent.id)
    assert len(sent["result"]) == 6

    app = FHIRServer(None, base_uri=base)
    app.session.headers["Authorization"] = f"Bearer {issue_token(dx.feldsher, READ_WRITE)}"
    orders = SmartServiceRequest.where(
        {"patient": str(dx.patient.uuid), "category": "108252007"}
    ).perform_resources(app)
    assert [str(o.id) for o in orders] == [str(order.uuid)]
    conforms(orders[0])
    reports = SmartDiagnosticReport.where(
        {"patient": str(dx.patient.uuid), "_include": "DiagnosticReport:result"}
    ).perform_resources(app)
    assert [type(r).__name__ for r in reports] == ["DiagnosticReport"] + ["Observation"] * 6
    assert str(reports[0].id) == report_id
    for resource in reports:
        conforms(resource)
    potassium = SmartObservation.read(sent["result"][3]["reference"].split("/")[1], app)
    assert potassium.valueQuantity.value == 5.6
    assert potassium.valueQuantity.system == systems.UCUM
    assert potassium.interpretation[0].coding[0].code == "H"
    specimens = SmartSpecimen.where({"patient": str(dx.patient.uuid)}).perform_resources(app)
    assert len(specimens) == order.specimens.count()
    for specimen in specimens:
        conforms(specimen)

    # fhirpy pages the laboratory values the way a regional system would.
    values = laboratory.resources("Observation").search(
        patient=str(dx.patient.uuid), category="laboratory"
    )
    assert len(values.limit(2).fetch_all()) == 6
