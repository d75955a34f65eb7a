"""A query asked on every request, compiled once (core/db/precompiled.py): it finds what the
queryset finds, loads what the queryset's select_related loads, and costs one statement."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections
from django.db.models import F
from django.test.utils import CaptureQueriesContext

from farcare.core.db.precompiled import Precompiled
from farcare.network.models import Facility
from farcare.patients.models import Patient

from ..factories import FacilityFactory, PatientFactory

pytestmark = pytest.mark.django_db


def _patients_of(facility: str, family: str) -> Precompiled[Patient]:
    return Precompiled(
        lambda facility, family: (
            Patient.objects.filter(home_facility__uuid=facility)
            .filter(family=family)
            .select_related("home_facility__organisation", "home_settlement")
            .annotate(facility_name=F("home_facility__name_en"))
            .order_by("given")
        ),
        arity=2,
    )


def test_it_finds_what_the_queryset_finds_with_what_it_loads():
    north, south = FacilityFactory(name_en="North post"), FacilityFactory(name_en="South post")
    PatientFactory(
        home_facility=north, home_settlement=north.settlement, family="Лесков", given="Б"
    )
    PatientFactory(
        home_facility=north, home_settlement=north.settlement, family="Лесков", given="А"
    )
    PatientFactory(home_facility=north, home_settlement=north.settlement, family="Орлов")
    PatientFactory(home_facility=south, home_settlement=south.settlement, family="Лесков")
    query = _patients_of("", "")

    with CaptureQueriesContext(connection) as queries:
        found = query.run(str(north.uuid), "Лесков")
        shown = [
            (p.given, p.home_facility.organisation.uuid, p.home_settlement.name_en, p.facility_name)
            for p in found
        ]

    assert len(queries.captured_queries) == 1
    expected = [
        (p.given, p.home_facility.organisation.uuid, p.home_settlement.name_en, "North post")
        for p in Patient.objects.filter(home_facility=north, family="Лесков").order_by("given")
    ]
    assert shown == expected
    assert [p.given for p in found] == ["А", "Б"]
    stored = Patient.objects.get(pk=found[0].pk)
    assert found[0].pk and found[0].birth_date == stored.birth_date
    # The database's converters, worked out once, still apply (an aware time; a UUID on SQLite).
    assert found[0].registered_at == stored.registered_at and found[0].registered_at.tzinfo
    assert found[0].uuid == stored.uuid
    # The same compiled query, other values: other rows.
    assert [p.home_facility_id for p in query.run(str(south.uuid), "Лесков")] == [south.pk]
    assert query.run(str(north.uuid), "Нет таких") == []


def test_a_value_that_looks_like_sql_is_only_a_value():
    facility = FacilityFactory()
    PatientFactory(home_facility=facility, home_settlement=facility.settlement, family="Лесков")

    found = _patients_of("", "").run(str(facility.uuid), "Лесков' OR '1'='1")

    assert found == []
    assert Patient.objects.count() == 1


def test_each_thread_compiles_its_own_for_its_own_connection():
    facility = FacilityFactory()
    query: Precompiled[Facility] = Precompiled(
        lambda ident: Facility.objects.filter(uuid=ident), arity=1
    )
    assert [f.pk for f in query.run(str(facility.uuid))] == [facility.pk]
    seen: list[object] = []

    def other_thread() -> None:
        try:
            seen.append(query._compiled("default"))
        finally:
            connections.close_all()

    worker = threading.Thread(target=other_thread)
    worker.start()
    worker.join()

    assert seen and seen[0] is not query._compiled("default")


def test_a_query_whose_value_is_not_a_parameter_is_refused():
    # A condition built from the value in Python (no parameter in the SQL) cannot be replayed.
    query: Precompiled[Facility] = Precompiled(
        lambda ident: Facility.objects.filter(name_en__isnull=not ident), arity=1
    )

    with pytest.raises(RuntimeError, match="not a parameter"):
        query.run("x")


def test_it_takes_as_many_values_as_it_was_built_with():
    with pytest.raises(TypeError):
        _patients_of("", "").run("only one")
