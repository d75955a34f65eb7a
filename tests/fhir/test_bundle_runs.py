"""A transaction of many Patient entries is created at once (bundles.py, runs): a post that
registers its village's hundred patients in one bundle gets back exactly what it got when each
entry was created on its own — the same statuses, locations, resources and refusals — and the
record holds the same rows, versions and audit records."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from farcare.audit.models import AuditAction, AuditEvent
from farcare.fhir import remainder, systems, views
from farcare.fhir.auth import Principal
from farcare.fhir.bundles import runs
from farcare.fhir.models import ResourceVersion, StoredRemainder
from farcare.fhir.registry import handler_for
from farcare.patients.models import PATIENT_FIELDS, Patient

from ..factories import PatientFactory, valid_snils
from .test_bundles import post, statuses
from .test_bundles import transaction as bundle_of
from .test_patient import outcome, patient_resource

pytestmark = pytest.mark.django_db


@pytest.fixture
def one_by_one(monkeypatch):
    """Every Patient entry created on its own, as before runs existed."""

    def switch() -> None:
        monkeypatch.setattr(handler_for("Patient"), "creates_many", False)

    return switch


def urn(n: int) -> str:
    return f"urn:uuid:{uuid.UUID(int=n)}"


def person(chain, n: int, **overrides: Any) -> dict:
    resource = patient_resource(
        chain,
        identifier=[{"system": systems.SNILS, "value": valid_snils(7_000 + n)}],
        name=[{"use": "official", "family": "Тынаткэвв", "given": [f"Айнана{n}", "Петровна"]}],
    )
    resource.update(overrides)
    return resource


def snils_condition(n: int) -> str:
    return f"identifier={systems.SNILS}|{valid_snils(7_000 + n)}"


class Rollback(Exception):
    pass


def answered_and_stored(client, bundle: dict) -> dict[str, Any]:
    """POST the bundle, take what it answered and stored (ids and times replaced by names that
    follow the answer's order), then roll everything back so the next path starts the same."""
    taken: dict[str, Any] = {}
    try:
        with transaction.atomic():
            before = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
            response = client.post("", bundle)
            taken["status"] = response.status_code
            taken["answer"] = response.json()
            taken["stored"] = stored_since(before)
            raise Rollback
    except Rollback:
        pass
    return normalised(taken)


def stored_since(audit_id: int) -> dict[str, Any]:
    return {
        "patients": [
            {name: str(value) for name, value in row.items()}
            for row in Patient.objects.order_by("snils").values(
                "uuid", *PATIENT_FIELDS, "search_name", "registered_by", "user"
            )
        ],
        **resources_stored_since("Patient", audit_id),
    }


def resources_stored_since(resource_type: str, audit_id: int) -> dict[str, Any]:
    """The versions and remainders of `resource_type`, and the audit records after `audit_id`."""
    return {
        "versions": [
            {
                "resource": version.content,
                "version": version.version_id,
                "deleted": version.deleted,
                "patient": str(version.patient_uuid),
                "confirmed": version.confirmed_at is not None,
            }
            for version in ResourceVersion.objects.filter(resource_type=resource_type)
        ],
        "remainders": [
            {"id": row.logical_id, "content": row.content, "basis": row.basis == basis_now(row)}
            for row in StoredRemainder.objects.filter(resource_type=resource_type)
        ],
        "audit": list(
            AuditEvent.objects.filter(id__gt=audit_id).values(
                "action",
                "record_type",
                "record_id",
                "patient_uuid",
                "details",
                "purpose",
                "outcome",
                "channel",
                "actor_username",
                "actor_role",
                "seq",
                "hash",
            )
        ),
    }


def basis_now(row: StoredRemainder) -> str:
    """The fingerprint of the resource's rendering now (what the write computed it against)."""
    handler = handler_for(row.resource_type)
    return remainder.basis(handler.to_fhir(handler.find(row.logical_id)))


def normalised(taken: dict[str, Any]) -> dict[str, Any]:
    """Logical ids become P0, P1... in the order the answer names them; times go."""
    text = json.dumps(taken, default=str, ensure_ascii=False)
    names: dict[str, str] = {}
    for entry in taken["answer"].get("entry", []):
        location = entry.get("response", {}).get("location", "")
        if location:
            logical_id = location.split("/")[1]
            names.setdefault(logical_id, f"P{len(names)}")
    for logical_id, name in names.items():
        text = text.replace(logical_id, name).replace(logical_id.replace("-", ""), name)
    result = json.loads(text)
    _drop_times(result)
    stored = result.get("stored", {})
    # Which row the database lists first depends on the random ids: compare them in order.
    for key, order in (
        ("versions", lambda row: row["resource"]["id"]),
        ("remainders", lambda row: row["id"]),
        ("audit", lambda row: (str(row["patient_uuid"]), row["action"])),
    ):
        stored[key] = sorted(stored.get(key, []), key=order)
    return result


TIMES = {"lastUpdated", "lastModified"}


def _drop_times(value: Any) -> None:
    if isinstance(value, dict):
        for key in list(value):
            if key in TIMES:
                del value[key]
            else:
                _drop_times(value[key])
    elif isinstance(value, list):
        for item in value:
            _drop_times(item)


def both_paths(client, one_by_one, bundle: dict) -> tuple[dict[str, Any], dict[str, Any]]:
    at_once = answered_and_stored(client, bundle)
    one_by_one()
    return at_once, answered_and_stored(client, bundle)


# --- the same answer and the same record -----------------------------------------------------


def test_a_bundle_created_at_once_answers_and_stores_what_one_by_one_did(
    chain, feldsher, fhir_as, one_by_one
):
    known = PatientFactory(home_facility=chain.post, snils=valid_snils(7_000 + 3))
    client = fhir_as(feldsher)
    bundle = bundle_of(
        post(person(chain, 1), urn(1)),
        # What the record does not hold is kept beside it (a nickname, an e-mail).
        post(
            person(
                chain,
                2,
                name=[
                    {"use": "official", "family": "Рультына", "given": ["Анна"]},
                    {"use": "nickname", "given": ["Аня"]},
                ],
                telecom=[{"system": "email", "value": "anna@uelen.example"}],
            ),
            urn(2),
        ),
        # Known already: answered with the record as it is, nothing created.
        post(person(chain, 3), urn(3), if_none_exist=snils_condition(3)),
        # Not known: created.
        post(person(chain, 4), urn(4), if_none_exist=snils_condition(4)),
        # Refers to an entry of the bundle: created after it, the reference rewritten.
        post(person(chain, 5, link=[{"other": {"reference": urn(1)}, "type": "seealso"}])),
        post(person(chain, 6, gender="male", birthDate="2001-02-03")),
    )

    at_once, alone = both_paths(client, one_by_one, bundle)

    assert at_once["status"] == 200, at_once["answer"]
    assert statuses(at_once["answer"]) == ["201 Created"] * 2 + ["200 OK"] + ["201 Created"] * 3
    assert at_once == alone
    assert len(at_once["stored"]["remainders"]) == 2  # the nickname and e-mail; the link
    assert at_once["answer"]["entry"][2]["resource"]["identifier"][0]["value"] == known.snils
    assert (
        at_once["answer"]["entry"][4]["resource"]["link"][0]["other"]["reference"]
        == (at_once["answer"]["entry"][0]["response"]["location"].split("/_history")[0])
    )


def test_an_entry_asking_for_what_an_earlier_entry_creates_finds_it(
    chain, feldsher, fhir_as, one_by_one
):
    client = fhir_as(feldsher)
    bundle = bundle_of(
        post(person(chain, 1)),
        post(person(chain, 1), if_none_exist=snils_condition(1)),
        post(person(chain, 2)),
    )

    at_once, alone = both_paths(client, one_by_one, bundle)

    assert statuses(at_once["answer"]) == ["201 Created", "200 OK", "201 Created"]
    assert at_once == alone


def test_the_runs_respect_what_entries_refer_to_and_ask_for(chain, feldsher, rf):
    from farcare.fhir.bundles import creation_order, parse_entries

    entries = parse_entries(
        bundle_of(
            post(person(chain, 1), urn(1)),
            post(person(chain, 2), urn(2)),
            post(person(chain, 3, link=[{"other": {"reference": urn(2)}, "type": "seealso"}])),
            post(person(chain, 4)),
            post(person(chain, 1), if_none_exist=snils_condition(1)),
            post(person(chain, 5), if_none_exist="name=Тынаткэвв"),  # not resolved at once
            post(person(chain, 6)),
        ),
        strict=True,
    )
    steps = creation_order(entries)

    grouped = runs(rf.post("/fhir"), steps, {urn(1), urn(2)}, {})

    shape = [
        [e.index for e in step.entries] if hasattr(step, "entries") else step.index
        for step in grouped
    ]
    # The one asking for entry 0's SNILS starts a new run, after entry 0 is created; the one
    # whose condition needs a search goes on its own; the entry referring to entry 1 comes in
    # the wave after it and joins a run that does not hold entry 1.
    assert shape == [[0, 1, 3], [4], 5, [6, 2]]


# --- refusals are what they were -------------------------------------------------------------


def test_a_snils_twice_in_one_bundle_is_refused_as_before_and_nothing_is_kept(
    chain, feldsher, fhir_as, one_by_one
):
    client = fhir_as(feldsher)
    bundle = bundle_of(post(person(chain, 1)), post(person(chain, 2)), post(person(chain, 1)))

    at_once, alone = both_paths(client, one_by_one, bundle)

    assert at_once == alone
    assert at_once["status"] == 409
    issue = at_once["answer"]["issue"][0]
    assert issue["expression"] == ["Bundle.entry[2].resource.identifier"]
    assert "SNILS is already registered" in issue["diagnostics"]
    response = client.post("", bundle)
    assert response.status_code == 409
    assert not Patient.objects.exists()
    assert not AuditEvent.objects.filter(action=AuditAction.CREATE).exists()
    assert not ResourceVersion.objects.exists()


def test_a_snils_already_registered_is_refused_as_before(chain, feldsher, fhir_as, one_by_one):
    PatientFactory(home_facility=chain.post, snils=valid_snils(7_000 + 2))
    client = fhir_as(feldsher)
    bundle = bundle_of(post(person(chain, 1)), post(person(chain, 2)))

    at_once, alone = both_paths(client, one_by_one, bundle)

    assert at_once == alone
    assert at_once["status"] == 409
    assert at_once["answer"]["issue"][0]["expression"] == ["Bundle.entry[1].resource.identifier"]
    assert Patient.objects.count() == 1


def test_the_first_refused_entry_answers_whatever_refuses_it(chain, feldsher, fhir_as, one_by_one):
    PatientFactory(home_facility=chain.post, snils=valid_snils(7_000 + 4))
    elsewhere = {"reference": f"Organization/{chain.other_region_post.organisation.uuid}"}
    client = fhir_as(feldsher)
    bundle = bundle_of(
        post(person(chain, 1)),
        post(person(chain, 2, managingOrganization=elsewhere)),  # not this user's to register
        post(person(chain, 3, birthDate="2999-01-01")),
        post(person(chain, 4)),  # taken
    )

    at_once, alone = both_paths(client, one_by_one, bundle)

    assert at_once == alone
    assert at_once["status"] == 403
    assert at_once["answer"]["issue"][0]["diagnostics"].startswith("Entry 1:")


def test_a_client_cannot_deactivate_a_patient_created_at_once(chain, feldsher, fhir_as, one_by_one):
    client = fhir_as(feldsher)
    bundle = bundle_of(post(person(chain, 1)), post(person(chain, 2, active=False)))

    at_once, alone = both_paths(client, one_by_one, bundle)

    assert at_once == alone
    assert at_once["status"] == 422


def test_a_refusal_found_at_once_leaves_no_warning(chain, feldsher, fhir_as, caplog):
    client = fhir_as(feldsher)
    client.post("", bundle_of(post(person(chain, 1)), post(person(chain, 1))))
    client.post("", bundle_of(post(person(chain, 2)), post(person(chain, 3))))

    assert "failed at once" not in caplog.text


# --- a village's hundred patients ------------------------------------------------------------


def test_a_hundred_patients_in_one_bundle_are_registered_audited_and_readable(
    chain, feldsher, fhir_as
):
    client = fhir_as(feldsher)
    bundle = bundle_of(
        *[post(person(chain, n), urn(n), if_none_exist=snils_condition(n)) for n in range(100)]
    )

    response = client.post("", bundle, Prefer="return=minimal")

    assert response.status_code == 200, response.content
    answer = response.json()
    assert statuses(answer) == ["201 Created"] * 100
    ids = [entry["response"]["location"].split("/")[1] for entry in answer["entry"]]
    patients = {str(p.uuid): p for p in Patient.objects.all()}
    assert set(ids) == set(patients) and len(ids) == 100
    assert [patients[i].snils for i in ids] == [valid_snils(7_000 + n) for n in range(100)]
    assert all(p.registered_by == feldsher and p.search_name for p in patients.values())
    created = AuditEvent.objects.filter(action=AuditAction.CREATE, actor_uuid=feldsher.uuid)
    assert sorted(str(e.patient_uuid) for e in created) == sorted(ids)
    assert {(e.record_type, e.record_id == str(e.patient_uuid)) for e in created} == {
        ("Patient", True)
    }
    assert all(
        d == {"duplicate_confirmed": True} for d in created.values_list("details", flat=True)
    )
    # Read at once from the stored version (the lean read), as the full path would render it.
    principal = Principal(user=feldsher, client=None, scopes=frozenset(), ip_address=None)
    for logical_id in ids[::25]:
        with CaptureQueriesContext(connection) as queries:
            read = client.get(f"Patient/{logical_id}")
        assert read.status_code == 200
        # Served as stored: the version asked for, the patient's row not rendered again.
        asked = [query["sql"] for query in queries.captured_queries]
        assert any('FROM "fhir_resourceversion"' in sql for sql in asked)
        rendering = [sql for sql in asked if sql.startswith('SELECT "patients_patient"')]
        assert rendering == [], rendering
        rendered = views.read_rendered(principal, handler_for("Patient"), logical_id)
        assert read.json() == rendered.content
        assert read["ETag"] == 'W/"1"'

    again = client.post("", bundle, Prefer="return=minimal")

    assert statuses(again.json()) == ["200 OK"] * 100
    assert [e["response"]["location"] for e in again.json()["entry"]] == [
        e["response"]["location"] for e in answer["entry"]
    ]
    assert Patient.objects.count() == 100


def test_a_batch_still_runs_each_entry_on_its_own(chain, feldsher, fhir_as):
    client = fhir_as(feldsher)
    batch = bundle_of(
        post(person(chain, 1)), post(person(chain, 1)), post(person(chain, 2)), kind="batch"
    )

    response = client.post("", batch)

    assert statuses(response.json()) == ["201 Created", "409 Conflict", "201 Created"]
    assert Patient.objects.count() == 2


def test_an_unknown_organisation_is_refused_with_the_element(chain, feldsher, fhir_as):
    client = fhir_as(feldsher)
    nowhere = {"reference": f"Organization/{uuid.uuid4()}"}
    response = client.post(
        "", bundle_of(post(person(chain, 1)), post(person(chain, 2, managingOrganization=nowhere)))
    )

    assert response.status_code == 422
    assert outcome(response)["expression"] == ["Bundle.entry[1].resource.managingOrganization"]
    assert not Patient.objects.exists()
