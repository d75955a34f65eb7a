"""A NUL byte (%00, "\\u0000") in a FHIR request — a search parameter's name or value, the URL, a
posted resource, a bundle entry — is refused at the door with a 400 OperationOutcome. FHIR strings
never hold one, and PostgreSQL refuses it in text and JSON columns: before this check a search
such as `Patient?name=%00` reached the audit trail and the query and came back as a 500."""

from __future__ import annotations

from typing import Any

import pytest

from farcare.audit.models import AuditAction, AuditEvent
from farcare.patients.models import Patient

from ..evacuation.test_handover import Story, story  # noqa: F401


def refused(response: Any) -> str:
    """The diagnostics of a 400 `invalid` OperationOutcome."""
    assert response.status_code == 400, (response.status_code, response.content[:500])
    assert response["Content-Type"].startswith("application/fhir+json")
    body = response.json()
    assert body["resourceType"] == "OperationOutcome", body
    issue = body["issue"][0]
    assert issue["code"] == "invalid", issue
    assert "NUL" in issue["diagnostics"]
    return str(issue["diagnostics"])


@pytest.mark.parametrize(
    "path",
    [
        "Patient?name=%00",
        "Patient?name=Ran%00av",
        "Organization?name=%00",
        "Encounter?status=%00",
        "Encounter?class=%00",
        "Task?business-status=%00",
        "Task?business-status=foo%00bar",
        "Task?status:not=%00",
        "Location?name=%00",
        "Location?address-state=%00",
        "ServiceRequest?patient=%00",
        "Patient?na%00me=Ranav",  # in the parameter's name
        "Patient?_format=%00",  # in a control parameter, before content negotiation
    ],
)
def test_a_search_with_a_nul_byte_is_refused_and_nothing_is_audited_as_a_search(
    story: Story,  # noqa: F811
    fhir_as: Any,
    path: str,
) -> None:
    client = fhir_as(story.receiving_doctor)
    searches_before = AuditEvent.objects.filter(action=AuditAction.SEARCH).count()

    refused(client.get(path))

    # The refusal happens before the search runs: no search record, so nothing with a NUL in it.
    assert AuditEvent.objects.filter(action=AuditAction.SEARCH).count() == searches_before


def test_the_same_search_without_the_nul_byte_still_works(story: Story, fhir_as: Any) -> None:  # noqa: F811
    client = fhir_as(story.receiving_doctor)
    for path in ("Patient?name=Ranav", "Task?business-status=accepted", "Location?name=Uelen"):
        response = client.get(path)
        assert response.status_code == 200, (path, response.content[:500])


def test_a_form_posted_search_with_a_nul_byte_is_refused(story: Story, fhir_as: Any) -> None:  # noqa: F811
    client = fhir_as(story.receiving_doctor)
    response = client.client.post("/fhir/Patient/_search", {"name": "\x00"}, headers=client.headers)
    refused(response)


def test_a_nul_byte_in_the_resource_id_is_never_a_500(story: Story, fhir_as: Any) -> None:  # noqa: F811
    client = fhir_as(story.receiving_doctor)
    # An id with a NUL does not match the id pattern of the URLs: not found, not a crash.
    for path in ("Patient/%00", "Task/abc%00", "Location/%00/_history"):
        response = client.get(path)
        assert response.status_code in (400, 404), (path, response.status_code)
    # The version of a vread is looser in the URL; its NUL is refused by the endpoint.
    transfer = story.transfer
    refused(client.get(f"Task/{transfer.uuid}/_history/1%00"))


def test_a_posted_patient_with_a_nul_byte_is_refused_and_not_stored(
    story: Story,  # noqa: F811
    fhir_as: Any,
) -> None:
    client = fhir_as(story.scene.feldsher)
    patients_before = Patient.objects.count()
    resource = {
        "resourceType": "Patient",
        "name": [{"family": "Ran\x00av", "given": ["Anna"]}],
        "gender": "female",
        "birthDate": "1990-10-10",
        "managingOrganization": {
            "reference": f"Organization/{story.scene.chain.post.organisation.uuid}"
        },
    }
    refused(client.post("Patient", resource))
    # In a key of an element the server keeps as it was sent (an extension) as well.
    del resource["name"]
    resource["extension"] = [{"url": "http://example.org/x\x00", "valueString": "x"}]
    refused(client.post("Patient", resource))
    # An update with one is refused the same way, before the record is looked at.
    refused(client.put(f"Patient/{story.scene.patient.uuid}", resource))
    assert Patient.objects.count() == patients_before


def test_a_conditional_create_with_a_nul_byte_is_refused(story: Story, fhir_as: Any) -> None:  # noqa: F811
    client = fhir_as(story.scene.feldsher)
    resource = {
        "resourceType": "Patient",
        "name": [{"family": "Ranav", "given": ["Anna"]}],
        "gender": "female",
        "birthDate": "1990-10-10",
        "managingOrganization": {
            "reference": f"Organization/{story.scene.chain.post.organisation.uuid}"
        },
    }
    refused(client.post("Patient", resource, **{"If-None-Exist": "name=%00"}))


def test_a_bundle_with_a_nul_byte_is_refused(story: Story, fhir_as: Any) -> None:  # noqa: F811
    client = fhir_as(story.receiving_doctor)
    # In the body itself: the whole bundle is refused.
    bundle = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [{"request": {"method": "GET", "url": "Patient?name=\x00"}}],
    }
    refused(client.post("", bundle))
    # Percent-encoded in an entry's search URL: that entry fails with a 400, the batch answers.
    bundle["entry"] = [
        {"request": {"method": "GET", "url": "Location?name=%00"}},
        {"request": {"method": "GET", "url": "Encounter?status=%00"}},
    ]
    response = client.post("", bundle)
    assert response.status_code == 200, response.content[:500]
    for entry in response.json()["entry"]:
        assert entry["response"]["status"].startswith("400"), entry
        assert "NUL" in entry["response"]["outcome"]["issue"][0]["diagnostics"]
    # In a transaction the entry's 400 is the transaction's.
    bundle["type"] = "transaction"
    assert client.post("", bundle).status_code == 400
