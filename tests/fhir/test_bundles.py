"""Transactions and batches at POST /fhir: a remote post sends a whole consultation as one
transaction over a satellite link, resubmits it after a dropped connection without creating
anything twice, and gets back exactly which entry was wrong when one is."""

from __future__ import annotations

import base64
import uuid
from datetime import timedelta
from typing import Any, cast

import pytest
from django.utils import timezone

from farcare.accounts.models import Role
from farcare.audit.models import AuditAction, AuditEvent
from farcare.consults.models import Attachment, Consultation, VitalObservation
from farcare.fhir import systems
from farcare.fhir.bundles import Entry, creation_order
from farcare.fhir.errors import FhirError
from farcare.fhir.resources.consultation import CLIENT_TOKEN, SPECIALTY
from farcare.fhir.validation import validated
from farcare.network.models import Facility
from farcare.patients.models import Patient

from ..conftest import make_user
from ..factories import PatientFactory, valid_snils
from .test_patient import outcome, patient_resource


def transaction(*entries: dict, kind: str = "transaction") -> dict:
    return {"resourceType": "Bundle", "type": kind, "entry": list(entries)}


def post(resource: dict, full_url: str = "", if_none_exist: str = "") -> dict:
    request = {"method": "POST", "url": resource["resourceType"]}
    if if_none_exist:
        request["ifNoneExist"] = if_none_exist
    entry: dict[str, Any] = {"resource": resource, "request": request}
    if full_url:
        entry["fullUrl"] = full_url
    return entry


def new_patient(chain, n: int, **overrides) -> dict:
    return patient_resource(
        chain, identifier=[{"system": systems.SNILS, "value": valid_snils(900 + n)}], **overrides
    )


def a_patient(facility: Facility, **fields: Any) -> Patient:
    return cast(Patient, PatientFactory(home_facility=facility, **fields))


def statuses(bundle: dict) -> list[str]:
    return [entry["response"]["status"] for entry in bundle["entry"]]


# --- Transactions of patients ---------------------------------------------------------------


def test_a_transaction_creates_every_entry_and_answers_with_locations(chain, feldsher, fhir_as):
    client = fhir_as(feldsher)
    response = client.post(
        "",
        transaction(
            post(new_patient(chain, 1), "urn:uuid:6a4bd1bc-0f6f-4e0b-9c39-1c0ad5d1a001"),
            post(new_patient(chain, 2, gender="male")),
            {"request": {"method": "GET", "url": f"Patient?identifier={valid_snils(901)}"}},
        ),
    )
    assert response.status_code == 200, response.content
    bundle = response.json()
    validated("Bundle", bundle)
    assert bundle["type"] == "transaction-response"
    assert statuses(bundle) == ["201 Created", "201 Created", "200 OK"]
    first, second, search = bundle["entry"]
    logical_id = first["resource"]["id"]
    assert first["response"]["location"] == f"Patient/{logical_id}/_history/1"
    assert first["response"]["etag"] == 'W/"1"'
    assert first["response"]["lastModified"]
    assert second["resource"]["gender"] == "male"
    # The GET runs after the POSTs, so it finds what the transaction created.
    assert [e["resource"]["id"] for e in search["resource"]["entry"]] == [logical_id]
    assert Patient.objects.count() == 2


def test_the_same_transaction_resubmitted_creates_nothing_new(chain, feldsher, fhir_as):
    client = fhir_as(feldsher)
    bundle = transaction(
        post(
            new_patient(chain, 1),
            "urn:uuid:0b1e6f0e-8b5a-4b43-a0a0-000000000001",
            if_none_exist=f"identifier={systems.SNILS}|{valid_snils(901)}",
        )
    )
    first = client.post("", bundle).json()
    again = client.post("", bundle)
    assert again.status_code == 200
    assert statuses(first) == ["201 Created"]
    assert statuses(again.json()) == ["200 OK"]
    assert again.json()["entry"][0]["resource"]["id"] == first["entry"][0]["resource"]["id"]
    assert Patient.objects.count() == 1


def test_one_bad_entry_rolls_the_whole_transaction_back(chain, feldsher, fhir_as):
    client = fhir_as(feldsher)
    response = client.post(
        "",
        transaction(
            post(new_patient(chain, 1)),
            post(new_patient(chain, 2, birthDate="1990-13-45")),
        ),
    )
    assert response.status_code == 400
    issue = outcome(response)
    assert issue["code"] == "invalid"
    assert issue["expression"] == ["Bundle.entry[1].resource.birthDate"]
    assert not Patient.objects.exists()


def test_a_business_rule_failure_keeps_its_status_and_names_the_element(chain, feldsher, fhir_as):
    bad_snils = [{"system": systems.SNILS, "value": "11223344596"}]
    response = fhir_as(feldsher).post(
        "",
        transaction(
            post(new_patient(chain, 1)), post(patient_resource(chain, identifier=bad_snils))
        ),
    )
    assert response.status_code == 422
    assert outcome(response)["expression"] == ["Bundle.entry[1].resource.identifier[0].value"]
    assert not Patient.objects.exists()


def test_entries_run_in_the_fhir_order_whatever_order_they_come_in(chain, feldsher, fhir_as):
    patient = a_patient(chain.post, sex="female")
    changed = patient_resource(
        chain,
        id=str(patient.uuid),
        gender="other",
        identifier=[{"system": systems.SNILS, "value": patient.snils}],
    )
    response = fhir_as(feldsher).post(
        "",
        transaction(
            {"request": {"method": "GET", "url": f"Patient/{patient.uuid}"}},
            {"resource": changed, "request": {"method": "PUT", "url": f"Patient/{patient.uuid}"}},
        ),
    )
    assert response.status_code == 200, response.content
    read, put = response.json()["entry"]
    assert put["response"]["status"] == "200 OK"
    assert put["response"]["location"] == f"Patient/{patient.uuid}/_history/2"
    assert read["resource"]["gender"] == "other"  # the GET came after the PUT


def test_a_stale_if_match_in_a_transaction_is_412(chain, feldsher, fhir_as):
    patient = a_patient(chain.post, sex="female")
    fhir_as(feldsher).get(f"Patient/{patient.uuid}")  # version 1 exists
    changed = patient_resource(
        chain, identifier=[{"system": systems.SNILS, "value": patient.snils}], gender="other"
    )
    response = fhir_as(feldsher).post(
        "",
        transaction(
            post(new_patient(chain, 1)),
            {
                "resource": changed,
                "request": {"method": "PUT", "url": f"Patient/{patient.uuid}", "ifMatch": 'W/"7"'},
            },
        ),
    )
    assert response.status_code == 412
    assert outcome(response)["expression"] == ["Bundle.entry[1]"]
    assert Patient.objects.count() == 1


def test_a_transaction_touching_a_patient_outside_access_is_refused_and_audited(
    chain, feldsher, fhir_as
):
    stranger = a_patient(chain.other_region_post)
    response = fhir_as(feldsher).post(
        "",
        transaction(
            post(new_patient(chain, 1)),
            {"request": {"method": "GET", "url": f"Patient/{stranger.uuid}"}},
        ),
    )
    assert response.status_code == 403
    assert outcome(response)["expression"] == ["Bundle.entry[1]"]
    assert Patient.objects.count() == 1  # only the stranger
    # The refusal stays on the record although the transaction was rolled back.
    denied = AuditEvent.objects.filter(action=AuditAction.DENIED, patient_uuid=stranger.uuid)
    assert denied.count() == 1


def test_each_entry_needs_the_scope_of_its_interaction(chain, feldsher, fhir_as):
    read_only = fhir_as(feldsher, "user/Patient.read")
    response = read_only.post("", transaction(post(new_patient(chain, 1))))
    assert response.status_code == 403
    assert outcome(response)["expression"] == ["Bundle.entry[0]"]
    assert not Patient.objects.exists()


def test_references_to_unknown_urns_and_circles_are_refused(chain, feldsher, fhir_as):
    client = fhir_as(feldsher)
    a, b = (
        "urn:uuid:aaaaaaaa-0000-4000-8000-000000000001",
        "urn:uuid:bbbbbbbb-0000-4000-8000-00000000000b",
    )
    dangling = new_patient(chain, 1, link=[{"other": {"reference": b}, "type": "seealso"}])
    response = client.post("", transaction(post(dangling, a)))
    assert response.status_code == 400
    assert b in outcome(response)["diagnostics"]
    assert outcome(response)["expression"] == ["Bundle.entry[0].resource"]

    looped = client.post(
        "",
        transaction(
            post(new_patient(chain, 1, link=[{"other": {"reference": b}, "type": "seealso"}]), a),
            post(new_patient(chain, 2, link=[{"other": {"reference": a}, "type": "seealso"}]), b),
        ),
    )
    assert looped.status_code == 400
    assert outcome(looped)["expression"] == ["Bundle.entry[0]", "Bundle.entry[1]"]
    assert not Patient.objects.exists()


def test_post_entries_are_created_after_the_entries_they_refer_to():
    def entry(index: int, url: str, *refers_to: str) -> Entry:
        resource = {"resourceType": "X", "ref": [{"reference": r} for r in refers_to]}
        return Entry(index=index, method="POST", url="X", resource=resource, full_url=url)

    task = entry(0, "urn:uuid:task", "urn:uuid:request")
    request = entry(1, "urn:uuid:request", "urn:uuid:patient", "urn:uuid:vital")
    vital = entry(2, "urn:uuid:vital", "urn:uuid:patient")
    patient = entry(3, "urn:uuid:patient")
    unrelated = entry(4, "urn:uuid:other")
    order = [e.index for e in creation_order([task, request, vital, patient, unrelated])]
    assert order == [3, 4, 2, 1, 0]
    with pytest.raises(FhirError) as caught:
        creation_order([entry(0, "urn:uuid:a", "urn:uuid:b"), entry(1, "urn:uuid:b", "urn:uuid:a")])
    assert caught.value.status == 400


NO_RESOURCE = transaction({"request": {"method": "POST", "url": "Patient"}})
BAD_METHOD = transaction({"resource": {}, "request": {"method": "FETCH", "url": "x"}})


@pytest.mark.parametrize(
    ("bundle", "expression"),
    [
        ({"resourceType": "Bundle", "type": "collection", "entry": []}, "Bundle.type"),
        ({"resourceType": "Patient"}, "Bundle"),
        (NO_RESOURCE, "Bundle.entry[0].resource"),
        (BAD_METHOD, "Bundle.entry[0].request.method"),
    ],
)
def test_malformed_bundles_are_400_and_name_the_element(
    chain, feldsher, fhir_as, bundle, expression
):
    response = fhir_as(feldsher).post("", bundle)
    assert response.status_code == 400
    assert outcome(response)["expression"] == [expression]


def test_prefer_return_minimal_sends_only_statuses_and_locations(chain, feldsher, fhir_as):
    client = fhir_as(feldsher)
    response = client.post("", transaction(post(new_patient(chain, 1))), Prefer="return=minimal")
    entry = response.json()["entry"][0]
    assert "resource" not in entry
    assert entry["response"]["location"].startswith("Patient/")


def test_only_post_reaches_the_base(chain, feldsher, fhir_as):
    assert fhir_as(feldsher).get("").status_code == 405
    from django.test import Client

    assert Client().post("/fhir/", "{}", content_type="application/fhir+json").status_code == 401


# --- Batches --------------------------------------------------------------------------------


def test_a_batch_runs_each_entry_on_its_own(chain, feldsher, fhir_as):
    stranger = a_patient(chain.other_region_post)
    response = fhir_as(feldsher).post(
        "",
        transaction(
            post(new_patient(chain, 1)),
            post(new_patient(chain, 2, birthDate="1990-13-45")),
            {"request": {"method": "GET", "url": f"Patient/{stranger.uuid}"}},
            {"request": {"method": "PATCH", "url": f"Patient/{stranger.uuid}"}},
            post(new_patient(chain, 3)),
            kind="batch",
        ),
    )
    assert response.status_code == 200, response.content
    bundle = response.json()
    validated("Bundle", bundle)
    assert bundle["type"] == "batch-response"
    assert statuses(bundle) == [
        "201 Created",
        "400 Bad Request",
        "403 Forbidden",
        "405 Method Not Allowed",
        "201 Created",
    ]
    bad = bundle["entry"][1]["response"]["outcome"]["issue"][0]
    assert bad["expression"] == ["Bundle.entry[1].resource.birthDate"]
    denied = AuditEvent.objects.filter(action=AuditAction.DENIED, patient_uuid=stranger.uuid)
    assert denied.count() == 1
    assert Patient.objects.filter(home_facility=chain.post).count() == 2


def test_a_batch_entry_may_not_refer_to_another(chain, feldsher, fhir_as):
    linked = new_patient(chain, 1, link=[{"other": {"reference": "urn:uuid:x"}, "type": "seealso"}])
    response = fhir_as(feldsher).post(
        "", transaction(post(linked), post(new_patient(chain, 2)), kind="batch")
    )
    assert statuses(response.json()) == ["400 Bad Request", "201 Created"]


def test_a_clinician_without_write_scope_gets_403_entries_in_a_batch(chain, fhir_as):
    clinician = make_user(Role.CLINICIAN, chain.post)
    response = fhir_as(clinician, "user/*.read").post(
        "", transaction(post(new_patient(chain, 1)), kind="batch")
    )
    assert statuses(response.json()) == ["403 Forbidden"]


# --- A whole consultation from a remote post ------------------------------------------------

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"
VITALS = [("8867-4", 118, "/min"), ("59408-5", 91, "%"), ("8480-6", 95, "mm[Hg]")]


@pytest.fixture
def files(settings, tmp_path):
    """Uploaded files go to a folder of this test only."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path)},
        },
    }
    return tmp_path


def consultation_bundle(chain, *, snils: str, token: str, **patient_overrides: Any) -> dict:
    """What the post's laptop sends when the feldsher presses "send" offline-first: the patient
    (registered unless known by SNILS), three vital signs, the request, its workflow and an ECG
    photo, all tied together by urn:uuid references and each with a condition that makes a
    resubmission find what the first submission created."""
    patient_urn = f"urn:uuid:{uuid.uuid5(uuid.UUID(token), 'patient')}"
    request_urn = f"urn:uuid:{uuid.uuid5(uuid.UUID(token), 'request')}"
    when = (timezone.now() - timedelta(hours=1)).replace(microsecond=0)
    when_text = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    patient = patient_resource(
        chain, identifier=[{"system": systems.SNILS, "value": snils}], **patient_overrides
    )
    entries = [
        post(patient, patient_urn, if_none_exist=f"identifier={systems.SNILS}|{snils}"),
    ]
    vital_urns = []
    for loinc, value, unit in VITALS:
        urn = f"urn:uuid:{uuid.uuid5(uuid.UUID(token), loinc)}"
        vital_urns.append(urn)
        observation = {
            "resourceType": "Observation",
            "status": "final",
            "category": [
                {"coding": [{"system": systems.OBSERVATION_CATEGORY, "code": "vital-signs"}]}
            ],
            "code": {"coding": [{"system": systems.LOINC, "code": loinc}]},
            "subject": {"reference": patient_urn},
            "effectiveDateTime": when_text,
            "valueQuantity": {"value": value, "unit": unit, "system": systems.UCUM, "code": unit},
        }
        # A reading is known again by its patient, code and the second it was taken.
        condition = f"patient={patient_urn}&code={systems.LOINC}|{loinc}&date={when_text}"
        entries.append(post(observation, urn, if_none_exist=condition))
    request = {
        "resourceType": "ServiceRequest",
        "identifier": [{"system": CLIENT_TOKEN, "value": token}],
        "status": "active",
        "intent": "order",
        "priority": "urgent",
        "code": {"coding": [{"system": SPECIALTY, "code": "cardiology"}]},
        "subject": {"reference": patient_urn},
        "note": [{"text": "Palpitations and low pressure since the morning. Evacuate?"}],
        "supportingInfo": [{"reference": urn} for urn in vital_urns],
    }
    task = {
        "resourceType": "Task",
        "status": "requested",
        "intent": "order",
        "focus": {"reference": request_urn},
        "for": {"reference": patient_urn},
    }
    photo = {
        "resourceType": "DocumentReference",
        "status": "current",
        "subject": {"reference": patient_urn},
        "content": [
            {
                "attachment": {
                    "contentType": "image/jpeg",
                    "title": "ecg.jpg",
                    "data": base64.b64encode(JPEG).decode(),
                }
            }
        ],
        "context": {"related": [{"reference": request_urn}]},
    }
    # Listed in an order of the client's choosing: the server sorts out the dependencies.
    return transaction(
        post(photo, if_none_exist=f"related={request_urn}"),
        post(task, if_none_exist=f"focus={request_urn}"),
        post(request, request_urn, if_none_exist=f"identifier={CLIENT_TOKEN}|{token}"),
        *entries,
    )


def row_counts() -> dict[str, int]:
    return {
        "patients": Patient.objects.count(),
        "consultations": Consultation.objects.count(),
        "vitals": VitalObservation.objects.count(),
        "attachments": Attachment.objects.count(),
    }


def test_a_remote_post_sends_a_whole_consultation_as_one_transaction(scene, fhir_as, files):
    token = str(uuid.uuid4())
    bundle = consultation_bundle(scene.chain, snils=valid_snils(950), token=token)
    client = fhir_as(scene.feldsher)
    response = client.post("", bundle, Prefer="return=minimal")
    assert response.status_code == 200, response.content
    answer = response.json()
    validated("Bundle", answer)
    assert answer["type"] == "transaction-response"
    # Every consultation has its workflow Task from the start: the conditional Task entry finds
    # the one the request just made, everything else is new.
    assert statuses(answer) == ["201 Created", "200 OK", *["201 Created"] * 5]
    where = [entry["response"]["location"].split("/_history")[0] for entry in answer["entry"]]
    kinds = [location.split("/")[0] for location in where]
    assert kinds == ["DocumentReference", "Task", "ServiceRequest", "Patient", *["Observation"] * 3]

    consultation = Consultation.objects.get(client_token=token)
    patient = consultation.patient
    assert where[3] == f"Patient/{patient.uuid}"
    assert patient.home_facility == scene.chain.post
    assert (
        where[2]
        == where[1].replace("Task", "ServiceRequest")
        == (f"ServiceRequest/{consultation.uuid}")
    )
    assert consultation.requester == scene.feldsher
    assert consultation.form == "urgent"
    # The readings sent before the request became its vital signs, with the ids the client got.
    assert {f"Observation/{v.uuid}" for v in consultation.vitals.all()} == set(where[4:])
    assert {v.key: v.value for v in consultation.vitals.all()} == {
        "heart_rate": "118",
        "spo2": "91",
        "systolic_bp": "95",
    }
    photo = consultation.attachments.get()
    assert where[0] == f"DocumentReference/{photo.uuid}"
    with photo.file.open("rb") as stored:
        assert stored.read().startswith(b"\xff\xd8\xff")

    served = client.get(where[2]).json()
    validated("ServiceRequest", served)
    assert {ref["reference"] for ref in served["supportingInfo"]} >= set(where[4:]) | {where[0]}


def test_the_same_consultation_resubmitted_after_a_dropped_link_creates_nothing(
    scene, fhir_as, files
):
    bundle = consultation_bundle(scene.chain, snils=valid_snils(950), token=str(uuid.uuid4()))
    client = fhir_as(scene.feldsher)
    first = client.post("", bundle, Prefer="return=minimal").json()
    before = row_counts()
    again = client.post("", bundle, Prefer="return=minimal")
    assert again.status_code == 200, again.content
    assert statuses(again.json()) == ["200 OK"] * 7

    def ids(answer: dict) -> list[str]:
        return [entry["response"]["location"].split("/_history")[0] for entry in answer["entry"]]

    assert ids(again.json()) == ids(first)
    assert (
        row_counts()
        == before
        == {
            "patients": 2,  # the scene's patient and this one
            "consultations": 1,
            "vitals": 3,
            "attachments": 1,
        }
    )


def test_a_consultation_with_an_invalid_birth_date_saves_nothing(scene, fhir_as, files):
    before = row_counts()
    bundle = consultation_bundle(
        scene.chain, snils=valid_snils(950), token=str(uuid.uuid4()), birthDate="1990-02-30"
    )
    response = fhir_as(scene.feldsher).post("", bundle)
    assert response.status_code == 400
    issue = outcome(response)
    # The patient is the bundle's fourth entry; created first, it is the first to fail.
    assert issue["expression"] == ["Bundle.entry[3].resource.birthDate"]
    assert row_counts() == before
    assert not list(files.rglob("*.jpg"))


def test_a_failure_late_in_the_consultation_rolls_back_the_patient_too(scene, fhir_as, files):
    before = row_counts()
    bundle = consultation_bundle(scene.chain, snils=valid_snils(950), token=str(uuid.uuid4()))
    bundle["entry"][0]["resource"]["content"][0]["attachment"]["title"] = "ecg.exe"
    bundle["entry"][0]["resource"]["content"][0]["attachment"]["contentType"] = "text/x-msdos"
    response = fhir_as(scene.feldsher).post("", bundle)
    assert response.status_code == 422, response.content
    assert outcome(response)["expression"][0].startswith("Bundle.entry[0].resource.content")
    assert row_counts() == before


def test_a_batch_of_readings_keeps_the_good_ones(scene, fhir_as):
    def reading(loinc: str, value: Any, unit: str) -> dict:
        return {
            "resourceType": "Observation",
            "status": "final",
            "code": {"coding": [{"system": systems.LOINC, "code": loinc}]},
            "subject": {"reference": f"Patient/{scene.patient.uuid}"},
            "valueQuantity": {"value": value, "unit": unit, "system": systems.UCUM, "code": unit},
        }

    response = fhir_as(scene.feldsher).post(
        "",
        transaction(
            post(reading("8867-4", 88, "/min")),
            post(reading("8480-6", "high", "mm[Hg]")),
            post(reading("8310-5", 37.2, "Cel")),
            kind="batch",
        ),
    )
    assert response.status_code == 200
    answer = response.json()
    assert statuses(answer) == ["201 Created", "400 Bad Request", "201 Created"]
    failed = answer["entry"][1]["response"]["outcome"]["issue"][0]
    assert failed["expression"][0].startswith("Bundle.entry[1].resource.valueQuantity")
    assert set(
        VitalObservation.objects.filter(patient=scene.patient).values_list("loinc", flat=True)
    ) == {"8867-4", "8310-5"}


def test_a_bundle_posted_to_the_base_url_without_a_slash_is_processed(chain, feldsher, fhir_as):
    import json

    client = fhir_as(feldsher)
    response = client.client.post(
        "/fhir",
        json.dumps({"resourceType": "Bundle", "type": "batch", "entry": []}),
        content_type="application/fhir+json",
        headers=client.headers,
    )
    assert response.status_code == 200
    assert response.json()["type"] == "batch-response"


def test_a_batch_entry_that_met_a_locked_database_is_told_to_retry(tmp_path, settings):
    """A batch answers 200 with one status per entry, so the middleware that turns a locked
    database into 503 never sees the entry's failure: the entry itself says 503, Retry-After."""
    import sqlite3

    from farcare.fhir.bundles import as_fhir_error

    settings.FARCARE_RETRY_AFTER_SECONDS = 7
    path = tmp_path / "busy.sqlite3"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN IMMEDIATE")
    waiter = sqlite3.connect(path, timeout=0)
    with pytest.raises(sqlite3.OperationalError) as locked:
        waiter.execute("INSERT INTO t VALUES (1)")
    holder.rollback()
    error = as_fhir_error(locked.value)
    assert error.status == 503
    assert error.headers == {"Retry-After": "7"}
    # Anything else unexpected stays a plain 500 that changed nothing.
    assert as_fhir_error(RuntimeError("boom")).status == 500
