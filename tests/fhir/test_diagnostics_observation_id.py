"""A client that kept a laboratory value's Observation id finds it with `_id` after the
laboratory corrected it: the id is the value's, whichever version is current."""

from __future__ import annotations

import pytest

from farcare.diagnostics.models import ResultObservation

from ..diagnostics.scene import make_scene
from .test_diagnostics_results import report_json


@pytest.fixture
def dx(chain):
    return make_scene(chain)


def test_id_search_finds_a_corrected_value_by_its_observation_id(dx, fhir_as):
    order = dx.order(["51990-0"])
    lab = fhir_as(dx.district_lab)
    first = lab.post("DiagnosticReport", report_json(dx, order, potassium=6.9)).json()
    potassium_id = first["result"][3]["reference"].split("/")[1]
    sodium_id = first["result"][2]["reference"].split("/")[1]
    corrected = lab.post(
        "DiagnosticReport", report_json(dx, order, potassium=4.1, status="corrected")
    )
    assert corrected.status_code in (200, 201), corrected.json()
    # The current row of the potassium is a new one, with a UUID of its own.
    current = ResultObservation.objects.get(code="2823-3", superseded_by__isnull=True)
    assert str(current.uuid) != potassium_id

    client = fhir_as(dx.feldsher)
    found = client.get("Observation", _id=potassium_id).json()
    assert found["total"] == 1
    [entry] = found["entry"]
    assert entry["resource"]["id"] == potassium_id
    assert entry["resource"]["valueQuantity"]["value"] == 4.1
    assert entry["resource"]["status"] == "corrected"

    both = client.get("Observation", _id=f"{potassium_id},{sodium_id}").json()
    assert sorted(e["resource"]["id"] for e in both["entry"]) == sorted([potassium_id, sodium_id])
    # The current row's own UUID is no Observation id.
    assert client.get("Observation", _id=str(current.uuid)).json()["total"] == 0
    with_code = client.get("Observation", _id=potassium_id, code="2823-3").json()
    assert with_code["total"] == 1
