"""Patient over FHIR: the standard interactions, FHIR search semantics, versions, and errors as
OperationOutcomes with the right status codes."""

from datetime import date

import pytest

from farcare.accounts.models import Role
from farcare.audit.models import AuditAction, AuditEvent
from farcare.fhir import systems
from farcare.patients.models import Patient

from ..conftest import make_user
from ..consults.conftest import scene  # noqa: F401  (a fixture)
from ..factories import PatientFactory


def patient_resource(chain, **overrides):
    resource = {
        "resourceType": "Patient",
        "identifier": [{"system": systems.SNILS, "value": "11223344595"}],
        "name": [{"family": "Ёлкина", "given": ["Алёна", "Игоревна"]}],
        "gender": "female",
        "birthDate": "1990-10-10",
        "telecom": [{"system": "phone", "value": "+7 914 555-12-12"}],
        "managingOrganization": {"reference": f"Organization/{chain.post.organisation.uuid}"},
    }
    resource.update(overrides)
    return resource


def outcome(response):
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    return body["issue"][0]


def test_read_gives_the_patient_with_snils_as_an_identifier(chain, feldsher, fhir_as):
    patient = PatientFactory(home_facility=chain.post, snils="11223344595")
    response = fhir_as(feldsher).get(f"Patient/{patient.uuid}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/fhir+json")
    body = response.json()
    assert body["identifier"][0] == {"system": systems.SNILS, "value": "11223344595"}
    assert body["meta"]["versionId"] == "1"
    assert response["ETag"] == 'W/"1"'
    assert AuditEvent.objects.filter(
        action=AuditAction.VIEW, patient_uuid=patient.uuid, channel="fhir"
    ).exists()


def test_a_create_with_a_snils_already_registered_is_refused_and_leaves_nothing(
    chain, feldsher, fhir_as, monkeypatch
):
    """Refused by the database's unique SNILS (no query asks first), exactly as the
    one-by-one registration refuses it: 409 on the identifier, no patient, no record of a
    creation, no version; and the client can go on."""
    from farcare.fhir.models import ResourceVersion
    from farcare.fhir.registry import REGISTRY

    PatientFactory(home_facility=chain.post, snils="11223344595")
    client = fhir_as(feldsher)

    refused = client.post("Patient", patient_resource(chain))
    monkeypatch.setattr(REGISTRY["Patient"], "creates_many", False)
    one_by_one = client.post("Patient", patient_resource(chain))
    monkeypatch.undo()

    assert refused.status_code == one_by_one.status_code == 409
    assert refused.json() == one_by_one.json()
    assert "SNILS is already registered" in outcome(refused)["diagnostics"]
    assert Patient.objects.count() == 1
    assert not AuditEvent.objects.filter(action=AuditAction.CREATE, channel="fhir").exists()
    assert not ResourceVersion.objects.filter(resource_type="Patient").exists()
    other = patient_resource(chain, identifier=[{"system": systems.SNILS, "value": "11223344696"}])
    assert client.post("Patient", other).status_code == 201


def test_create_conditional_create_update_and_stale_if_match(chain, feldsher, fhir_as):
    client = fhir_as(feldsher)
    created = client.post("Patient", patient_resource(chain))
    assert created.status_code == 201, created.content
    logical_id = created.json()["id"]
    assert "/_history/1" in created["Location"]
    again = client.post(
        "Patient",
        patient_resource(chain),
        **{"If-None-Exist": f"identifier={systems.SNILS}|11223344595"},
    )
    assert again.status_code == 200
    assert again.json()["id"] == logical_id
    assert Patient.objects.count() == 1

    changed = patient_resource(chain, id=logical_id, gender="other")
    updated = client.put(f"Patient/{logical_id}", changed, **{"If-Match": 'W/"1"'})
    assert updated.status_code == 200, updated.content
    assert updated.json()["meta"]["versionId"] == "2"
    stale = client.put(f"Patient/{logical_id}", changed, **{"If-Match": 'W/"1"'})
    assert stale.status_code == 412
    assert outcome(stale)["code"] == "conflict"

    history = client.get(f"Patient/{logical_id}/_history").json()
    assert [entry["resource"]["meta"]["versionId"] for entry in history["entry"]] == ["2", "1"]
    first = client.get(f"Patient/{logical_id}/_history/1").json()
    assert first["gender"] == "female"


def test_search_with_fhir_semantics(chain, feldsher, fhir_as):
    PatientFactory(
        home_facility=chain.post,
        family="Ёлкина",
        given="Алёна",
        birth_date=date(1990, 10, 10),
        sex="female",
    )
    PatientFactory(
        home_facility=chain.post, family="Елисеев", given="Пётр", birth_date=date(1950, 1, 2)
    )
    PatientFactory(home_facility=chain.other_region_post, family="Ёлкин", given="Иван")
    client = fhir_as(feldsher)

    def names(**params):
        bundle = client.get("Patient", **params).json()
        assert bundle["resourceType"] == "Bundle"
        return sorted(e["resource"]["name"][0]["family"] for e in bundle["entry"])

    assert names(name="елк") == ["Ёлкина"]  # starts-with, ё = е, outside access not shown
    assert names(family="Ели") == ["Елисеев"]
    assert names(family="елисеев") == ["Елисеев"]  # case folded for Cyrillic too
    assert names(given="игоревна") == [] and names(given="петр") == ["Елисеев"]
    assert names(**{"family:exact": "Ели"}) == []
    assert names(**{"family:contains": "лис"}) == ["Елисеев"]
    assert names(birthdate="1990") == ["Ёлкина"]
    assert names(birthdate="lt1960-01-01") == ["Елисеев"]
    assert names(birthdate="ge1960") == ["Ёлкина"]
    assert names(gender="female") == ["Ёлкина"]
    count = client.get("Patient", _summary="count").json()
    assert count["total"] == 2
    assert "entry" not in count


def test_paging_through_250_patients_with_stable_next_links(chain, feldsher, fhir_as):
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
    client = fhir_as(feldsher)
    seen = []
    bundle = client.get("Patient", _count="40", _sort="family").json()
    assert bundle["total"] == 250
    while True:
        seen += [entry["resource"]["name"][0]["family"] for entry in bundle["entry"]]
        following = [link["url"] for link in bundle["link"] if link["relation"] == "next"]
        if not following:
            break
        path = following[0].split("/fhir/", 1)[1]
        bundle = client.client.get(f"/fhir/{path}", headers=client.headers).json()
    assert seen == sorted(seen)
    assert len(seen) == len(set(seen)) == 250


def test_errors_are_operation_outcomes_with_the_right_status(chain, feldsher, fhir_as):
    client = fhir_as(feldsher)
    stranger = PatientFactory(home_facility=chain.other_region_post)
    forbidden = client.get(f"Patient/{stranger.uuid}")
    assert forbidden.status_code == 403
    assert outcome(forbidden)["code"] == "forbidden"
    assert AuditEvent.objects.filter(action=AuditAction.DENIED, patient_uuid=stranger.uuid).exists()

    assert client.get("Patient/00000000-0000-0000-0000-000000000000").status_code == 404
    assert client.get("Patient", _format="xml").status_code == 406
    assert client.get("Patient", unknown="1").status_code == 400
    mine = PatientFactory(home_facility=chain.post)
    assert client.delete(f"Patient/{mine.uuid}").status_code == 405

    invalid = client.post("Patient", patient_resource(chain, birthDate="1990-13-45"))
    assert invalid.status_code == 400
    assert outcome(invalid)["expression"] == ["Patient.birthDate"]
    bad_snils = client.post(
        "Patient",
        patient_resource(chain, identifier=[{"system": systems.SNILS, "value": "11223344596"}]),
    )
    assert bad_snils.status_code == 422
    assert outcome(bad_snils)["expression"] == ["Patient.identifier[0].value"]
    assert (
        client.client.post(
            "/fhir/Patient",
            "{not json",
            content_type="application/fhir+json",
            headers=client.headers,
        ).status_code
        == 400
    )
    assert not Patient.objects.filter(snils="11223344596").exists()


def test_tokens_and_scopes_are_enforced(chain, feldsher, fhir_as):
    from django.test import Client

    patient = PatientFactory(home_facility=chain.post)
    assert Client().get(f"/fhir/Patient/{patient.uuid}").status_code == 401
    read_only = fhir_as(feldsher, "user/Patient.read")
    assert read_only.get(f"Patient/{patient.uuid}").status_code == 200
    refused = read_only.post("Patient", patient_resource(chain))
    assert refused.status_code == 403
    analyst = make_user(Role.ANALYST)
    assert fhir_as(analyst).get(f"Patient/{patient.uuid}").status_code == 403


@pytest.mark.parametrize("path", ["metadata"])
def test_the_capability_statement_lists_what_is_supported(db, path):
    from django.test import Client

    body = Client().get(f"/fhir/{path}").json()
    assert body["resourceType"] == "CapabilityStatement"
    patient = next(r for r in body["rest"][0]["resource"] if r["type"] == "Patient")
    assert {i["code"] for i in patient["interaction"]} >= {
        "read",
        "vread",
        "search-type",
        "create",
        "update",
    }
    assert {p["name"] for p in patient["searchParam"]} >= {
        "identifier",
        "name",
        "family",
        "given",
        "birthdate",
        "gender",
        "_id",
        "_lastUpdated",
    }


def test_a_refused_change_is_audited_even_though_it_rolled_back(scene, fhir_as):  # noqa: F811
    scene.submit()  # the hub cardiologist is assigned: may read the patient, not change them
    client = fhir_as(scene.hub_cardiologist)
    current = client.get(f"Patient/{scene.patient.uuid}").json()
    refused = client.put(f"Patient/{scene.patient.uuid}", {**current, "gender": "other"})
    assert refused.status_code == 403
    assert AuditEvent.objects.filter(
        action=AuditAction.DENIED, patient_uuid=scene.patient.uuid, channel="fhir"
    ).exists()
    scene.patient.refresh_from_db()
    assert scene.patient.sex == "male"


def test_total_none_spares_the_count(chain, feldsher, fhir_as):
    PatientFactory(home_facility=chain.post)
    bundle = fhir_as(feldsher).get("Patient", _total="none").json()
    assert "total" not in bundle
    assert len(bundle["entry"]) == 1
