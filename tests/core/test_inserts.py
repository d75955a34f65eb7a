"""New rows in one INSERT built once (core/db/inserts.py): what bulk_create stores and returns,
in one statement, or bulk_create itself where the prepared statement cannot say it."""

from __future__ import annotations

from datetime import date

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import Value
from django.db.models.functions import Upper
from django.test.utils import CaptureQueriesContext

from farcare.core.db.inserts import insert_rows
from farcare.patients.models import Patient

from ..factories import FacilityFactory, valid_snils

pytestmark = pytest.mark.django_db

# What the database decides or each row makes anew.
_OWN = {"id", "uuid", "snils", "given", "search_name", "registered_at", "updated_at"}


def _newcomers(facility, first: int, count: int, family: str = "Лесков") -> list[Patient]:
    return [
        Patient(
            family=family,
            given=f"Иван{first + n}",
            sex="male",
            birth_date=date(1980, 5, 1 + n),
            home_facility=facility,
            home_settlement=facility.settlement,
            snils=valid_snils(first + n),
            search_name=f"лесков иван{first + n}",
        )
        for n in range(count)
    ]


def _stored(patients: list[Patient]) -> list[dict]:
    rows = Patient.objects.filter(pk__in=[p.pk for p in patients]).order_by("pk").values()
    return [{k: v for k, v in row.items() if k not in _OWN} for row in rows]


def test_the_rows_are_the_ones_bulk_create_stores_in_one_statement():
    facility = FacilityFactory()
    by_bulk_create = Patient.objects.bulk_create(_newcomers(facility, 100, 3))
    newcomers = _newcomers(facility, 200, 3)

    with CaptureQueriesContext(connection) as queries:
        returned = insert_rows(newcomers)

    assert len(queries.captured_queries) == 1
    assert queries.captured_queries[0]["sql"].startswith('INSERT INTO "patients_patient"')
    assert returned == newcomers
    assert _stored(newcomers) == _stored(by_bulk_create)
    for patient in newcomers:
        stored = Patient.objects.get(pk=patient.pk)
        # Each object got its own row's key, and is left saved, as bulk_create leaves it.
        assert (stored.uuid, stored.given, stored.snils) == (
            patient.uuid,
            patient.given,
            patient.snils,
        )
        assert not patient._state.adding and patient._state.db == "default"
        # auto_now filled in on the object, as the compiler's pre_save does.
        assert patient.updated_at is not None and stored.updated_at == patient.updated_at


def test_a_second_call_with_another_number_of_rows_is_right_too():
    facility = FacilityFactory()
    one = insert_rows(_newcomers(facility, 300, 1))
    five = insert_rows(_newcomers(facility, 310, 5))
    one_again = insert_rows(_newcomers(facility, 320, 1))

    stored = {p.pk: p.given for p in Patient.objects.filter(family="Лесков")}
    for patient in [*one, *five, *one_again]:
        assert stored[patient.pk] == patient.given
    assert len(stored) == 7


def test_an_expression_as_a_value_is_left_to_bulk_create():
    facility = FacilityFactory()
    [patient] = _newcomers(facility, 400, 1)
    patient.family = Upper(Value("leskov"))  # SQLite upper() knows ASCII only

    insert_rows([patient])

    assert Patient.objects.get(pk=patient.pk).family == "LESKOV"


def test_a_unique_value_taken_is_refused_and_nothing_is_kept():
    facility = FacilityFactory()
    insert_rows(_newcomers(facility, 500, 1))
    again = _newcomers(facility, 499, 2)  # the second one's SNILS is taken

    with pytest.raises(IntegrityError), transaction.atomic():
        insert_rows(again)

    assert Patient.objects.filter(snils=again[0].snils).count() == 0
    assert Patient.objects.count() == 1


def test_an_object_already_saved_is_left_to_bulk_create_which_refuses_its_key():
    facility = FacilityFactory()
    [patient] = insert_rows(_newcomers(facility, 600, 1))
    patient.given = "Другой"

    with pytest.raises(IntegrityError), transaction.atomic():
        insert_rows([patient])

    assert Patient.objects.get(pk=patient.pk).given == "Иван600"
