"""Bad or outsized input to the FHIR API gets a clear OperationOutcome (400, 413, 422), never a
500 and never a stored record the pages would have refused."""

from __future__ import annotations

import pytest
from django.test import override_settings

from farcare.accounts.models import Role
from farcare.fhir import systems
from farcare.patients.models import Patient

from ..conftest import make_user
from ..factories import PatientFactory


def patient_resource(chain, **overrides):
    resource = {
        "resourceType": "Patient",
        "name": [{"family": "Ranav", "given": ["Anna"]}],
        "gender": "female",
        "birthDate": "1990-10-10",
        "managingOrganization": {"reference": f"Organization/{chain.post.organisation.uuid}"},
    }
    resource.update(overrides)
    return resource


@pytest.fixture
def client(chain, fhir_as):
    return fhir_as(make_user(Role.CLINICIAN, chain.post, username="feldsher_uelen"))


def issue(response):
    body = response.json()
    assert body["resourceType"] == "OperationOutcome", body
    return body["issue"][0]


def test_a_birth_year_alone_is_refused_as_a_patient_record_needs_the_date(chain, client):
    for partial in ("1990", "1990-10"):
        response = client.post("Patient", patient_resource(chain, birthDate=partial))
        assert response.status_code == 422, response.content
        assert issue(response)["expression"] == ["Patient.birthDate"]
        assert "full" in issue(response)["diagnostics"]
    assert not Patient.objects.exists()


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"name": [{"family": "F" * 1_000_000, "given": ["Anna"]}]}, "Patient.name[0].family"),
        ({"name": [{"family": "Ranav", "given": ["A" * 1_000_000]}]}, "Patient.name[0].given[0]"),
        ({"name": [{"family": "Ranav", "given": ["Anna", "P" * 81]}]}, "Patient.name[0].given[1]"),
        ({"name": [{"family": "F" * 81, "given": ["Anna"]}]}, "Patient.name[0].family"),
        ({"gender": "banana"}, "Patient.gender"),
        (
            {"telecom": [{"system": "phone", "value": "9" * 40}]},
            "Patient.telecom[0].value",
        ),
    ],
)
def test_what_the_pages_refuse_is_refused_here_with_the_element(chain, client, change, path):
    response = client.post("Patient", patient_resource(chain, **change))
    assert response.status_code in (400, 413, 422), response.content
    assert response.status_code != 500
    if response.status_code != 413:
        assert issue(response)["expression"] == [path]
    assert not Patient.objects.exists()


@pytest.mark.parametrize("depth", [100, 5000])
def test_deep_nesting_is_refused_not_a_crash(chain, client, depth):
    response = client.client.post(
        "/fhir/Patient",
        _deep_json(depth),
        content_type="application/fhir+json",
        headers=client.headers,
    )
    assert response.status_code == 400, response.content
    assert "nest" in issue(response)["diagnostics"]
    assert not Patient.objects.exists()


def _deep_json(depth: int) -> str:
    # Built as text: json.dumps itself would hit the recursion limit.
    return '{"resourceType": "Patient", "extension": ' + "[" * depth + "]" * depth + "}"


@override_settings(FARCARE_FHIR_MAX_BODY_BYTES=64 * 1024)
def test_a_body_over_the_limit_is_refused_with_413(chain, client):
    body = patient_resource(chain, extension=[{"url": "urn:x", "valueString": "x" * 100_000}])
    response = client.post("Patient", body)
    assert response.status_code == 413
    assert issue(response)["code"] == "too-costly"


@pytest.mark.parametrize(
    "params",
    [
        {"_count": "-1"},
        {"name:sounds-like": "Ranav"},
        {"family:banana": "Ranav"},
        {"birthdate:exact": "1990-10-10"},
    ],
)
def test_a_negative_count_or_an_unknown_modifier_is_refused_with_400(chain, client, params):
    PatientFactory(home_facility=chain.post, family="Ranav")
    response = client.get("Patient", **params)
    assert response.status_code == 400, response.content
    assert issue(response)["code"] in ("invalid", "not-supported")


def test_the_modifiers_fhir_defines_still_work(chain, client):
    PatientFactory(home_facility=chain.post, family="Ranav", snils="11223344595")
    for params in (
        {"family:exact": "Ranav"},
        {"family:contains": "ana"},
        {"gender:not": "male"},
        {"identifier": f"{systems.SNILS}|11223344595"},
        {"_count": "0"},
    ):
        assert client.get("Patient", **params).status_code == 200, params


@override_settings(FARCARE_FHIR_MAX_BUNDLE_ENTRIES=3)
def test_a_bundle_over_the_entry_limit_is_refused_with_413(chain, client):
    entries = [
        {"request": {"method": "GET", "url": f"Patient?family=Ranav{index}"}} for index in range(4)
    ]
    for kind in ("transaction", "batch"):
        response = client.post("", {"resourceType": "Bundle", "type": kind, "entry": entries})
        assert response.status_code == 413, response.content
        assert issue(response)["code"] == "too-costly"
        assert "3" in issue(response)["diagnostics"]
    fits = client.post("", {"resourceType": "Bundle", "type": "batch", "entry": entries[:3]})
    assert fits.status_code == 200
