"""Nothing a client writes through FHIR is silently dropped: every element of a rich, realistic
resource of every writable type comes back on read (and in search, history and vread), mapped
into FarCare's record where FarCare understands it and kept alongside it where it does not.
Elements FarCare owns and cannot honour are refused with 422 naming the element."""

from __future__ import annotations

import base64
import copy
import uuid
from typing import Any

from farcare.accounts.models import Role
from farcare.audit.services import Accessor
from farcare.fhir import systems
from farcare.fhir.resources.clinical import CONSENT_KIND_SYSTEM
from farcare.fhir.resources.consultation import CLIENT_TOKEN, CONSULT_MODE, SPECIALTY
from farcare.fhir.validation import validated
from farcare.patients import services as patient_services
from farcare.patients.models import ConsentKind, Patient

from ..conftest import make_user

V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
# What the server owns and writes itself on every version.
SERVER_OWNED = {"id", "meta.versionId", "meta.lastUpdated"}


def missing(sent: Any, got: Any, path: str) -> list[str]:
    """The paths of what was sent but is not in what came back."""
    if isinstance(sent, dict):
        if not isinstance(got, dict):
            return [path]
        lost = []
        for key, value in sent.items():
            where = f"{path}.{key}"
            if where.split(".", 1)[-1] in SERVER_OWNED:
                continue
            if key not in got:
                lost.append(where)
            else:
                lost += missing(value, got[key], where)
        return lost
    if isinstance(sent, list):
        if not isinstance(got, list):
            return [path]
        lost = []
        for index, item in enumerate(sent):
            if isinstance(item, dict | list):
                attempts = [missing(item, candidate, f"{path}[{index}]") for candidate in got]
                if not attempts:
                    lost.append(f"{path}[{index}]")
                elif all(attempts):
                    lost += min(attempts, key=len)
            elif item not in got:
                lost.append(f"{path}[{index}]")
        scalars = [item for item in sent if not isinstance(item, dict | list)]
        if scalars and not lost and [item for item in got if item in scalars] != scalars:
            lost.append(f"{path} (order)")
        return lost
    return [] if sent == got else [f"{path} (sent {sent!r}, got {got!r})"]


def assert_kept(sent: dict[str, Any], got: dict[str, Any]) -> None:
    validated(got["resourceType"], got)
    lost = missing(sent, got, sent["resourceType"])
    assert not lost, f"elements dropped or changed: {lost}"


def write_and_read(client: Any, resource: dict[str, Any], status: int = 201) -> dict[str, Any]:
    response = client.post(resource["resourceType"], resource)
    assert response.status_code == status, response.content
    assert_kept(resource, response.json())
    logical_id = response.json()["id"]
    path = f"{resource['resourceType']}/{logical_id}"
    read = client.get(path)
    assert read.status_code == 200, read.content
    assert_kept(resource, read.json())
    version = read.json()["meta"]["versionId"]
    assert_kept(resource, client.get(f"{path}/_history/{version}").json())
    found = client.get(resource["resourceType"], _id=logical_id).json()
    assert_kept(resource, found["entry"][0]["resource"])
    return read.json()


def rich_patient(chain: Any, snils: str = "11223344595") -> dict[str, Any]:
    """A patient record as a regional information system exports it: 44 elements."""
    return {
        "resourceType": "Patient",
        "meta": {
            "profile": ["http://hl7.org/fhir/StructureDefinition/Patient"],
            "tag": [{"system": "urn:example:import", "code": "egisz"}],
        },
        "extension": [
            {
                "url": "http://hl7.org/fhir/StructureDefinition/patient-birthPlace",
                "valueAddress": {"city": "Uelen", "country": "RU"},
            },
            {
                "url": "http://hl7.org/fhir/StructureDefinition/patient-nationality",
                "extension": [
                    {
                        "url": "code",
                        "valueCodeableConcept": {
                            "coding": [{"system": "urn:iso:std:iso:3166", "code": "RU"}]
                        },
                    }
                ],
            },
        ],
        "identifier": [
            {
                "use": "official",
                "type": {"coding": [{"system": V2_0203, "code": "SB"}], "text": "SNILS"},
                "system": systems.SNILS,
                "value": snils,
            },
            {"system": systems.OMS, "value": "1234567890123456", "period": {"start": "2020-01-01"}},
            {
                "use": "secondary",
                "system": "urn:oid:1.2.643.5.1.13.13.12.2.87.1",
                "value": "MRN-4711",
                "assigner": {"display": "Uelen feldsher post"},
            },
            {
                "type": {"coding": [{"system": V2_0203, "code": "PPN"}]},
                "system": "urn:oid:1.2.643.100.1",
                "value": "4509 123456",
            },
        ],
        "active": True,
        "name": [
            {
                "use": "official",
                "family": "Ivanov",
                "given": ["Pyotr", "Ivanovich", "Jr"],
                "prefix": ["Dr"],
                "suffix": ["PhD"],
                "period": {"start": "1990-10-10"},
            },
            {"use": "nickname", "given": ["Petya"]},
            {"use": "old", "family": "Petrov", "given": ["Pyotr"], "period": {"end": "2010-05-01"}},
        ],
        "telecom": [
            {"system": "phone", "value": "+79145551212", "use": "mobile", "rank": 1},
            {"system": "phone", "value": "+74273522222", "use": "home"},
            {"system": "email", "value": "p.ivanov@example.ru", "use": "home"},
        ],
        "gender": "male",
        "birthDate": "1990-10-10",
        "deceasedBoolean": False,
        "address": [
            {
                "use": "home",
                "type": "physical",
                "line": ["ul. Lenina 5", "kv. 3"],
                "city": "Uelen",
                "district": "Chukotsky",
                "state": "Chukotka",
                "postalCode": "689315",
                "country": "RU",
            }
        ],
        "maritalStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus",
                    "code": "M",
                    "display": "Married",
                }
            ]
        },
        "multipleBirthBoolean": False,
        "contact": [
            {
                "relationship": [
                    {
                        "coding": [
                            {"system": "http://terminology.hl7.org/CodeSystem/v2-0131", "code": "N"}
                        ]
                    }
                ],
                "name": {"family": "Ivanova", "given": ["Maria"]},
                "telecom": [{"system": "phone", "value": "+79145550000"}],
                "gender": "female",
            }
        ],
        "communication": [
            {
                "language": {"coding": [{"system": "urn:ietf:bcp:47", "code": "ru"}]},
                "preferred": True,
            }
        ],
        "generalPractitioner": [{"display": "Feldsher of the Uelen post"}],
        "managingOrganization": {"reference": f"Organization/{chain.post.organisation.uuid}"},
    }


def test_a_rich_patient_comes_back_whole(chain, fhir_as):
    clinician = make_user(Role.CLINICIAN, chain.post, username="feldsher_uelen")
    client = fhir_as(clinician)
    sent = rich_patient(chain)

    got = write_and_read(client, sent)

    patient = Patient.objects.get(uuid=got["id"])
    # The name parts FarCare understands are in their places, not run together.
    assert (patient.family, patient.given, patient.middle) == ("Ivanov", "Pyotr", "Ivanovich")
    assert got["name"][0]["given"] == ["Pyotr", "Ivanovich", "Jr"]
    assert {"use": "nickname", "given": ["Petya"]} in got["name"]


def test_an_update_replaces_what_was_kept_and_history_keeps_the_old(chain, fhir_as):
    client = fhir_as(make_user(Role.CLINICIAN, chain.post, username="feldsher_uelen"))
    created = client.post("Patient", rich_patient(chain)).json()
    changed = rich_patient(chain)
    changed["id"] = created["id"]
    changed["telecom"] = changed["telecom"][:1]  # the e-mail and the home phone are gone
    del changed["contact"]

    updated = client.put(f"Patient/{created['id']}", changed)

    assert updated.status_code == 200, updated.content
    assert_kept(changed, updated.json())
    now = client.get(f"Patient/{created['id']}").json()
    assert [t["value"] for t in now["telecom"]] == ["+79145551212"]
    assert "contact" not in now
    first = client.get(f"Patient/{created['id']}/_history/1").json()
    assert "contact" in first and len(first["telecom"]) == 3


def test_a_page_edit_wins_for_what_farcare_records_and_keeps_the_rest(chain, fhir_as):
    clinician = make_user(Role.CLINICIAN, chain.post, username="feldsher_uelen")
    client = fhir_as(clinician)
    created = client.post("Patient", rich_patient(chain)).json()
    patient = Patient.objects.get(uuid=created["id"])

    patient_services.patient_update(
        accessor=Accessor(clinician),
        patient=patient,
        data={"family": "Sidorov", "phone": "+79140000001"},
    )

    now = client.get(f"Patient/{created['id']}").json()
    assert now["name"][0]["family"] == "Sidorov"
    assert now["name"][0]["prefix"] == ["Dr"]
    phones = [t for t in now["telecom"] if t.get("use") == "mobile"]
    assert [t["value"] for t in phones] == ["+79140000001"]
    assert any(t["value"] == "p.ivanov@example.ru" for t in now["telecom"])
    assert now["contact"][0]["name"]["family"] == "Ivanova"


def test_a_patient_kept_whole_is_still_closed_to_a_consultant_abroad(scene, fhir_as):
    client = fhir_as(make_user(Role.CLINICIAN, scene.chain.post, username="feldsher_2"))
    created = client.post("Patient", rich_patient(scene.chain)).json()
    abroad = fhir_as(scene.partner_cardiologist)

    assert abroad.get(f"Patient/{created['id']}").status_code == 403
    found = abroad.get("Patient", identifier="urn:oid:1.2.643.5.1.13.13.12.2.87.1|MRN-4711")
    assert "p.ivanov@example.ru" not in found.content.decode()


def rich_observation(scene: Any, consultation: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "meta": {"profile": ["http://hl7.org/fhir/StructureDefinition/heartrate"]},
        "identifier": [{"system": "urn:example:monitor-readings", "value": "hr-0001"}],
        "basedOn": [{"reference": f"ServiceRequest/{consultation.uuid}"}],
        "status": "final",
        "category": [
            {
                "coding": [
                    {
                        "system": systems.OBSERVATION_CATEGORY,
                        "code": "vital-signs",
                        "display": "Vital Signs",
                    }
                ]
            }
        ],
        "code": {
            "coding": [{"system": systems.LOINC, "code": "8867-4", "display": "Heart rate"}],
            "text": "Pulse rate",
        },
        "subject": {"reference": f"Patient/{scene.patient.uuid}", "display": "Patient at Uelen"},
        "effectiveDateTime": "2025-01-19T19:30:00Z",
        "issued": "2025-01-19T19:31:00Z",
        "performer": [{"display": "Feldsher of the Uelen post"}],
        "valueQuantity": {"value": 118, "unit": "/min", "system": systems.UCUM, "code": "/min"},
        "interpretation": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
                        "code": "H",
                        "display": "High",
                    }
                ]
            }
        ],
        "note": [{"text": "Irregular; counted over a full minute."}],
        "bodySite": {
            "coding": [{"system": systems.SNOMED, "code": "7832008", "display": "Radial artery"}]
        },
        "method": {"text": "Palpation"},
        "device": {"display": "none, palpation"},
        "referenceRange": [
            {
                "low": {"value": 60, "unit": "/min", "system": systems.UCUM, "code": "/min"},
                "high": {"value": 90, "unit": "/min", "system": systems.UCUM, "code": "/min"},
                "text": "Adult at rest",
            }
        ],
        "component": [
            {
                "code": {"coding": [{"system": systems.LOINC, "code": "8884-9"}], "text": "Rhythm"},
                "valueCodeableConcept": {"text": "irregularly irregular"},
            }
        ],
    }


def test_a_rich_observation_comes_back_whole(scene, fhir_as):
    consultation = scene.submit("emergency")
    write_and_read(fhir_as(scene.feldsher), rich_observation(scene, consultation))


def rich_service_request(scene: Any) -> dict[str, Any]:
    return {
        "resourceType": "ServiceRequest",
        "meta": {"tag": [{"system": "urn:example:import", "code": "mis"}]},
        "language": "ru",
        "extension": [
            {"url": CONSULT_MODE, "valueCode": "deferred"},
            {"url": "urn:example:referral-channel", "valueString": "satellite"},
        ],
        "identifier": [
            {"system": CLIENT_TOKEN, "value": str(uuid.uuid4())},
            {"system": "urn:oid:1.2.643.5.1.13.13.12.2.87.9", "value": "REF-2025-77"},
        ],
        "instantiatesUri": ["https://example.ru/protocols/acs"],
        "requisition": {"system": "urn:example:requisitions", "value": "R-19"},
        "status": "active",
        "intent": "order",
        "category": [{"coding": [{"system": systems.SNOMED, "code": "11429006"}]}],
        "priority": "urgent",
        "doNotPerform": False,
        "code": {"coding": [{"system": SPECIALTY, "code": "cardiology"}]},
        "orderDetail": [{"text": "Video link if the satellite allows"}],
        "subject": {"reference": f"Patient/{scene.patient.uuid}"},
        "occurrenceDateTime": "2025-01-20T10:00:00Z",
        "asNeededBoolean": False,
        "locationCode": [{"text": "Uelen feldsher post"}],
        "reasonCode": [
            {
                "coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "I20.0"}],
                "text": "Unstable angina",
            }
        ],
        "insurance": [{"display": "OMS"}],
        "bodySite": [{"text": "Chest"}],
        "note": [
            {"text": "Palpitations since the morning. Beta blocker?"},
            {"text": "Female, 48, no chest pain."},
            {
                "text": "Called the hub at 09:10.",
                "authorString": "Feldsher",
                "time": "2025-01-20T09:10:00Z",
            },
        ],
        "patientInstruction": "Keep resting until the call.",
        "contained": [
            {
                "resourceType": "Observation",
                "id": "pulse",
                "status": "final",
                "code": {"coding": [{"system": systems.LOINC, "code": "8867-4"}]},
                "valueQuantity": {"value": 124, "unit": "/min"},
            }
        ],
        "supportingInfo": [{"reference": "#pulse"}],
    }


def test_a_rich_service_request_comes_back_whole(scene, fhir_as):
    write_and_read(fhir_as(scene.feldsher), rich_service_request(scene))


def test_a_rich_consent_comes_back_whole(scene, fhir_as):
    sent = {
        "resourceType": "Consent",
        "identifier": [{"system": "urn:example:consent-forms", "value": "CF-12"}],
        "status": "active",
        "scope": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/consentscope",
                    "code": "patient-privacy",
                }
            ],
            "text": "Pseudonymised case to partner hospitals in Korea",
        },
        "category": [
            {"coding": [{"system": CONSENT_KIND_SYSTEM, "code": ConsentKind.TRANSFER_ABROAD}]}
        ],
        "patient": {"reference": f"Patient/{scene.patient.uuid}"},
        "sourceAttachment": {"title": "Signed form", "contentType": "application/pdf"},
        "verification": [{"verified": True, "verificationDate": "2025-01-20T09:00:00Z"}],
        "provision": {
            "type": "permit",
            "actor": [
                {
                    "role": {
                        "coding": [
                            {
                                "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                                "code": "IRCP",
                            }
                        ]
                    },
                    "reference": {"display": "Partner hospitals in Korea"},
                }
            ],
        },
    }
    write_and_read(fhir_as(scene.feldsher), sent)


def test_a_rich_communication_comes_back_whole(scene, fhir_as):
    consultation = scene.submit("emergency")
    sent = {
        "resourceType": "Communication",
        "identifier": [{"system": "urn:example:messages", "value": "m-1"}],
        "basedOn": [{"reference": f"ServiceRequest/{consultation.uuid}"}],
        "status": "completed",
        "priority": "urgent",
        "medium": [{"text": "satellite messenger"}],
        "topic": {"text": "ECG"},
        "reasonCode": [{"text": "Rhythm question"}],
        "payload": [{"contentString": "The ECG shows atrial fibrillation, rate 130."}],
        "note": [{"text": "Sent from the post's laptop."}],
    }
    write_and_read(fhir_as(scene.feldsher), sent)


def test_a_rich_document_reference_comes_back_whole(scene, fhir_as):
    consultation = scene.submit("emergency")
    sent = {
        "resourceType": "DocumentReference",
        "masterIdentifier": {"system": "urn:example:documents", "value": "D-88"},
        "status": "current",
        "category": [{"text": "ECG"}],
        "description": "12-lead ECG at 09:05",
        "securityLabel": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality",
                        "code": "R",
                    }
                ]
            }
        ],
        "content": [
            {
                "attachment": {"contentType": "image/png", "title": "ecg.png", "language": "ru"},
                "format": {"system": "urn:example:formats", "code": "ecg-image"},
            }
        ],
        "context": {
            "related": [{"reference": f"ServiceRequest/{consultation.uuid}"}],
            "facilityType": {"text": "Feldsher post"},
        },
    }
    posted = copy.deepcopy(sent)
    posted["content"][0]["attachment"]["data"] = base64.b64encode(PNG).decode()
    response = fhir_as(scene.feldsher).post("DocumentReference", posted)
    assert response.status_code == 201, response.content
    assert_kept(sent, response.json())
    read = fhir_as(scene.feldsher).get(f"DocumentReference/{response.json()['id']}").json()
    assert_kept(sent, read)
    # The file itself is the Binary, not a copy inside the kept elements.
    assert "data" not in read["content"][0]["attachment"]


def test_a_rich_task_update_comes_back_whole(scene, fhir_as):
    consultation = scene.submit("emergency")
    client = fhir_as(scene.hub_cardiologist)
    task = client.get(f"Task/{consultation.uuid}").json()
    sent = {key: value for key, value in task.items() if key != "meta"}
    sent["status"] = "accepted"
    sent["description"] = "Review the ECG first"
    sent["note"] = [{"text": "Taking it now."}]
    sent["input"] = [{"type": {"text": "ECG"}, "valueString": "see DocumentReference"}]

    response = client.put(f"Task/{consultation.uuid}", sent)

    assert response.status_code == 200, response.content
    got = client.get(f"Task/{consultation.uuid}").json()
    for key in ("description", "note", "input"):
        assert got[key] == sent[key], key
    assert got["status"] == "accepted"


def test_an_element_farcare_owns_and_cannot_honour_is_refused(chain, fhir_as):
    client = fhir_as(make_user(Role.CLINICIAN, chain.post, username="feldsher_uelen"))
    resource = rich_patient(chain)
    resource["active"] = False

    response = client.post("Patient", resource)

    assert response.status_code == 422, response.content
    assert response.json()["issue"][0]["expression"] == ["Patient.active"]
    assert not Patient.objects.exists()
