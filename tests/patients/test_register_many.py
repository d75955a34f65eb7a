"""Many patients registered at once (a FHIR transaction from a post) are registered exactly as
one after another would be: the same checks in the same order, the same rows, the same audit
records, and the first refusal named by its position with the error registering it alone gives."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from farcare.audit.models import AuditAction, AuditEvent
from farcare.audit.services import Accessor
from farcare.patients.models import PATIENT_FIELDS, Patient
from farcare.patients.services import (
    LikelyDuplicate,
    RegistrationRefused,
    patient_register,
    patients_register_many,
)

from ..factories import PatientFactory, valid_snils

pytestmark = pytest.mark.django_db


def registration(chain, n: int, **overrides: Any) -> dict[str, Any]:
    data = {
        "family": "Тынетегин",
        "given": f"Семён{n}",
        "middle": "Петрович",
        "sex": "male",
        "birth_date": date(1961, 3, 1 + n % 28),
        "home_settlement": chain.post.settlement,
        "home_facility": chain.post,
        "snils": valid_snils(5_000 + n),
        "oms_policy": "",
        "phone": "+7 914 123-45-67",
    }
    data.update(overrides)
    return data


def accessor(user) -> Accessor:
    return Accessor(user, "127.0.0.1", "fhir")


def refusal(chain, feldsher, registrations, **options) -> RegistrationRefused:
    with pytest.raises(RegistrationRefused) as refused:
        patients_register_many(accessor=accessor(feldsher), registrations=registrations, **options)
    return refused.value


def test_many_are_registered_as_one_after_another_would_be(chain, feldsher):
    alone = patient_register(accessor=accessor(feldsher), data=registration(chain, 0))
    many = patients_register_many(
        accessor=accessor(feldsher), registrations=[registration(chain, n) for n in (1, 2, 3)]
    )

    assert [p.snils for p in many] == [valid_snils(5_001), valid_snils(5_002), valid_snils(5_003)]
    stored = {p.uuid: p for p in Patient.objects.all()}
    same = [
        f for f in (*PATIENT_FIELDS, "registered_by") if f not in ("given", "birth_date", "snils")
    ]
    for n, patient in enumerate(many, 1):
        row = stored[patient.uuid]
        assert row.pk == patient.pk
        assert row.search_name == f"тынетегин семен{n} петрович"  # as save() derives it
        assert {f: getattr(row, f) for f in same} == {f: getattr(alone, f) for f in same}
    records = {e.patient_uuid: e for e in AuditEvent.objects.filter(action=AuditAction.CREATE)}
    shape = ("action", "record_type", "purpose", "outcome", "channel", "actor_uuid", "details")
    for patient in [alone, *many]:
        record = records[patient.uuid]
        assert record.record_id == str(patient.uuid)
        assert {f: getattr(record, f) for f in shape} == {
            f: getattr(records[alone.uuid], f) for f in shape
        }


def test_the_cost_does_not_grow_with_the_number(chain, feldsher):
    def cost(first: int, count: int) -> int:
        batch = [registration(chain, n) for n in range(first, first + count)]
        with CaptureQueriesContext(connection) as queries:
            patients_register_many(accessor=accessor(feldsher), registrations=batch)
        return len(queries.captured_queries)

    assert cost(0, 3) == cost(100, 40)


def test_a_snils_registered_already_or_earlier_in_the_batch_is_refused(chain, feldsher):
    PatientFactory(home_facility=chain.post, snils=valid_snils(5_002))
    batch = [registration(chain, 1), registration(chain, 2)]

    refused = refusal(chain, feldsher, batch)

    assert refused.position == 1
    assert isinstance(refused.error, ValidationError)
    assert refused.error.message_dict == {
        "snils": ["A patient with this SNILS is already registered."]
    }
    twice = refusal(chain, feldsher, [registration(chain, 3), registration(chain, 3, given="X")])
    assert twice.position == 1
    assert Patient.objects.count() == 1
    assert not AuditEvent.objects.filter(action=AuditAction.CREATE).exists()


def test_a_likely_duplicate_needs_confirming_as_alone(chain, feldsher):
    PatientFactory(
        home_facility=chain.post, family="Тынетегин", given="Семён1", birth_date=date(1961, 3, 2)
    )
    batch = [registration(chain, 1, snils=""), registration(chain, 2)]

    refused = refusal(chain, feldsher, batch)

    assert (refused.position, type(refused.error)) == (0, LikelyDuplicate)
    in_batch = [registration(chain, 4), registration(chain, 4, snils=valid_snils(5_050))]
    assert refusal(chain, feldsher, in_batch).position == 1
    made = patients_register_many(
        accessor=accessor(feldsher), registrations=batch, confirm_duplicate=True
    )
    assert len(made) == 2


def test_the_first_refused_is_named_whatever_refuses_it(chain, feldsher):
    batch = [
        registration(chain, 1),
        registration(chain, 2, birth_date=timezone.now().date() + timedelta(days=3)),
        registration(chain, 3, home_facility=chain.hub, home_settlement=chain.hub.settlement),
    ]

    refused = refusal(chain, feldsher, batch)

    assert refused.position == 1
    assert "birth_date" in refused.error.error_dict
    above = refusal(chain, feldsher, [registration(chain, 4), batch[2]])
    assert above.position == 1
    assert isinstance(above.error, PermissionDenied)
    assert not Patient.objects.exists()


def test_nothing_to_register_costs_nothing(feldsher):
    with CaptureQueriesContext(connection) as queries:
        assert patients_register_many(accessor=accessor(feldsher), registrations=[]) == []
    assert queries.captured_queries == []


class StationPort:
    """A station's replication port: every registration must wait in its outbox for the hub."""

    def __init__(self) -> None:
        self.queued: list[tuple[int, str]] = []

    def is_station(self) -> bool:
        return True

    def patient_created(self, *, patient, actor) -> None:
        self.queued.append((patient.pk, actor.username))


def test_at_a_station_each_patient_waits_for_the_hub(chain, feldsher, monkeypatch):
    port = StationPort()
    monkeypatch.setattr("farcare.patients.services.replication", lambda: port)

    made = patients_register_many(
        accessor=accessor(feldsher), registrations=[registration(chain, n) for n in (1, 2)]
    )

    assert port.queued == [(p.pk, feldsher.username) for p in made]
    assert all(pk is not None for pk, _who in port.queued)
