"""The versions a commit writes (versioning.py): every save of a versioned row queues its
resource's snapshot for the commit, and the snapshots of one transaction are taken together.
A feldsher's request that takes in five readings sent earlier gives each its new version (now
based on the request) and its Encounter its version, in as many statements as for two; a
resource that cannot be rendered does not keep the others from their versions, and a save
rolled back leaves no version."""

from __future__ import annotations

import logging
import uuid

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from farcare.consults.models import Consultation, VitalObservation
from farcare.fhir import systems, versioning
from farcare.fhir.models import ResourceVersion
from farcare.fhir.registry import handler_for
from farcare.fhir.resources.consultation.common import CLIENT_TOKEN

from .test_bundles import post
from .test_bundles import transaction as bundle_of
from .test_clinical import heart_rate_observation, request_taking

pytestmark = pytest.mark.django_db


# One reading of each vital sign a station sends loose: LOINC code, value, unit.
SIGNS = [
    ("8867-4", 118, "/min"),
    ("9279-1", 24, "/min"),
    ("8310-5", 38.4, "Cel"),
    ("8480-6", 95, "mm[Hg]"),
    ("59408-5", 93, "%"),
]


def reading(patient, loinc: str, value, unit: str) -> dict:
    return heart_rate_observation(
        patient,
        code={"coding": [{"system": systems.LOINC, "code": loinc}]},
        valueQuantity={"value": value, "unit": unit, "system": systems.UCUM, "code": unit},
    )


def readings(client, patient, count: int) -> list[str]:
    response = client.post("", bundle_of(*(post(reading(patient, *s)) for s in SIGNS[:count])))
    assert response.status_code == 200, response.content
    return [entry["resource"]["id"] for entry in response.json()["entry"]]


def request_with(patient, observation_ids: list[str]) -> dict:
    # With its client token, as a station sends it.
    request = request_taking(patient, observation_ids)
    request["identifier"] = [{"system": CLIENT_TOKEN, "value": str(uuid.uuid4())}]
    return request


def sent_and_committed(client, django_capture_on_commit_callbacks, body: dict):
    with (
        CaptureQueriesContext(connection) as queries,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = client.post("ServiceRequest", body)
    assert response.status_code == 201, response.content
    return response.json(), len(queries.captured_queries)


def test_the_readings_a_request_takes_in_are_versioned_at_its_commit(
    scene, fhir_as, django_capture_on_commit_callbacks
):
    client = fhir_as(scene.feldsher)
    taken = readings(client, scene.patient, 5)

    request, _cost = sent_and_committed(
        client, django_capture_on_commit_callbacks, request_with(scene.patient, taken)
    )

    for observation_id in taken:
        history = client.get(f"Observation/{observation_id}/_history").json()
        assert history["total"] == 2
        latest = history["entry"][0]["resource"]
        assert latest["basedOn"] == [{"reference": f"ServiceRequest/{request['id']}"}]
        assert latest["meta"]["versionId"] == "2"
        # What was stored is what the record renders now.
        assert client.get(f"Observation/{observation_id}").json() == latest
    encounter = ResourceVersion.objects.get(resource_type="Encounter", logical_id=request["id"])
    assert encounter.content["basedOn"] == [{"reference": f"ServiceRequest/{request['id']}"}]


def test_five_readings_taken_in_cost_their_links_and_no_version_more_than_two(
    scene, fhir_as, django_capture_on_commit_callbacks
):
    client = fhir_as(scene.feldsher)
    two, five = readings(client, scene.patient, 2), readings(client, scene.patient, 5)
    sent_and_committed(client, django_capture_on_commit_callbacks, request_with(scene.patient, []))

    _first, with_two = sent_and_committed(
        client, django_capture_on_commit_callbacks, request_with(scene.patient, two)
    )
    _second, with_five = sent_and_committed(
        client, django_capture_on_commit_callbacks, request_with(scene.patient, five)
    )

    # Each reading taken in costs the service's copy of its value (an INSERT) and the UPDATE
    # that makes the reading itself the request's; the SpO2 asks for its oxygen flow. Its new
    # version costs nothing of its own (one by one it cost seven statements).
    assert with_five - with_two <= 2 * 3 + 1, (with_two, with_five)
    assert ResourceVersion.objects.filter(resource_type="Observation", version_id=2).count() == 7


def test_a_resource_that_cannot_be_rendered_leaves_the_others_their_versions(
    scene, fhir_as, django_capture_on_commit_callbacks, monkeypatch, caplog
):
    client = fhir_as(scene.feldsher)
    broken, *sound = readings(client, scene.patient, 3)
    part = next(p for p in handler_for("Observation").parts if p.model is VitalObservation)
    render = part.to_fhir

    def failing(obj):
        if str(obj.uuid) == broken:
            raise RuntimeError("a rendering that fails")
        return render(obj)

    monkeypatch.setattr(part, "to_fhir", failing)
    with (
        caplog.at_level(logging.WARNING, logger="farcare.fhir.versioning"),
        django_capture_on_commit_callbacks(execute=True),
        transaction.atomic(),
    ):
        consultation = scene.submit("urgent")
        VitalObservation.objects.filter(uuid__in=[broken, *sound]).update(consultation=consultation)
        for vital in VitalObservation.objects.filter(uuid__in=[broken, *sound]):
            vital.save()  # each save queues its snapshot (and the request's)

    latest = {
        version.logical_id: version.version_id
        for version in versioning.latest_of("Observation", [broken, *sound])
    }
    assert latest == {broken: 1, sound[0]: 2, sound[1]: 2}
    assert "could not version" in caplog.text
    assert Consultation.objects.filter(pk=consultation.pk).exists()  # the change stands


def pulse(patient, value: int) -> VitalObservation:
    return VitalObservation.objects.create(
        patient=patient,
        key="heart_rate",
        loinc="8867-4",
        value=str(value),
        unit="/min",
        recorded_at=timezone.now(),
    )


def test_a_save_rolled_back_leaves_no_version(scene, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        first = pulse(scene.patient, 70)
        try:
            with transaction.atomic():
                pulse(scene.patient, 99)
                raise RuntimeError("the entry was refused")
        except RuntimeError:
            pass
        # SQLite may give the next row the id the refused one had.
        second = pulse(scene.patient, 64)

    versions = {
        version.logical_id: version.content["valueQuantity"]["value"]
        for version in ResourceVersion.objects.filter(resource_type="Observation")
    }
    assert versions == {str(first.uuid): 70, str(second.uuid): 64}


def test_a_version_number_taken_meanwhile_is_written_one_by_one(
    scene, fhir_as, django_capture_on_commit_callbacks, monkeypatch
):
    client = fhir_as(scene.feldsher)
    taken = readings(client, scene.patient, 2)
    # As if another writer had stored their first versions after this commit looked.
    monkeypatch.setattr(versioning, "latest_of", lambda kind, ids: ResourceVersion.objects.none())

    request, _cost = sent_and_committed(
        client, django_capture_on_commit_callbacks, request_with(scene.patient, taken)
    )

    monkeypatch.undo()
    for version in versioning.latest_of("Observation", taken):
        assert version.version_id == 2
        assert version.content["basedOn"] == [{"reference": f"ServiceRequest/{request['id']}"}]


def test_the_values_a_request_is_written_with_are_versioned_at_its_commit(
    scene, fhir_as, django_capture_on_commit_callbacks
):
    """A request written on the page carries its vital signs as values: the service stores them
    in one INSERT and announces each as its own save would, so each Observation has its first
    version at the commit, based on the request, and it is what a read renders."""
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        consultation = scene.submit(vitals={"heart_rate": 118, "respiratory_rate": 24, "spo2": 93})
    vitals = list(consultation.vitals.order_by("key"))
    client = fhir_as(scene.feldsher)

    assert [vital.key for vital in vitals] == ["heart_rate", "respiratory_rate", "spo2"]
    for vital in vitals:
        stored = ResourceVersion.objects.get(
            resource_type="Observation", logical_id=str(vital.uuid)
        )
        assert stored.version_id == 1
        assert stored.content["basedOn"] == [{"reference": f"ServiceRequest/{consultation.uuid}"}]
        assert client.get(f"Observation/{vital.uuid}").json() == stored.content
