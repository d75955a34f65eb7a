"""Laboratory results through FHIR: the district laboratory's system posts a basic metabolic
panel as a DiagnosticReport with its Observations (contained, or in a transaction), the feldsher
finds the values beside the patient's vital signs, a corrected potassium keeps its history, and
a report FarCare cannot file is refused with the reason."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from farcare.consults.models import VitalObservation
from farcare.diagnostics.models import CriticalAlert, DiagnosticReport, ResultObservation
from farcare.fhir import systems

from ..diagnostics.scene import make_scene

CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
PANEL = (
    ("2345-7", 5.0, "mmol/L"),
    ("2160-0", 70, "umol/L"),
    ("2951-2", 140, "mmol/L"),
    ("2823-3", 5.6, "mmol/L"),
    ("2075-0", 101, "mmol/L"),
    ("2028-9", 25, "mmol/L"),
)


@pytest.fixture
def dx(chain):
    return make_scene(chain)


def value_json(code: str, value: float, unit: str, *, status: str = "final", **extra) -> dict:
    return {
        "resourceType": "Observation",
        "status": status,
        "category": [{"coding": [{"system": CATEGORY, "code": "laboratory"}]}],
        "code": {"coding": [{"system": systems.LOINC, "code": code}]},
        "effectiveDateTime": "2026-03-02T09:10:00+12:00",
        "valueQuantity": {"value": value, "unit": unit, "system": systems.UCUM, "code": unit},
        **extra,
    }


def report_json(dx, order, *, potassium: float = 5.6, status: str = "final", **changes) -> dict:
    """The panel as a laboratory information system writes it: values contained."""
    contained = []
    for index, (code, value, unit) in enumerate(PANEL):
        if code == "2823-3":
            value = potassium
        observation = value_json(code, value, unit, status=status)
        observation["id"] = f"v{index}"
        contained.append(observation)
    # A note from the analyser that FarCare's record has no place for.
    contained[3]["note"] = [{"text": "slight haemolysis index 1"}]
    resource = {
        "resourceType": "DiagnosticReport",
        "identifier": [{"system": "urn:oid:1.2.643.5.1.13.3.25.87.9", "value": "LIS-2026-17"}],
        "basedOn": [{"reference": f"ServiceRequest/{order.uuid}"}],
        "status": status,
        "category": [
            {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "LAB"}]}
        ],
        "code": {"coding": [{"system": systems.LOINC, "code": "51990-0"}]},
        "subject": {"reference": f"Patient/{dx.patient.uuid}"},
        "effectiveDateTime": "2026-03-02T09:10:00+12:00",
        "issued": "2026-03-02T11:40:00+12:00",
        "contained": contained,
        "result": [{"reference": f"#v{index}"} for index in range(len(PANEL))],
    }
    resource.update(changes)
    return resource


def test_a_report_with_contained_values_is_filed_interpreted_and_searchable(dx, fhir_as):
    order = dx.order(["51990-0"])
    lab = fhir_as(dx.district_lab)
    created = lab.post("DiagnosticReport", report_json(dx, order))
    assert created.status_code == 201, created.json()
    report = created.json()
    stored = DiagnosticReport.objects.get(uuid=report["id"])
    assert stored.source == "fhir" and stored.order == order
    assert report["basedOn"] == [{"reference": f"ServiceRequest/{order.uuid}"}]
    assert report["identifier"] == [
        {"system": "urn:oid:1.2.643.5.1.13.3.25.87.9", "value": "LIS-2026-17"}
    ]
    assert "contained" not in report  # each value is an Observation of its own now
    assert len(report["result"]) == 6

    feldsher = fhir_as(dx.feldsher)
    potassium_id = report["result"][3]["reference"]
    potassium = feldsher.get(potassium_id).json()
    assert potassium["category"][0]["coding"][0]["code"] == "laboratory"
    assert potassium["valueQuantity"] == {
        "value": 5.6,
        "unit": "mmol/L",
        "system": systems.UCUM,
        "code": "mmol/L",
    }
    assert potassium["interpretation"][0]["coding"][0]["system"] == INTERPRETATION
    assert potassium["interpretation"][0]["coding"][0]["code"] == "H"
    assert potassium["referenceRange"][0]["high"]["value"] == 5.1
    assert potassium["performer"][0]["reference"] == (
        f"Organization/{dx.chain.district.organisation.uuid}"
    )
    assert potassium["basedOn"] == [{"reference": f"ServiceRequest/{order.uuid}"}]
    assert potassium["note"] == [{"text": "slight haemolysis index 1"}]  # kept, not dropped

    searched = feldsher.get(
        "DiagnosticReport",
        patient=str(dx.patient.uuid),
        category="LAB",
        code=f"{systems.LOINC}|51990-0",
        status="final",
        date="2026-03",
        _include="DiagnosticReport:result",
    ).json()
    modes = [entry["search"]["mode"] for entry in searched["entry"]]
    assert modes == ["match"] + ["include"] * 6
    lab_values = feldsher.get(
        "Observation", patient=str(dx.patient.uuid), category="laboratory", date="ge2026-03-01"
    ).json()
    assert lab_values["total"] == 6
    high_potassium = feldsher.get(
        "Observation", code=f"{systems.LOINC}|2823-3", status="final"
    ).json()
    assert [entry["resource"]["id"] for entry in high_potassium["entry"]] == [
        potassium_id.split("/")[1]
    ]


def test_vital_signs_and_laboratory_values_are_one_observation_search(dx, fhir_as):
    order = dx.order(["51990-0"])
    assert fhir_as(dx.district_lab).post("DiagnosticReport", report_json(dx, order)).status_code
    now = timezone.now()
    for minutes, (key, loinc, value) in enumerate(
        [("heart_rate", "8867-4", "112"), ("respiratory_rate", "9279-1", "24")]
    ):
        VitalObservation.objects.create(
            patient=dx.patient,
            key=key,
            loinc=loinc,
            value=value,
            unit="/min",
            recorded_at=now - timedelta(minutes=minutes),
        )
    client = fhir_as(dx.feldsher)
    vitals = client.get("Observation", patient=str(dx.patient.uuid), category="vital-signs")
    assert vitals.json()["total"] == 2
    everything = client.get("Observation", patient=str(dx.patient.uuid), _sort="-date")
    assert everything.json()["total"] == 8
    # Paged two at a time across both kinds, newest first, each once.
    seen, dates = [], []
    page = client.get("Observation", patient=str(dx.patient.uuid), _sort="-date", _count="2")
    while True:
        bundle = page.json()
        seen += [entry["resource"]["id"] for entry in bundle["entry"]]
        dates += [entry["resource"]["effectiveDateTime"] for entry in bundle["entry"]]
        following = [link["url"] for link in bundle["link"] if link["relation"] == "next"]
        if not following:
            break
        page = client.client.get(following[0], headers=client.headers)
    assert len(seen) == len(set(seen)) == 8
    assert dates == sorted(dates, reverse=True)
    final = client.get("Observation", patient=str(dx.patient.uuid), status="final")
    assert final.json()["total"] == 8


def test_a_corrected_value_is_a_new_version_with_the_history_kept(dx, fhir_as):
    order = dx.order(["51990-0"])
    lab = fhir_as(dx.district_lab)
    first = lab.post("DiagnosticReport", report_json(dx, order, potassium=6.9)).json()
    potassium_id = first["result"][3]["reference"]
    assert CriticalAlert.objects.filter(patient=dx.patient).count() == 1
    client = fhir_as(dx.feldsher)
    critical = client.get(potassium_id).json()  # the feldsher sees the critical value
    assert critical["interpretation"][0]["coding"][0]["code"] == "HH"
    corrected = lab.post(
        "DiagnosticReport", report_json(dx, order, potassium=4.1, status="corrected")
    )
    assert corrected.status_code in (200, 201), corrected.json()
    assert corrected.json()["id"] == first["id"]
    assert corrected.json()["result"][3]["reference"] == potassium_id

    now = client.get(potassium_id).json()
    assert now["status"] == "corrected" and now["valueQuantity"]["value"] == 4.1
    history = client.get(f"{potassium_id}/_history").json()
    values = [entry["resource"]["valueQuantity"]["value"] for entry in history["entry"]]
    assert values == [4.1, 6.9]
    assert ResultObservation.objects.filter(code="2823-3").count() == 2
    original = client.get(f"{potassium_id}/_history/1").json()
    assert original["status"] == "final"
    assert original["interpretation"][0]["coding"][0]["code"] == "HH"


def test_a_report_in_a_transaction_names_its_values_by_fullurl(dx, fhir_as):
    order = dx.order(["51990-0"])
    urls = [f"urn:uuid:{uuid.uuid4()}" for _ in PANEL]
    report = report_json(dx, order)
    report.pop("contained")
    report["result"] = [{"reference": url} for url in urls]
    report_url = f"urn:uuid:{uuid.uuid4()}"
    entries = [
        {
            "fullUrl": url,
            "resource": {
                **value_json(code, value, unit),
                "subject": {"reference": f"Patient/{dx.patient.uuid}"},
            },
            "request": {"method": "POST", "url": "Observation"},
        }
        for url, (code, value, unit) in zip(urls, PANEL, strict=True)
    ]
    entries.append(
        {
            "fullUrl": report_url,
            "resource": report,
            "request": {"method": "POST", "url": "DiagnosticReport"},
        }
    )
    answer = fhir_as(dx.district_lab).post(
        "", {"resourceType": "Bundle", "type": "transaction", "entry": entries}
    )
    assert answer.status_code == 200, answer.json()
    responses = answer.json()["entry"]
    assert [r["response"]["status"] for r in responses] == ["201 Created"] * 7
    locations = [r["response"]["location"].split("/_history")[0] for r in responses]
    assert all(location.startswith("Observation/") for location in locations[:6])
    stored = responses[6]["resource"]
    assert [ref["reference"] for ref in stored["result"]] == locations[:6]
    assert ResultObservation.objects.filter(report__uuid=stored["id"]).count() == 6


def test_a_report_farcare_cannot_file_is_refused_with_the_reason(dx, fhir_as):
    order = dx.order(["51990-0"])
    lab = fhir_as(dx.district_lab)
    stranger = report_json(dx, order, subject={"reference": f"Patient/{uuid.uuid4()}"})
    refused = lab.post("DiagnosticReport", stranger)
    assert refused.status_code == 422
    assert refused.json()["issue"][0]["diagnostics"]
    dangling = report_json(dx, order)
    dangling["result"].append({"reference": f"Observation/{uuid.uuid4()}"})
    refused = lab.post("DiagnosticReport", dangling)
    assert refused.status_code == 422
    assert refused.json()["issue"][0]["expression"] == ["DiagnosticReport.result[6]"]
    not_ucum = report_json(dx, order)
    not_ucum["contained"][0]["valueQuantity"]["system"] = "http://example.org/units"
    refused = lab.post("DiagnosticReport", not_ucum)
    assert refused.status_code == 422
    assert "UCUM" in refused.json()["issue"][0]["diagnostics"]
    alone = value_json("2823-3", 4.0, "mmol/L", subject={"reference": f"Patient/{dx.patient.uuid}"})
    refused = lab.post("Observation", alone)
    assert refused.status_code == 422
    assert "DiagnosticReport" in refused.json()["issue"][0]["diagnostics"]
    assert DiagnosticReport.objects.count() == 0


def test_the_patient_sees_a_report_once_it_is_released(dx, fhir_as):
    order = dx.order(["51990-0"])
    created = fhir_as(dx.district_lab).post("DiagnosticReport", report_json(dx, order)).json()
    own = fhir_as(dx.patient_user, "patient/*.read")
    report = DiagnosticReport.objects.get(uuid=created["id"])
    assert report.released_at is not None  # a panel needs no explaining first
    assert own.get("DiagnosticReport").json()["total"] == 1
    DiagnosticReport.objects.filter(pk=report.pk).update(released_at=None)
    assert own.get("DiagnosticReport").json()["total"] == 0
    # Not yet released: to the patient it does not exist (404, as its values), not "refused".
    assert own.get(f"DiagnosticReport/{report.uuid}").status_code == 404
    assert own.get(f"DiagnosticReport/{report.uuid}/_history/1").status_code == 404


def test_the_patients_everything_holds_orders_reports_and_values(dx, fhir_as):
    order = dx.order(["51990-0"])
    fhir_as(dx.district_lab).post("DiagnosticReport", report_json(dx, order))
    everything = fhir_as(dx.feldsher).get(f"Patient/{dx.patient.uuid}/$everything").json()
    kinds = [entry["resource"]["resourceType"] for entry in everything["entry"]]
    assert kinds.count("DiagnosticReport") == 1
    assert kinds.count("Observation") == 6
    assert kinds.count("ServiceRequest") == 1
    assert kinds.count("Specimen") == order.specimens.count()
