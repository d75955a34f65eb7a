"""Operations: Patient/$everything for a clinician, and the asynchronous bulk export a regional
health information system runs at night (kick-off, poll, NDJSON files), with its audit trail."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any, cast

import pytest
from django.test import Client
from django.utils import timezone

from farcare.accounts.models import Role, User
from farcare.audit.models import AuditAction, AuditEvent
from farcare.consults.models import Consultation
from farcare.fhir.models import ExportJob, SystemClient
from farcare.fhir.validation import validated
from farcare.network.models import Facility
from farcare.patients.models import Patient

from ..conftest import make_user
from ..factories import PatientFactory, valid_snils
from .conftest import issue_token
from .test_bundles import consultation_bundle
from .test_patient import outcome


def a_patient(facility: Facility, **fields: Any) -> Patient:
    return cast(Patient, PatientFactory(home_facility=facility, **fields))


@pytest.fixture(autouse=True)
def export_storage(settings, tmp_path):
    """Export files go to a folder of this test only."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path)},
        },
    }
    return tmp_path


# --- Patient/$everything --------------------------------------------------------------------


def test_everything_starts_with_the_patient_and_is_audited(chain, feldsher, fhir_as):
    patient = a_patient(chain.post)
    response = fhir_as(feldsher).get(f"Patient/{patient.uuid}/$everything")
    assert response.status_code == 200, response.content
    bundle = response.json()
    validated("Bundle", bundle)
    assert bundle["type"] == "searchset"
    assert bundle["entry"][0]["resource"]["id"] == str(patient.uuid)
    assert bundle["total"] == len(bundle["entry"])
    assert AuditEvent.objects.filter(
        action=AuditAction.VIEW, patient_uuid=patient.uuid, details__fhir="Patient/$everything"
    ).exists()


def consultation_sent(scene, fhir_as) -> Patient:
    """The feldsher's consultation transaction, as in test_bundles: the patient it registered."""
    token = str(uuid.uuid4())
    bundle = consultation_bundle(scene.chain, snils=valid_snils(950), token=token)
    response = fhir_as(scene.feldsher).post("", bundle, Prefer="return=minimal")
    assert response.status_code == 200, response.content
    return Consultation.objects.get(client_token=token).patient


def test_everything_gives_the_patient_with_their_consultation(scene, fhir_as):
    patient = consultation_sent(scene, fhir_as)
    response = fhir_as(scene.feldsher).get(f"Patient/{patient.uuid}/$everything")
    assert response.status_code == 200, response.content
    bundle = response.json()
    validated("Bundle", bundle)
    kinds = [entry["resource"]["resourceType"] for entry in bundle["entry"]]
    assert kinds[0] == "Patient"
    assert {"ServiceRequest", "Task", "Observation", "DocumentReference"} <= set(kinds)
    assert kinds.count("Observation") == 3
    for entry in bundle["entry"]:
        resource = entry["resource"]
        validated(resource["resourceType"], resource)
        assert entry["fullUrl"].endswith(f"/{resource['resourceType']}/{resource['id']}")
    # Nothing of the scene's other patient.
    assert str(scene.patient.uuid) not in json.dumps(bundle)


def test_everything_pages_with_next_links(scene, fhir_as):
    patient = consultation_sent(scene, fhir_as)
    client = fhir_as(scene.feldsher)
    whole = client.get(f"Patient/{patient.uuid}/$everything").json()
    seen: list[str] = []
    page = client.get(f"Patient/{patient.uuid}/$everything", _count="3").json()
    while True:
        assert len(page["entry"]) <= 3
        seen += [entry["fullUrl"] for entry in page["entry"]]
        following = [link["url"] for link in page["link"] if link["relation"] == "next"]
        if not following:
            break
        page = client.client.get(following[0].split("testserver")[1], headers=client.headers)
        page = page.json()
    assert seen == [entry["fullUrl"] for entry in whole["entry"]]
    assert page["total"] == whole["total"] == len(seen)


def test_everything_gives_only_the_types_the_token_may_read(scene, fhir_as):
    patient = consultation_sent(scene, fhir_as)
    narrow = fhir_as(scene.feldsher, "user/Patient.read user/Observation.read")
    bundle = narrow.get(f"Patient/{patient.uuid}/$everything").json()
    kinds = sorted({entry["resource"]["resourceType"] for entry in bundle["entry"]})
    assert kinds == ["Observation", "Patient"]
    only = fhir_as(scene.feldsher).get(f"Patient/{patient.uuid}/$everything", _type="Task")
    assert [e["resource"]["resourceType"] for e in only.json()["entry"]] == ["Task"]


def test_everything_of_a_patient_outside_access_is_403(chain, feldsher, fhir_as):
    stranger = a_patient(chain.other_region_post)
    response = fhir_as(feldsher).get(f"Patient/{stranger.uuid}/$everything")
    assert response.status_code == 403
    assert outcome(response)["code"] == "forbidden"
    assert AuditEvent.objects.filter(action=AuditAction.DENIED, patient_uuid=stranger.uuid).exists()
    assert fhir_as(feldsher).get(f"Patient/{uuid.uuid4()}/$everything").status_code == 404


def test_everything_refuses_unknown_types(chain, feldsher, fhir_as):
    patient = a_patient(chain.post)
    response = fhir_as(feldsher).get(f"Patient/{patient.uuid}/$everything", _type="Nonsense")
    assert response.status_code == 400
    assert outcome(response)["expression"] == ["_type"]


# --- Bulk export ----------------------------------------------------------------------------


def system_client(
    facility: Facility | None = None, *, bulk_export: bool = True, scopes: str = "system/*.read"
) -> SystemClient:
    account = make_user(Role.SYSTEM, facility)
    return SystemClient.objects.create(
        client_id=uuid.uuid4().hex,
        name="Chukotka RHIS",
        scopes=scopes,
        account=account,
        bulk_export=bulk_export,
    )


class Exporter:
    """A system client speaking the Bulk Data protocol."""

    def __init__(self, account: User, scopes: str = "system/*.read") -> None:
        self.client = Client()
        self.headers = {
            "Authorization": f"Bearer {issue_token(account, scopes)}",
            "Accept": "application/fhir+json",
        }

    def kick_off(self, path: str = "$export", prefer: str = "respond-async", **params: str):
        headers = {**self.headers, "Prefer": prefer} if prefer else self.headers
        return self.client.get(f"/fhir/{path}", params, headers=headers)

    def get(self, url: str):
        return self.client.get(url.split("testserver", 1)[-1], headers=self.headers)

    def delete(self, url: str):
        return self.client.delete(url.split("testserver", 1)[-1], headers=self.headers)

    def lines(self, url: str) -> list[dict]:
        response = self.get(url)
        assert response.status_code == 200, response
        assert response["Content-Type"] == "application/fhir+ndjson"
        text = b"".join(response.streaming_content).decode()
        return [json.loads(line) for line in text.splitlines()]


@pytest.fixture
def rhis(chain) -> SystemClient:
    """Chukotka's regional information system, registered for bulk export."""
    return system_client(chain.hub)


def test_a_bulk_export_is_kicked_off_polled_and_fetched(chain, rhis):
    ours = [a_patient(chain.post), a_patient(chain.district)]
    a_patient(chain.other_region_post)  # Sakha's: not Chukotka's to take
    exporter = Exporter(rhis.account)
    started = exporter.kick_off(_type="Patient")
    assert started.status_code == 202, started.content
    status_url = started["Content-Location"]
    assert "/fhir/$export-poll-status/" in status_url

    polled = exporter.get(status_url)
    assert polled.status_code == 200, polled.content
    manifest = polled.json()
    assert manifest["requiresAccessToken"] is True
    assert manifest["request"].endswith("$export?_type=Patient")
    assert manifest["error"] == []
    assert [item["type"] for item in manifest["output"]] == ["Patient"]
    resources = exporter.lines(manifest["output"][0]["url"])
    assert sorted(r["id"] for r in resources) == sorted(str(p.uuid) for p in ours)
    for resource in resources:
        validated("Patient", resource)

    job = ExportJob.objects.get()
    assert job.status == "completed"
    # One record for the job, one for each patient whose data left, one for the file fetched.
    whole = AuditEvent.objects.filter(
        action=AuditAction.EXPORT, record_id=str(job.uuid), patient_uuid=None
    )
    assert sorted(event.details["fhir"] for event in whole) == ["$export", "$export-file"]
    per_patient = AuditEvent.objects.filter(action=AuditAction.EXPORT, patient_uuid__isnull=False)
    exported = set(per_patient.values_list("patient_uuid", flat=True))
    assert exported == {p.uuid for p in ours}


def test_a_system_export_carries_the_consultation_as_ndjson(scene, fhir_as):
    patient = consultation_sent(scene, fhir_as)
    exporter = Exporter(system_client(scene.chain.hub).account)
    started = exporter.kick_off()
    assert started.status_code == 202, started.content
    manifest = exporter.get(started["Content-Location"]).json()
    files = {item["type"]: item["url"] for item in manifest["output"]}
    assert {"Patient", "ServiceRequest", "Task", "Observation", "DocumentReference"} <= set(files)
    for resource_type, url in files.items():
        lines = exporter.lines(url)
        assert lines, resource_type
        for resource in lines:
            assert resource["resourceType"] == resource_type
            validated(resource_type, resource)
    observations = exporter.lines(files["Observation"])
    assert {o["subject"]["reference"] for o in observations} == {f"Patient/{patient.uuid}"}
    assert len(observations) == 3
    requests = exporter.lines(files["ServiceRequest"])
    assert [r["subject"]["reference"] for r in requests] == [f"Patient/{patient.uuid}"]


def test_the_export_files_are_only_for_the_client_that_asked(chain, rhis):
    a_patient(chain.post)
    exporter = Exporter(rhis.account)
    status_url = exporter.kick_off(_type="Patient")["Content-Location"]
    file_url = exporter.get(status_url).json()["output"][0]["url"]
    other = Exporter(system_client(chain.hub).account)
    assert other.get(status_url).status_code == 404
    assert other.get(file_url).status_code == 404
    assert exporter.get(file_url.replace("Patient.ndjson", "Task.ndjson")).status_code == 404


def test_cancelling_an_export_deletes_its_files(chain, rhis, export_storage):
    a_patient(chain.post)
    exporter = Exporter(rhis.account)
    status_url = exporter.kick_off(_type="Patient")["Content-Location"]
    file_url = exporter.get(status_url).json()["output"][0]["url"]
    assert list(export_storage.rglob("*.ndjson"))
    assert exporter.delete(status_url).status_code == 202
    assert exporter.get(status_url).status_code == 404
    assert exporter.get(file_url).status_code == 404
    assert not list(export_storage.rglob("*.ndjson"))


def test_since_exports_only_what_changed(chain, rhis):
    old = a_patient(chain.post)
    Patient.objects.filter(pk=old.pk).update(updated_at=timezone.now() - timedelta(days=10))
    fresh = a_patient(chain.post)
    exporter = Exporter(rhis.account)
    since = (timezone.now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    status_url = exporter.kick_off(_type="Patient", _since=since)["Content-Location"]
    output = exporter.get(status_url).json()["output"]
    assert [r["id"] for r in exporter.lines(output[0]["url"])] == [str(fresh.uuid)]


def test_the_patient_level_export_writes_the_patients(chain, rhis):
    patient = a_patient(chain.post)
    exporter = Exporter(rhis.account)
    started = exporter.kick_off("Patient/$export")
    assert started.status_code == 202, started.content
    manifest = exporter.get(started["Content-Location"]).json()
    files = {item["type"]: item["url"] for item in manifest["output"]}
    assert [r["id"] for r in exporter.lines(files["Patient"])] == [str(patient.uuid)]


def test_a_failed_export_polls_as_500_with_an_operation_outcome(chain, rhis, monkeypatch):
    from farcare.fhir import operations

    def broken(job):
        raise RuntimeError("disk full")

    monkeypatch.setattr(operations, "export", broken)
    exporter = Exporter(rhis.account)
    status_url = exporter.kick_off(_type="Patient")["Content-Location"]
    polled = exporter.get(status_url)
    assert polled.status_code == 500
    assert "disk full" in outcome(polled)["diagnostics"]


def test_a_running_export_answers_202_with_progress(chain, rhis):
    exporter = Exporter(rhis.account)
    job = ExportJob.objects.create(
        requested_by=rhis.account, request_url="x", types="Patient,Task", status="in-progress"
    )
    polled = exporter.get(f"/fhir/$export-poll-status/{job.uuid}")
    assert polled.status_code == 202
    assert polled["X-Progress"] == "in-progress: 0 of 2 types written"


def test_a_user_token_cannot_export(chain, feldsher, fhir_as):
    response = Exporter(feldsher, "user/*.read").kick_off()
    assert response.status_code == 403
    assert outcome(response)["code"] == "forbidden"
    assert not ExportJob.objects.exists()


@pytest.mark.parametrize(
    ("bulk_export", "token_scopes", "params", "status"),
    [
        (False, "system/*.read", {}, 403),  # not registered for bulk export
        (True, "system/Patient.read", {"_type": "Patient,Task"}, 403),  # Task not in scope
        (True, "system/*.read", {"_type": "Nonsense"}, 400),
        (True, "system/*.read", {"_outputFormat": "text/csv"}, 400),
        (True, "system/*.read", {"_typeFilter": "Patient?gender=male"}, 400),
        (True, "system/Patient.read", {"_type": "Patient"}, 202),
    ],
)
def test_who_may_export_what(chain, bulk_export, token_scopes, params, status):
    client = system_client(chain.hub, bulk_export=bulk_export, scopes=token_scopes)
    response = Exporter(client.account, token_scopes).kick_off(**params)
    assert response.status_code == status, response.content


def test_an_export_without_prefer_respond_async_is_400(chain, rhis):
    response = Exporter(rhis.account).kick_off(prefer="")
    assert response.status_code == 400
    assert outcome(response)["expression"] == ["Prefer"]


def test_the_capability_statement_lists_the_operations(db):
    body = Client().get("/fhir/metadata").json()
    validated("CapabilityStatement", body)
    rest = body["rest"][0]
    export = "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export"
    assert {"name": "export", "definition": export} in rest["operation"]
    assert {i["code"] for i in rest["interaction"]} == {"transaction", "batch"}
    patient = next(r for r in rest["resource"] if r["type"] == "Patient")
    assert "http://hl7.org/fhir/OperationDefinition/Patient-everything" in {
        o["definition"] for o in patient["operation"]
    }
