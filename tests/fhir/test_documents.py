"""Documents, signatures and the audit trail over FHIR: the signed conclusion is a consult note
whose PDF can be fetched and whose signature anyone can check; a station uploads its files to an
open request within the same limits as the pages; only administrators read the audit trail."""

from __future__ import annotations

import base64
import hashlib

from farcare.accounts.models import Role
from farcare.audit.models import AuditAction, AuditEvent
from farcare.audit.services import Accessor
from farcare.consults.conclusions import conclusion_document
from farcare.consults.models import Attachment, EvacuationAdvice
from farcare.consults.services import (
    ConclusionData,
    conclusion_sign,
    consult_accept,
)
from farcare.fhir import systems
from farcare.fhir.resources.documents import SHA256_URL, VERIFICATION_URL
from farcare.fhir.validation import validated
from farcare.signatures.models import Signature
from farcare.signatures.services import verify_document

from ..conftest import make_user
from ..factories import PatientFactory

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def outcome(response):
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    return body["issue"][0]


def entries(response):
    assert response.status_code == 200, response.content
    bundle = response.json()
    assert bundle["resourceType"] == "Bundle"
    resources = [entry["resource"] for entry in bundle.get("entry", [])]
    for resource in resources:
        validated(resource["resourceType"], resource)
    return resources


def read(client, path):
    response = client.get(path)
    assert response.status_code == 200, response.content
    body = response.json()
    validated(body["resourceType"], body)
    return body


def signed(scene, recommendations="Aspirin 250 mg chewed; prepare for the flight."):
    consultation = scene.submit("emergency")
    consult_accept(accessor=Accessor(scene.hub_cardiologist), consultation=consultation)
    return sign(scene, consultation, recommendations)


def sign(scene, consultation, recommendations):
    return conclusion_sign(
        accessor=Accessor(scene.hub_cardiologist),
        consultation=consultation,
        data=ConclusionData(
            findings="ST elevation in V1–V4 on the ECG sent.",
            diagnoses=["I21.0"],
            recommendations=recommendations,
            evacuation=EvacuationAdvice.URGENT_AIR,
            evacuation_destination=scene.chain.hub,
        ),
    )


def upload(consultation, data, title, content_type=None):
    attachment = {"title": title, "data": base64.b64encode(data).decode()}
    if content_type:
        attachment["contentType"] = content_type
    return {
        "resourceType": "DocumentReference",
        "status": "current",
        "content": [{"attachment": attachment}],
        "context": {"related": [{"reference": f"ServiceRequest/{consultation.uuid}"}]},
    }


# --- the signed conclusion ------------------------------------------------------------------


def test_a_signed_conclusion_is_a_consult_note_with_a_verifiable_signature(scene, fhir_as):
    conclusion = signed(scene)
    consultation = conclusion.consultation
    client = fhir_as(scene.feldsher)

    notes = entries(
        client.get(
            "DocumentReference",
            related=f"ServiceRequest/{consultation.uuid}",
            type=f"{systems.LOINC}|11488-4",
        )
    )
    assert len(notes) == 1
    note = notes[0]
    assert note["type"]["coding"][0] == {
        "system": systems.LOINC,
        "code": "11488-4",
        "display": "Consult note",
    }
    assert note["status"] == "current"
    assert note["subject"] == {"reference": f"Patient/{scene.patient.uuid}"}
    consultant = scene.hub_cardiologist.practitioner
    assert note["author"][0]["reference"] == f"Practitioner/{consultant.uuid}"
    attachment = note["content"][0]["attachment"]
    assert attachment["contentType"] == "application/pdf"
    assert attachment["url"] == f"Binary/{note['id']}"
    document = Attachment.objects.get(uuid=note["id"])
    assert attachment["extension"][0] == {
        "url": SHA256_URL,
        "valueBase64Binary": base64.b64encode(bytes.fromhex(document.sha256)).decode(),
    }

    binary = read(client, attachment["url"])
    assert binary["contentType"] == "application/pdf"
    assert base64.b64decode(binary["data"]).startswith(b"%PDF-")

    provenances = entries(client.get("Provenance", target=f"DocumentReference/{note['id']}"))
    assert len(provenances) == 1
    provenance = provenances[0]
    assert provenance["target"] == [{"reference": f"DocumentReference/{note['id']}"}]
    assert provenance["agent"][0]["who"]["reference"] == f"Practitioner/{consultant.uuid}"
    signature = provenance["signature"][0]
    assert signature["type"][0]["system"] == "urn:iso-astm:E1762-95:2013"
    assert signature["type"][0]["code"] == "1.2.840.10065.1.12.1.1"
    assert signature["who"] == provenance["agent"][0]["who"]
    verification = {
        part["url"]: next(value for key, value in part.items() if key.startswith("value"))
        for part in signature["extension"][0]["extension"]
    }
    assert signature["extension"][0]["url"] == VERIFICATION_URL
    assert verification["valid"] is True
    # The client can check it too: the signature served is the one stored, and it verifies.
    stored = Signature.objects.get(uuid=provenance["id"])
    assert signature["data"] == stored.signature
    assert verify_document(signature=stored, document=conclusion_document(conclusion)).valid


def test_an_amended_conclusion_replaces_the_earlier_document(scene, fhir_as):
    first = signed(scene)
    second = sign(scene, first.consultation, "Oxygen 2 L/min in flight as well.")
    client = fhir_as(scene.feldsher)

    notes = {
        note["description"]: note
        for note in entries(
            client.get("DocumentReference", related=f"ServiceRequest/{first.consultation.uuid}")
        )
    }
    old, new = notes["Signed conclusion, version 1"], notes["Signed conclusion, version 2"]
    assert old["status"] == "superseded"
    assert new["status"] == "current" and new["docStatus"] == "amended"
    assert new["relatesTo"] == [
        {"code": "replaces", "target": {"reference": f"DocumentReference/{old['id']}"}}
    ]
    current = entries(client.get("DocumentReference", status="current"))
    assert [note["id"] for note in current] == [new["id"]]
    assert second.document.uuid.hex == new["id"].replace("-", "")
    assert len(entries(client.get("Provenance", patient=f"Patient/{scene.patient.uuid}"))) == 2


def test_a_conclusion_carries_its_document_number_and_is_found_by_it(scene, fhir_as):
    first = signed(scene)
    second = sign(scene, first.consultation, "Oxygen 2 L/min in flight as well.")
    assert first.number and second.number and first.number != second.number
    client = fhir_as(scene.feldsher)

    note = read(client, f"DocumentReference/{second.document.uuid}")
    assert note["identifier"] == [
        {"use": "official", "system": systems.CONCLUSION_NUMBER, "value": second.number}
    ]
    assert systems.CONCLUSION_NUMBER == "urn:farcare:conclusion-number"

    # A hospital that quotes the number finds that version, with or without the system.
    for query in (second.number, f"{systems.CONCLUSION_NUMBER}|{second.number}"):
        found = entries(client.get("DocumentReference", identifier=query))
        assert [n["id"] for n in found] == [note["id"]]
    earlier = entries(client.get("DocumentReference", identifier=first.number))
    assert [n["id"] for n in earlier] == [str(first.document.uuid)]
    # Another system's number, or one never given, finds nothing.
    other = f"{systems.SNILS}|{second.number}"
    assert entries(client.get("DocumentReference", identifier=other)) == []
    assert entries(client.get("DocumentReference", identifier="ТМК-1999-000001")) == []


# --- uploads --------------------------------------------------------------------------------


def test_a_station_uploads_an_image_to_an_open_request(scene, fhir_as):
    consultation = scene.submit("emergency")
    client = fhir_as(scene.feldsher)
    resource = upload(consultation, PNG, "ecg.png", "image/png")
    resource["content"][0]["attachment"]["hash"] = base64.b64encode(
        hashlib.sha1(PNG, usedforsecurity=False).digest()
    ).decode()

    created = client.post("DocumentReference", resource)
    assert created.status_code == 201, created.content
    body = created.json()
    validated("DocumentReference", body)
    assert body["type"]["coding"][0]["code"] == "attachment"
    assert body["content"][0]["attachment"]["size"] == len(PNG)
    binary = read(client, f"Binary/{body['id']}")
    assert base64.b64decode(binary["data"]) == PNG
    assert consultation.attachments.get().original_name == "ecg.png"
    assert AuditEvent.objects.filter(
        action=AuditAction.CREATE, record_type="Attachment", channel="fhir"
    ).exists()


def test_uploads_keep_the_limits_of_the_pages(scene, fhir_as):
    consultation = scene.submit("emergency")
    client = fhir_as(scene.feldsher)

    forbidden = client.post(
        "DocumentReference",
        upload(consultation, b"MZ\x90\x00", "setup.exe", "application/octet-stream"),
    )
    assert forbidden.status_code == 422
    issue = outcome(forbidden)
    assert issue["code"] == "business-rule"
    assert issue["expression"] == ["DocumentReference.content[0].attachment"]
    disguised = client.post("DocumentReference", upload(consultation, b"MZ", "ecg.png"))
    assert outcome(disguised)["expression"] == ["DocumentReference.content[0].attachment"]
    mislabelled = client.post(
        "DocumentReference", upload(consultation, PNG, "ecg.png", "image/jpeg")
    )
    assert outcome(mislabelled)["expression"] == [
        "DocumentReference.content[0].attachment.contentType"
    ]
    damaged = upload(consultation, PNG, "ecg.png", "image/png")
    damaged["content"][0]["attachment"]["hash"] = base64.b64encode(b"\x00" * 20).decode()
    assert outcome(client.post("DocumentReference", damaged))["expression"] == [
        "DocumentReference.content[0].attachment.hash"
    ]
    conclusion = upload(consultation, b"%PDF-1.4", "conclusion.pdf", "application/pdf")
    conclusion["type"] = {"coding": [{"system": systems.LOINC, "code": "11488-4"}]}
    assert outcome(client.post("DocumentReference", conclusion))["expression"] == [
        "DocumentReference.type"
    ]
    assert not consultation.attachments.exists()

    closed = signed(scene).consultation
    late = client.post("DocumentReference", upload(closed, PNG, "late.png", "image/png"))
    assert late.status_code == 422
    assert outcome(late)["expression"] == ["DocumentReference.context.related[0]"]


def test_documents_stay_within_access(scene, chain, fhir_as):
    conclusion = signed(scene)
    stranger = fhir_as(make_user(Role.CLINICIAN, chain.other_region_post))
    document = conclusion.document
    assert stranger.get(f"DocumentReference/{document.uuid}").status_code == 403
    assert stranger.get(f"Binary/{document.uuid}").status_code == 403
    assert stranger.get(f"Provenance/{conclusion.signature.uuid}").status_code == 403
    assert entries(stranger.get("DocumentReference")) == []
    assert entries(stranger.get("Provenance")) == []
    refused = stranger.post(
        "DocumentReference",
        upload(scene.submit("emergency"), PNG, "ecg.png", "image/png"),
    )
    assert refused.status_code == 403


# --- the audit trail ------------------------------------------------------------------------


def test_the_audit_trail_is_for_administrators_only(scene, fhir_as):
    clinician = fhir_as(scene.feldsher)
    assert clinician.get(f"Patient/{scene.patient.uuid}").status_code == 200
    admin = fhir_as(make_user(Role.ADMINISTRATOR), "user/*.read")

    events = entries(admin.get("AuditEvent", patient=f"Patient/{scene.patient.uuid}"))
    viewed = next(e for e in events if e["type"]["code"] == "rest" and e["action"] == "R")
    assert viewed["outcome"] == "0"
    assert viewed["agent"][0]["who"]["display"] == scene.feldsher.username
    assert viewed["agent"][0]["who"]["identifier"]["value"] == str(scene.feldsher.uuid)
    assert viewed["entity"][0]["what"] == {"reference": f"Patient/{scene.patient.uuid}"}
    by_agent = entries(admin.get("AuditEvent", agent=scene.feldsher.username, action="R"))
    assert viewed["id"] in {event["id"] for event in by_agent}

    assert clinician.get(f"AuditEvent/{viewed['id']}").status_code == 403
    assert entries(clinician.get("AuditEvent")) == []
    assert read(admin, f"AuditEvent/{viewed['id']}")["id"] == viewed["id"]


def test_a_refusal_is_an_audit_event_with_a_minor_failure(scene, chain, fhir_as):
    stranger = make_user(Role.CLINICIAN, chain.other_region_post)
    assert fhir_as(stranger).get(f"Patient/{scene.patient.uuid}").status_code == 403
    admin = fhir_as(make_user(Role.ADMINISTRATOR), "user/*.read")
    denied = entries(admin.get("AuditEvent", agent=str(stranger.uuid), outcome="4"))
    assert len(denied) == 1
    assert denied[0]["outcomeDesc"].startswith("denied")


def test_a_patient_reads_only_the_events_about_their_own_record(scene, chain, fhir_as):
    scene.patient.user = make_user(Role.PATIENT)
    scene.patient.save()
    other = PatientFactory(home_facility=chain.post)
    clinician = fhir_as(scene.feldsher)
    for patient in (scene.patient, other):
        assert clinician.get(f"Patient/{patient.uuid}").status_code == 200

    own = entries(fhir_as(scene.patient.user).get("AuditEvent"))
    assert own
    assert {event["entity"][0]["what"]["reference"] for event in own} == {
        f"Patient/{scene.patient.uuid}"
    }
