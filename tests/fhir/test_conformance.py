"""Conformance: the FHIR API as two independent clients from PyPI see it.

fhirpy and SMART's fhirclient talk to the server over loopback (pytest-django's live server, so
every request crosses a real socket, real HTTP parsing and the real URL routing). A feldsher at
the Uelen post and the consultants of the hub use the clients the way a regional information
system or a bedside app would: create, read, search and update each kind of resource; send a
whole consultation in one transaction and send it again after a lost connection; page through
hundreds of search results; create conditionally; update with a stale ETag; read a record
outside their access.

Every resource a client receives is checked twice: validated by the server's own R4B models, and
parsed strictly by fhirclient's models of FHIR 4.0.1, the version the CapabilityStatement
declares. While a resource handler is not registered, the stories about its type are expected to
fail (non-strict xfail, named in the reason). A known defect of the server is a strict xfail whose
reason starts with BUG and names the code at fault: it must be removed when the defect is fixed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
import requests
from django.urls import Resolver404, resolve
from fhirclient.models.communication import Communication as SmartCommunication
from fhirclient.models.consent import Consent as SmartConsent
from fhirclient.models.documentreference import DocumentReference as SmartDocumentReference
from fhirclient.models.encounter import Encounter as SmartEncounter
from fhirclient.models.fhirabstractresource import FHIRAbstractResource
from fhirclient.models.fhirelementfactory import FHIRElementFactory
from fhirclient.models.observation import Observation as SmartObservation
from fhirclient.models.patient import Patient as SmartPatient
from fhirclient.models.practitioner import Practitioner as SmartPractitioner
from fhirclient.models.provenance import Provenance as SmartProvenance
from fhirclient.models.servicerequest import ServiceRequest as SmartServiceRequest
from fhirclient.models.task import Task as SmartTask
from fhirclient.server import FHIRPermissionDeniedException, FHIRServer
from fhirpy import SyncFHIRClient
from fhirpy.base.exceptions import (
    ForbiddenError,
    MultipleResourcesFound,
    OperationOutcome,
)

from farcare.accounts.models import Role, User
from farcare.audit.models import AuditAction, AuditEvent
from farcare.audit.services import Accessor
from farcare.consults.models import (
    Assignment,
    Attachment,
    Consultation,
    EvacuationAdvice,
    Message,
    Status,
    Transition,
    VitalObservation,
)
from farcare.consults.services import (
    ConclusionData,
    RequestData,
    conclusion_sign,
    consult_accept,
    consult_save_draft,
)
from farcare.fhir import systems
from farcare.fhir.registry import handler_for
from farcare.fhir.validation import validated
from farcare.network.models import Facility, Practitioner
from farcare.patients.models import Consent, ConsentKind, Patient

from ..conftest import Chain, make_user
from ..consults.conftest import Scene
from ..factories import PatientFactory, valid_snils
from .conftest import issue_token

READ_WRITE = "user/*.read user/*.write"
CLIENT_TOKEN = "urn:farcare:client-token"
SPECIALTY = "urn:farcare:specialty"
VITAL_SIGNS = "http://terminology.hl7.org/CodeSystem/observation-category"
HEART_RATE = f"{systems.LOINC}|8867-4"
CONSENT_SCOPE = "http://terminology.hl7.org/CodeSystem/consentscope"
CONSENT_KIND = "urn:farcare:consent-kind"
REVOCATION_REASON = "urn:farcare:extension:consent-revocation-reason"
# The smallest JPEG there is: one grey pixel (159 bytes), as a phone at the post would send.
TINY_JPEG = base64.b64decode(
    "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAP//////////////////////////////////////////////////////////"
    "////////////////////////////wAALCAABAAEBAREA/8QAFAABAAAAAAAAAAAAAAAAAAAAAP/EABQQAQAAAAAAAAAA"
    "AAAAAAAAAAD/2gAIAQEAAD8AP//Z"
)


# --- what is there yet ----------------------------------------------------------------------


def _registered(resource_type: str) -> bool:
    return handler_for(resource_type) is not None


def _routed(path: str) -> bool:
    try:
        resolve(path)
    except Resolver404:
        return False
    return True


def needs(*resource_types: str) -> pytest.MarkDecorator:
    """Expect failure (not strictly) while a handler the story needs is not registered."""
    missing = [kind for kind in resource_types if not _registered(kind)]
    return pytest.mark.xfail(
        bool(missing),
        reason=f"{', '.join(missing)} handler not registered yet",
        strict=False,
    )


needs_transactions = pytest.mark.xfail(
    not _routed("/fhir/"),
    reason="the transaction endpoint (bundles.base) is not routed at POST /fhir/ yet",
    strict=False,
)


# --- the two clients ------------------------------------------------------------------------


@dataclass(frozen=True)
class Api:
    """The live server's FHIR base, and clients of it acting for a user."""

    base: str

    def fhirpy(self, user: User, scopes: str = READ_WRITE, **headers: str) -> SyncFHIRClient:
        return SyncFHIRClient(
            self.base,
            authorization=f"Bearer {issue_token(user, scopes)}",
            extra_headers=headers or None,
        )

    def smart(self, user: User, scopes: str = READ_WRITE) -> FHIRServer:
        server = FHIRServer(None, base_uri=self.base)
        server.session.headers["Authorization"] = f"Bearer {issue_token(user, scopes)}"
        return server


@pytest.fixture
def api(live_server: Any) -> Api:
    return Api(f"{live_server.url}/fhir")


@contextmanager
def header(server: FHIRServer, name: str, value: str) -> Iterator[None]:
    """fhirclient has no parameter for conditional headers: set one on its session."""
    server.session.headers[name] = value
    try:
        yield
    finally:
        del server.session.headers[name]


def conforms(resource: Any) -> dict[str, Any]:
    """The resource as plain JSON, after checking it against FHIR twice: validated by the
    server's own R4B models, and parsed strictly by fhirclient's models of FHIR 4.0.1 (the
    version the CapabilityStatement declares), which refuse unknown or missing elements."""
    if isinstance(resource, FHIRAbstractResource):
        resource = resource.as_json()
    elif hasattr(resource, "serialize"):
        resource = resource.serialize()
    body: dict[str, Any] = json.loads(json.dumps(resource))
    validated(body["resourceType"], body)
    parsed = FHIRElementFactory.instantiate(body["resourceType"], body)
    assert isinstance(parsed, FHIRAbstractResource), body["resourceType"]
    return body


def outcome(error: Exception) -> dict[str, Any]:
    """The first issue of the OperationOutcome a client's exception carries."""
    if isinstance(error, OperationOutcome):
        body = error.resource
    elif isinstance(error, requests.HTTPError | FHIRPermissionDeniedException):
        assert error.response is not None
        body = error.response.json()
    else:  # fhirpy's ForbiddenError, ResourceNotFound, MultipleResourcesFound: the raw body
        body = json.loads(str(error.args[0]))
    assert body["resourceType"] == "OperationOutcome", body
    validated("OperationOutcome", body)
    issue: dict[str, Any] = body["issue"][0]
    return issue


def ids(resources: list[Any]) -> list[str]:
    return [str(resource.id) for resource in resources]


def reference(resource_type: str, logical_id: Any) -> dict[str, str]:
    return {"reference": f"{resource_type}/{logical_id}"}


def logical_id(location: str) -> str:
    """`Type/id` from a response's location `Type/id/_history/n`."""
    return "/".join(location.split("/_history")[0].split("/")[-2:])


# --- resources as a client writes them -------------------------------------------------------


def patient_json(chain: Chain, snils: str = "11223344595", **changes: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "identifier": [{"system": systems.SNILS, "value": snils}],
        "name": [{"family": "Ёлкина", "given": ["Алёна", "Игоревна"]}],
        "gender": "female",
        "birthDate": "1990-10-10",
        "managingOrganization": reference("Organization", chain.post.organisation.uuid),
    }
    resource.update(changes)
    return resource


def request_json(
    patient: Any, *, token: str | None = None, priority: str = "urgent", status: str = "active"
) -> dict[str, Any]:
    """A teleconsultation request (domain.md §6): the specialty asked as its code, the form as
    priority, the question and the clinical summary as notes, and the client token that makes a
    resubmission harmless."""
    return {
        "resourceType": "ServiceRequest",
        "identifier": [{"system": CLIENT_TOKEN, "value": token or str(uuid.uuid4())}],
        "status": status,
        "intent": "order",
        "category": [
            {"coding": [{"system": systems.SNOMED, "code": "11429006", "display": "Consultation"}]}
        ],
        "priority": priority,
        "code": {"coding": [{"system": SPECIALTY, "code": "cardiology"}]},
        "subject": patient if isinstance(patient, dict) else reference("Patient", patient.uuid),
        "note": [
            {"text": "Thrombolysis here, or evacuation to Anadyr?"},
            {"text": "Male, 65, crushing chest pain for two hours, sweating."},
        ],
    }


def heart_rate_json(
    patient: Any, value: int = 112, at: str = "2025-11-27T03:40:00Z"
) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "category": [{"coding": [{"system": VITAL_SIGNS, "code": "vital-signs"}]}],
        "code": {"coding": [{"system": systems.LOINC, "code": "8867-4", "display": "Heart rate"}]},
        "subject": patient if isinstance(patient, dict) else reference("Patient", patient.uuid),
        "effectiveDateTime": at,
        "valueQuantity": {"value": value, "unit": "/min", "system": systems.UCUM, "code": "/min"},
    }


def spo2_json(patient: Any, at: str = "2025-11-27T03:40:00Z") -> dict[str, Any]:
    resource = heart_rate_json(patient, at=at)
    resource["code"] = {
        "coding": [{"system": systems.LOINC, "code": "59408-5", "display": "Oxygen saturation"}]
    }
    resource["valueQuantity"] = {"value": 91, "unit": "%", "system": systems.UCUM, "code": "%"}
    return resource


def photo_json(patient: Any, service_request: Any) -> dict[str, Any]:
    return {
        "resourceType": "DocumentReference",
        "status": "current",
        "type": {"text": "Photograph"},
        "subject": patient if isinstance(patient, dict) else reference("Patient", patient.uuid),
        "context": {"related": [service_request]},
        "content": [
            {
                "attachment": {
                    "contentType": "image/jpeg",
                    "data": base64.b64encode(TINY_JPEG).decode(),
                    "title": "ecg-strip.jpg",
                }
            }
        ],
    }


def a_patient(home: Facility, **fields: Any) -> Patient:
    patient = PatientFactory(home_facility=home, **fields)
    assert isinstance(patient, Patient)
    return patient


def people(user: User) -> set[str]:
    """The references that name a user of the care network: their Practitioner and roles."""
    practitioner = Practitioner.objects.get(user=user)
    return {f"Practitioner/{practitioner.uuid}"} | {
        f"PractitionerRole/{role.uuid}" for role in practitioner.roles.all()
    }


def submitted(scene: Scene) -> Consultation:
    """The feldsher's emergency request, routed to the hub's cardiologist."""
    consultation = scene.submit("emergency")
    assert consultation.status == Status.REQUESTED
    return consultation


# --- Patient ----------------------------------------------------------------------------------


def test_fhirpy_registers_finds_and_updates_a_patient(
    chain: Chain, feldsher: User, api: Api
) -> None:
    client = api.fhirpy(feldsher)
    created = client.resource("Patient", **patient_json(chain))
    created.save()
    assert created.id and created["meta"]["versionId"] == "1"
    record = Patient.objects.get(uuid=created.id)
    assert (record.family, record.snils) == ("Ёлкина", "11223344595")

    read = conforms(client.reference("Patient", created.id).to_resource())
    assert read["identifier"] == [{"system": systems.SNILS, "value": "11223344595"}]
    a_patient(chain.post, family="Елисеев", birth_date=date(1950, 1, 2))
    a_patient(chain.other_region_post, family="Ёлкин")  # not theirs

    patients = client.resources("Patient")
    assert ids(patients.search(name="елк").fetch()) == [created.id]  # ё = е, starts-with
    assert ids(patients.search(identifier=f"{systems.SNILS}|11223344595").fetch()) == [created.id]
    assert ids(patients.search(birthdate="1990-10-10").fetch()) == [created.id]
    assert ids(patients.search(birthdate__ge="1960").fetch()) == [created.id]
    (older,) = patients.search(birthdate__lt="1960-01-01").fetch()
    assert older["name"][0]["family"] == "Елисеев"
    for found in patients.fetch():
        conforms(found)

    created["gender"] = "other"
    created.save()  # PUT
    assert created["meta"]["versionId"] == "2"
    assert Patient.objects.get(uuid=created.id).sex == "other"


def test_fhirclient_registers_finds_and_updates_a_patient(
    chain: Chain, feldsher: User, api: Api
) -> None:
    server = api.smart(feldsher)
    answer = SmartPatient(patient_json(chain, snils=valid_snils(5))).create(server)
    assert answer is not None
    logical = answer["id"]
    assert Patient.objects.filter(uuid=logical).exists()

    patient = SmartPatient.read(logical, server)
    conforms(patient)
    assert patient.name[0].family == "Ёлкина"
    assert patient.birthDate.isostring == "1990-10-10"

    def found(**params: str) -> list[str]:
        search = SmartPatient.where(struct=params)
        return [str(p.id) for p in search.perform_resources_iter(server)]

    assert found(name="Ёлкина") == [logical]
    assert found(identifier=f"{systems.SNILS}|{valid_snils(5)}") == [logical]
    assert found(birthdate="ge1990-10-10") == [logical]
    assert found(birthdate="gt1990-10-10") == []

    patient.gender = "other"
    with header(server, "If-Match", 'W/"1"'):  # the version just read
        updated = patient.update(server)
    assert updated is not None and updated["meta"]["versionId"] == "2"
    assert Patient.objects.get(uuid=logical).sex == "other"


def test_conditional_create_finds_the_patient_instead_of_a_duplicate(
    chain: Chain, feldsher: User, api: Api
) -> None:
    existing = a_patient(chain.post, snils="11223344595", birth_date=date(1990, 10, 10))
    condition = f"identifier={systems.SNILS}|11223344595"

    conditional = api.fhirpy(feldsher, **{"If-None-Exist": condition})
    again = conditional.resource("Patient", **patient_json(chain))
    again.save()
    assert again.id == str(existing.uuid)

    server = api.smart(feldsher)
    with header(server, "If-None-Exist", condition):
        answer = SmartPatient(patient_json(chain)).create(server)
    assert answer is not None and answer["id"] == str(existing.uuid)
    assert Patient.objects.count() == 1

    with header(server, "If-None-Exist", f"identifier={systems.SNILS}|{valid_snils(9)}"):
        fresh = SmartPatient(patient_json(chain, snils=valid_snils(9))).create(server)
    assert fresh is not None and fresh["id"] != str(existing.uuid)
    assert Patient.objects.count() == 2

    ambiguous = api.fhirpy(feldsher, **{"If-None-Exist": "birthdate=1990-10-10"})
    with pytest.raises(MultipleResourcesFound) as refused:  # two match: 412, nothing created
        ambiguous.resource("Patient", **patient_json(chain, snils=valid_snils(10))).save()
    assert outcome(refused.value)["code"] == "conflict"
    assert Patient.objects.count() == 2


def test_an_update_with_a_stale_etag_is_refused(chain: Chain, feldsher: User, api: Api) -> None:
    patient = a_patient(chain.post, snils="11223344595")
    client = api.fhirpy(feldsher)
    current = client.reference("Patient", str(patient.uuid)).to_resource()
    assert current["meta"]["versionId"] == "1"

    fresh = api.fhirpy(feldsher, **{"If-Match": 'W/"1"'})
    changed = fresh.resource("Patient", **{**current.serialize(), "gender": "female"})
    changed.save()
    assert changed["meta"]["versionId"] == "2"

    stale = api.fhirpy(feldsher, **{"If-Match": 'W/"1"'})
    with pytest.raises(MultipleResourcesFound) as refused:  # fhirpy's name for a 412
        stale.resource("Patient", **{**current.serialize(), "gender": "other"}).save()
    assert outcome(refused.value)["code"] == "conflict"

    server = api.smart(feldsher)
    smart = SmartPatient.read(str(patient.uuid), server)
    smart.gender = "other"
    with header(server, "If-Match", 'W/"1"'), pytest.raises(requests.HTTPError) as http:
        smart.update(server)
    assert http.value.response is not None and http.value.response.status_code == 412
    assert outcome(http.value)["code"] == "conflict"
    assert Patient.objects.get(pk=patient.pk).sex == "female"  # the stale writes changed nothing


def test_paging_through_250_patients_follows_the_next_links(
    chain: Chain, feldsher: User, api: Api
) -> None:
    Patient.objects.bulk_create(
        [
            Patient(
                family=f"Пациент{n:03d}",
                given="Тест",
                sex="male",
                birth_date=date(1980, 1, 1),
                home_facility=chain.post,
                home_settlement=chain.post.settlement,
                search_name=f"пациент{n:03d} тест",
            )
            for n in range(250)
        ]
    )
    a_patient(chain.other_region_post, family="Пациент000")
    expected = [f"Пациент{n:03d}" for n in range(250)]

    search = api.fhirpy(feldsher).resources("Patient").sort("family").limit(40)
    first = search.fetch_raw()
    assert first["total"] == 250 and len(first["entry"]) == 40
    assert any(link["relation"] == "next" for link in first["link"])
    everyone = search.fetch_all()
    assert [conforms(p)["name"][0]["family"] for p in everyone] == expected
    assert len(set(ids(everyone))) == 250

    server = api.smart(feldsher)
    pages = list(
        SmartPatient.where(struct={"_sort": "family", "_count": "40"}).perform_iter(server)
    )
    assert [len(page.entry or []) for page in pages] == [40] * 6 + [10]
    families = [entry.resource.name[0].family for page in pages for entry in page.entry or []]
    assert families == expected


def test_a_patient_of_another_region_is_forbidden(chain: Chain, feldsher: User, api: Api) -> None:
    stranger = a_patient(chain.other_region_post)

    with pytest.raises(ForbiddenError) as refused:
        api.fhirpy(feldsher).get("Patient", str(stranger.uuid))
    assert outcome(refused.value)["code"] == "forbidden"

    with pytest.raises(FHIRPermissionDeniedException) as denied:
        SmartPatient.read(str(stranger.uuid), api.smart(feldsher))
    assert denied.value.response.status_code == 403
    assert outcome(denied.value)["code"] == "forbidden"
    hidden = api.fhirpy(feldsher).resources("Patient").search(_id=str(stranger.uuid))
    assert hidden.fetch() == []  # nor does a search show the record
    assert (
        AuditEvent.objects.filter(
            action=AuditAction.DENIED, patient_uuid=stranger.uuid, channel="fhir"
        ).count()
        == 2
    )


# --- the care network ---------------------------------------------------------------------


@needs("Organization", "Location", "Practitioner", "PractitionerRole")
def test_the_care_network_is_read_and_searched_but_not_written(scene: Scene, api: Api) -> None:
    client = api.fhirpy(scene.feldsher)
    hub = scene.chain.hub
    cardiologist = Practitioner.objects.get(user=scene.hub_cardiologist)

    organization = conforms(client.get("Organization", str(hub.organisation.uuid)))
    assert organization["name"] == hub.organisation.name_en
    organizations = client.resources("Organization").search(name=hub.organisation.name_en)
    assert str(hub.organisation.uuid) in ids(organizations.fetch())

    location = conforms(client.get("Location", str(hub.uuid)))
    assert location["managingOrganization"]["reference"] == f"Organization/{hub.organisation.uuid}"
    assert ids(client.resources("Location").search(name="Anadyr").fetch()) == [str(hub.uuid)]

    practitioner = conforms(client.get("Practitioner", str(cardiologist.uuid)))
    assert practitioner["name"][0]["family"] == cardiologist.family
    speaks_korean = client.resources("Practitioner").search(communication="urn:ietf:bcp:47|ko")
    korean = Practitioner.objects.get(user=scene.partner_cardiologist)
    assert ids(speaks_korean.fetch()) == [str(korean.uuid)]

    roles = client.resources("PractitionerRole").search(
        specialty=f"{SPECIALTY}|cardiology", location=f"Location/{hub.uuid}"
    )
    (role,) = roles.fetch()
    role_json = conforms(role)
    assert role_json["practitioner"]["reference"] == f"Practitioner/{cardiologist.uuid}"
    assert role_json["availableTime"]
    assert conforms(client.get("PractitionerRole", role.id))["id"] == role.id

    smart = api.smart(scene.feldsher)
    found = list(SmartPractitioner.where(struct={"family": "Петров"}).perform_resources_iter(smart))
    assert len(found) == Practitioner.objects.filter(family="Петров").count() == 3
    for resource in found:
        conforms(resource)

    for kind, body in (
        ("Practitioner", {"name": [{"family": "Самозванцев"}]}),
        ("PractitionerRole", {"active": True}),
        ("Organization", {"name": "Clinic of nowhere"}),
        ("Location", {"name": "Nowhere"}),
    ):
        with pytest.raises(OperationOutcome) as refused:
            client.resource(kind, **body).save()
        assert outcome(refused.value)["code"] == "not-supported", kind
    assert not Practitioner.objects.filter(family="Самозванцев").exists()


# --- the consultation -----------------------------------------------------------------------


@needs("ServiceRequest", "Task")
def test_the_feldsher_requests_a_consultation_as_a_service_request(scene: Scene, api: Api) -> None:
    client = api.fhirpy(scene.feldsher)
    token = str(uuid.uuid4())
    created = client.resource("ServiceRequest", **request_json(scene.patient, token=token))
    created.save()
    consultation = Consultation.objects.get(client_token=token)
    assert consultation.status == Status.REQUESTED
    assert consultation.form == "urgent"
    assert consultation.patient == scene.patient

    request = conforms(client.reference("ServiceRequest", created.id).to_resource())
    assert request["priority"] == "urgent"
    assert request["subject"]["reference"] == f"Patient/{scene.patient.uuid}"
    assert {"system": CLIENT_TOKEN, "value": token} in request["identifier"]

    retried = client.resource("ServiceRequest", **request_json(scene.patient, token=token))
    retried.save()  # the answer was lost on the satellite link: the post sends it again
    assert retried.id == created.id
    assert Consultation.objects.filter(client_token=token).count() == 1

    requests_ = client.resources("ServiceRequest")
    of_patient = requests_.search(patient=f"Patient/{scene.patient.uuid}")
    assert ids(of_patient.fetch()) == [created.id]
    assert ids(of_patient.search(priority="urgent").fetch()) == [created.id]
    assert of_patient.search(priority="stat").fetch() == []

    smart = api.smart(scene.feldsher)
    answer = SmartServiceRequest(request_json(scene.patient, priority="stat")).create(smart)
    assert answer is not None
    urgent = SmartServiceRequest.where(
        struct={"patient": f"Patient/{scene.patient.uuid}", "priority": "stat"}
    )
    found = list(urgent.perform_resources_iter(smart))
    assert [str(r.id) for r in found] == [answer["id"]]
    conforms(found[0])
    assert Consultation.objects.filter(patient=scene.patient, form="emergency").count() == 1


@needs("ServiceRequest", "Task")
def test_a_draft_request_is_completed_sent_and_then_cancelled(scene: Scene, api: Api) -> None:
    client = api.fhirpy(scene.feldsher)
    token = str(uuid.uuid4())
    draft = client.resource(
        "ServiceRequest", **request_json(scene.patient, token=token, status="draft")
    )
    draft.save()
    assert Consultation.objects.get(client_token=token).status == Status.DRAFT

    draft["note"] = [{"text": "ECG attached. Thrombolysis here, or evacuation?"}]
    draft["priority"] = "stat"
    draft.save()
    consultation = Consultation.objects.get(client_token=token)
    assert consultation.status == Status.DRAFT
    assert consultation.question.startswith("ECG attached.")
    assert consultation.form == "emergency"

    draft["status"] = "active"
    draft.save()
    assert Consultation.objects.get(client_token=token).status == Status.REQUESTED

    draft["status"] = "revoked"
    draft.save()
    assert conforms(draft)["status"] == "revoked"
    assert Consultation.objects.get(client_token=token).status == Status.CANCELLED


@needs("ServiceRequest", "Task", "Practitioner")
def test_the_consultant_finds_the_task_and_accepts_it(scene: Scene, api: Api) -> None:
    consultation = submitted(scene)
    feldsher = api.fhirpy(scene.feldsher)
    (task,) = feldsher.resources("Task").search(focus=f"ServiceRequest/{consultation.uuid}").fetch()
    task_json = conforms(task)
    assert task_json["status"] == "requested"
    assert task_json["for"]["reference"] == f"Patient/{scene.patient.uuid}"
    assert task_json["restriction"]["period"]["end"]
    owner = task_json["owner"]["reference"]
    assert owner in people(scene.hub_cardiologist)

    assert conforms(feldsher.get("Task", task.id))["focus"]["reference"] == (
        f"ServiceRequest/{consultation.uuid}"
    )

    consultant = api.fhirpy(scene.hub_cardiologist)
    inbox = consultant.resources("Task").search(owner=owner, status="requested")
    (mine,) = inbox.fetch()
    assert mine.id == task.id
    assert consultant.resources("Task").search(owner=owner, status="accepted").fetch() == []
    smart = api.smart(scene.hub_cardiologist)
    smart_inbox = SmartTask.where(struct={"owner": owner, "status": "requested"})
    assert [str(t.id) for t in smart_inbox.perform_resources_iter(smart)] == [task.id]
    assert SmartTask.read(task.id, smart).status == "requested"

    mine["status"] = "accepted"
    mine.save()
    assert conforms(mine)["status"] == "accepted"
    assert Consultation.objects.get(pk=consultation.pk).status == Status.ACCEPTED
    accepted = consultant.resources("Task").search(owner=owner, status="accepted").fetch()
    assert ids(accepted) == [task.id]
    assert SmartTask.read(task.id, smart).status == "accepted"


@needs("ServiceRequest")
def test_a_retried_request_is_reported_as_found_not_created(scene: Scene, api: Api) -> None:
    client = api.fhirpy(scene.feldsher)
    token = str(uuid.uuid4())
    client.resource("ServiceRequest", **request_json(scene.patient, token=token)).save()
    retry = client.resource("ServiceRequest", **request_json(scene.patient, token=token))
    by_token = client.resources("ServiceRequest").search(identifier=f"{CLIENT_TOKEN}|{token}")
    _again, created = by_token.get_or_create(retry)
    assert not created


@needs("Task")
def test_the_feldsher_pages_through_every_task_sorted_by_deadline(scene: Scene, api: Api) -> None:
    feldsher = Accessor(scene.feldsher, "127.0.0.1")
    for n in range(3):  # drafts: no deadline yet
        consult_save_draft(
            accessor=feldsher,
            patient=scene.patient,
            client_token=uuid.uuid4(),
            data=RequestData(specialty=scene.cardiology, form="urgent", question=f"Draft {n}"),
        )
    for _ in range(3):
        scene.submit("urgent")
    everything = sorted(str(u) for u in Consultation.objects.values_list("uuid", flat=True))
    client = api.fhirpy(scene.feldsher)
    for order in ("-period", "period"):
        tasks = client.resources("Task").sort(order).limit(2).fetch_all()
        assert sorted(ids(tasks)) == everything, order


@needs("ServiceRequest", "Communication")
def test_a_question_in_the_thread_is_a_communication(scene: Scene, api: Api) -> None:
    consultation = submitted(scene)
    request = f"ServiceRequest/{consultation.uuid}"
    client = api.fhirpy(scene.feldsher)
    sent = client.resource(
        "Communication",
        status="completed",
        basedOn=[{"reference": request}],
        subject=reference("Patient", scene.patient.uuid),
        payload=[{"contentString": "The pain eased after nitroglycerin. ECG attached."}],
    )
    sent.save()
    assert Message.objects.get(consultation=consultation).body.startswith("The pain eased")

    thread = client.resources("Communication").search(based_on=request).fetch()
    assert ids(thread) == [sent.id]
    message = conforms(thread[0])
    assert message["payload"][0]["contentString"].startswith("The pain eased")
    assert message["basedOn"] == [{"reference": request}]

    smart = api.smart(scene.hub_cardiologist)  # the consultant reads the thread
    found = SmartCommunication.where(struct={"based-on": request}).perform_resources_iter(smart)
    assert [str(c.id) for c in found] == [sent.id]


@needs("Encounter")
def test_the_teleconsultation_is_a_virtual_encounter(scene: Scene, api: Api) -> None:
    submitted(scene)
    client = api.fhirpy(scene.feldsher)
    (encounter,) = (
        client.resources("Encounter").search(patient=f"Patient/{scene.patient.uuid}").fetch()
    )
    read = conforms(client.get("Encounter", encounter.id))
    assert read["class"]["code"] == "VR"
    assert read["class"]["system"] == systems.V3_ACT_CODE
    assert read["subject"]["reference"] == f"Patient/{scene.patient.uuid}"
    smart = SmartEncounter.read(encounter.id, api.smart(scene.feldsher))
    assert smart.class_fhir.code == "VR"


# --- clinical data ------------------------------------------------------------------------


@needs("Observation")
def test_vital_signs_are_observations_found_by_loinc_code(
    chain: Chain, feldsher: User, api: Api
) -> None:
    patient = a_patient(chain.post)
    client = api.fhirpy(feldsher)
    pulse = client.resource("Observation", **heart_rate_json(patient, 112))
    pulse.save()
    client.resource("Observation", **spo2_json(patient)).save()
    vital = VitalObservation.objects.get(uuid=pulse.id)
    assert (vital.loinc, vital.value, vital.patient) == ("8867-4", "112", patient)

    read = conforms(client.reference("Observation", pulse.id).to_resource())
    assert read["valueQuantity"]["value"] == 112
    assert read["valueQuantity"]["code"] == "/min"
    by_code = client.resources("Observation").search(
        code=HEART_RATE, patient=f"Patient/{patient.uuid}"
    )
    assert ids(by_code.fetch()) == [pulse.id]

    smart = api.smart(feldsher)
    answer = SmartObservation(heart_rate_json(patient, 96, at="2025-11-27T04:40:00Z")).create(smart)
    assert answer is not None
    search = SmartObservation.where(struct={"code": HEART_RATE, "patient": str(patient.uuid)})
    found = list(search.perform_resources_iter(smart))
    assert sorted(str(o.id) for o in found) == sorted([pulse.id, answer["id"]])
    for observation in found:
        conforms(observation)
        assert observation.code.coding[0].code == "8867-4"


@needs("Consent")
def test_a_consent_is_recorded_found_and_withdrawn(chain: Chain, feldsher: User, api: Api) -> None:
    patient = a_patient(chain.post)
    client = api.fhirpy(feldsher)
    consent = client.resource(
        "Consent",
        status="active",
        scope={
            "coding": [{"system": CONSENT_SCOPE, "code": "treatment"}],
            "text": "Teleconsultations about this patient with the regional and federal centres",
        },
        category=[{"coding": [{"system": CONSENT_KIND, "code": "teleconsultation"}]}],
        patient=reference("Patient", patient.uuid),
        policyRule={"text": "Informed voluntary consent (323-FZ art. 20)"},
    )
    consent.save()
    record = Consent.objects.get(uuid=consent.id)
    assert record.kind == ConsentKind.TELECONSULTATION and record.is_active

    found = client.resources("Consent").search(patient=f"Patient/{patient.uuid}").fetch()
    assert ids(found) == [consent.id]
    assert conforms(found[0])["status"] == "active"
    smart = api.smart(feldsher)
    (read,) = SmartConsent.where(struct={"patient": str(patient.uuid)}).perform_resources_iter(
        smart
    )
    assert read.status == "active" and read.patient.reference == f"Patient/{patient.uuid}"
    teleconsultation = f"{CONSENT_KIND}|teleconsultation"
    assert ids(client.resources("Consent").search(category=teleconsultation).fetch()) == [
        consent.id
    ]

    consent["status"] = "inactive"
    consent["extension"] = [{"url": REVOCATION_REASON, "valueString": "The patient withdrew it."}]
    consent.save()
    assert conforms(consent)["status"] == "inactive"
    record.refresh_from_db()
    assert not record.is_active
    assert record.revocation_reason == "The patient withdrew it."
    active = client.resources("Consent").search(patient=f"Patient/{patient.uuid}", status="active")
    assert active.fetch() == []


# --- documents ----------------------------------------------------------------------------


@needs("ServiceRequest", "DocumentReference", "Binary")
def test_a_photo_is_a_document_reference_and_its_bytes_a_binary(scene: Scene, api: Api) -> None:
    consultation = submitted(scene)
    client = api.fhirpy(scene.feldsher)
    photo = client.resource(
        "DocumentReference",
        **photo_json(scene.patient, reference("ServiceRequest", consultation.uuid)),
    )
    photo.save()
    stored = Attachment.objects.get(consultation=consultation)
    assert stored.sha256 == hashlib.sha256(TINY_JPEG).hexdigest()
    assert stored.content_type == "image/jpeg"

    read = conforms(client.reference("DocumentReference", photo.id).to_resource())
    attachment = read["content"][0]["attachment"]
    assert attachment["contentType"] == "image/jpeg"
    assert attachment["size"] == len(TINY_JPEG)
    found = client.resources("DocumentReference").search(patient=f"Patient/{scene.patient.uuid}")
    assert ids(found.fetch()) == [photo.id]
    smart = SmartDocumentReference.read(photo.id, api.smart(scene.hub_cardiologist))
    assert smart.content[0].attachment.contentType == "image/jpeg"

    binary_id = attachment["url"].rsplit("Binary/", 1)[1]
    binary = conforms(client.get("Binary", binary_id))
    assert binary["contentType"] == "image/jpeg"
    assert base64.b64decode(binary["data"]) == TINY_JPEG


@needs("DocumentReference", "Provenance", "Task")
def test_the_signed_conclusion_has_a_provenance_with_the_signature(scene: Scene, api: Api) -> None:
    consultation = submitted(scene)
    consultant = Accessor(scene.hub_cardiologist, "127.0.0.1")
    consult_accept(accessor=consultant, consultation=consultation)
    conclusion_sign(
        accessor=consultant,
        consultation=consultation,
        data=ConclusionData(
            findings="ST elevation in V1–V4 on the ECG sent.",
            diagnoses=["I21.0"],
            recommendations="Aspirin 250 mg chewed, heparin; prepare for the flight.",
            evacuation=EvacuationAdvice.URGENT_AIR,
            evacuation_destination=scene.chain.hub,
        ),
    )
    document = Attachment.objects.get(consultation=consultation, conclusion__isnull=False)
    client = api.fhirpy(scene.feldsher)
    documents = client.resources("DocumentReference").search(
        patient=f"Patient/{scene.patient.uuid}"
    )
    assert str(document.uuid) in ids(documents.fetch())

    target = f"DocumentReference/{document.uuid}"
    task = conforms(client.get("Task", str(consultation.uuid)))
    assert task["status"] == "completed"
    assert task["output"][0]["valueReference"] == {"reference": target}

    (provenance,) = client.resources("Provenance").search(target=target).fetch()
    body = conforms(provenance)
    assert [t["reference"] for t in body["target"]] == [target]
    signature = body["signature"][0]
    assert signature["data"]
    assert signature["who"]["reference"] in people(scene.hub_cardiologist)
    smart = api.smart(scene.feldsher)
    (same,) = SmartProvenance.where(struct={"target": target}).perform_resources_iter(smart)
    assert same.id == provenance.id and same.signature[0].data == signature["data"]


# --- the audit trail ----------------------------------------------------------------------


@needs("AuditEvent")
def test_an_administrator_reads_the_audit_trail(chain: Chain, feldsher: User, api: Api) -> None:
    patient = a_patient(chain.post)
    api.fhirpy(feldsher).get("Patient", str(patient.uuid))  # leaves a trace
    row = AuditEvent.objects.get(patient_uuid=patient.uuid, channel="fhir", action=AuditAction.VIEW)
    administrator = make_user(Role.ADMINISTRATOR)
    client = api.fhirpy(administrator, "user/AuditEvent.read")

    trail = client.resources("AuditEvent").search(patient=f"Patient/{patient.uuid}").fetch()
    assert ids(trail) == [str(row.uuid)]
    event = conforms(client.get("AuditEvent", str(row.uuid)))
    assert event["action"] == "R"
    assert event["agent"][0]["altId"] == feldsher.username
    assert {"reference": f"Patient/{patient.uuid}"} in [e["what"] for e in event["entity"]]

    snoop = api.fhirpy(feldsher)
    assert snoop.resources("AuditEvent").fetch() == []  # the trail is not the feldsher's to read
    with pytest.raises(ForbiddenError) as refused:
        snoop.get("AuditEvent", str(row.uuid))
    assert outcome(refused.value)["code"] == "forbidden"


# --- a whole consultation in one transaction ------------------------------------------------


def consultation_bundle(scene: Scene, token: str, snils: str) -> dict[str, Any]:
    """What a post sends when its link comes back: the patient (found by SNILS, not duplicated),
    the request with its client token, two readings for it, its Task, and a photo of the ECG.
    Each entry is conditional, so that sending the bundle again creates nothing."""
    patient, pulse, spo2, service_request, task, photo = (
        f"urn:uuid:{uuid.uuid4()}" for _ in range(6)
    )
    subject = {"reference": patient}
    for_request = [{"reference": service_request}]

    def post(full_url: str, resource: dict[str, Any], condition: str) -> dict[str, Any]:
        return {
            "fullUrl": full_url,
            "resource": resource,
            "request": {
                "method": "POST",
                "url": resource["resourceType"],
                "ifNoneExist": condition,
            },
        }

    def reading(code: str) -> str:
        return f"based-on={service_request}&code={systems.LOINC}|{code}"

    name = [{"family": "Рультытегин", "given": ["Илья"]}]
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            post(
                patient,
                patient_json(scene.chain, snils=snils, name=name, gender="male"),
                f"identifier={systems.SNILS}|{snils}",
            ),
            post(
                pulse,
                {**heart_rate_json(subject, 124), "basedOn": for_request},
                reading("8867-4"),
            ),
            post(spo2, {**spo2_json(subject), "basedOn": for_request}, reading("59408-5")),
            post(
                service_request,
                request_json(subject, token=token, priority="stat"),
                f"identifier={CLIENT_TOKEN}|{token}",
            ),
            post(
                task,
                {
                    "resourceType": "Task",
                    "status": "requested",
                    "intent": "order",
                    "focus": {"reference": service_request},
                    "for": subject,
                },
                f"focus={service_request}",
            ),
            post(
                photo,
                photo_json(subject, {"reference": service_request}),
                f"related={service_request}",
            ),
        ],
    }


@needs_transactions
@needs("Observation", "ServiceRequest", "Task", "DocumentReference")
def test_a_whole_consultation_in_one_transaction_survives_resubmission(
    scene: Scene, api: Api
) -> None:
    client = api.fhirpy(scene.feldsher)
    token, snils = str(uuid.uuid4()), valid_snils(77)
    bundle = consultation_bundle(scene, token, snils)

    def rows() -> dict[str, int]:
        return {
            model.__name__: model.objects.count()
            for model in (
                Patient,
                VitalObservation,
                Consultation,
                Assignment,
                Transition,
                Attachment,
            )
        }

    before = rows()
    first = client.execute("", method="post", data=bundle)
    conforms(first)
    assert first["type"] == "transaction-response"
    statuses = [entry["response"]["status"].split()[0] for entry in first["entry"]]
    assert statuses[:4] == ["201"] * 4 and statuses[5] == "201"
    assert statuses[4] in ("200", "201")  # submitting the request may already make its Task
    created = [logical_id(entry["response"]["location"]) for entry in first["entry"]]
    assert [target.split("/")[0] for target in created] == [
        "Patient",
        "Observation",
        "Observation",
        "ServiceRequest",
        "Task",
        "DocumentReference",
    ]
    for entry in first["entry"]:
        conforms(entry["resource"])
    consultation = Consultation.objects.get(client_token=token)
    assert consultation.status == Status.REQUESTED and consultation.form == "emergency"
    assert consultation.patient.snils == snils
    assert str(consultation.patient.uuid) == created[0].split("/")[1]
    assert {vital.loinc for vital in consultation.vitals.all()} == {"8867-4", "59408-5"}
    assert consultation.news2_total is not None  # scored from the readings sent
    photo = Attachment.objects.get(consultation=consultation)
    assert photo.sha256 == hashlib.sha256(TINY_JPEG).hexdigest()
    request = conforms(client.get("ServiceRequest", created[3].split("/")[1]))
    supporting = {info["reference"] for info in request["supportingInfo"]}
    assert {created[1], created[2], created[5]} <= supporting  # the readings and the photo
    after_first = rows()
    assert after_first["Patient"] == before["Patient"] + 1
    assert after_first["Consultation"] == before["Consultation"] + 1

    again = client.execute("", method="post", data=bundle)  # the link dropped before the answer
    assert [entry["response"]["status"].split()[0] for entry in again["entry"]] == ["200"] * 6
    assert [logical_id(entry["response"]["location"]) for entry in again["entry"]] == created
    assert rows() == after_first
