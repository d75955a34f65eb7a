"""A read's query is compiled once per reader and referral graph and run with the resource's id
and the moment put in: it must answer exactly as the query built afresh, for every reader and
every patient, as time passes and as grants come and go."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from farcare.access.models import BreakGlassGrant
from farcare.accounts.models import User
from farcare.fhir import lean
from farcare.fhir.models import ResourceVersion
from farcare.fhir.registry import handler_for
from farcare.fhir.versioning import snapshot
from farcare.patients.models import Patient

pytestmark = pytest.mark.django_db

FLAGS = ("pk", "version_id", "lean_in_scope", "lean_glass", "lean_stale")


def answer(version: ResourceVersion | None) -> tuple | None:
    return (
        None
        if version is None
        else tuple(
            bool(getattr(version, f)) if f.startswith("lean") else getattr(version, f)
            for f in FLAGS
        )
    )


@pytest.fixture
def versioned_patients(demo_network):
    handler = handler_for("Patient")
    patients = list(
        Patient.objects.select_related("home_facility__organisation", "home_settlement")
    )
    for patient in patients:
        snapshot(handler, patient)
    lean.forget_compiled_reads()
    return handler, patients


def built_afresh(user, handler, logical_id):
    return lean._read_queryset(user, handler, logical_id, timezone.now()).first()


def test_every_reader_gets_the_same_answer_compiled_as_built_afresh(
    versioned_patients, monkeypatch
):
    handler, patients = versioned_patients
    # Outside a transaction that changes links, as a request is: the graph has a generation.
    monkeypatch.setattr(lean, "graph_generation", lambda: "generation-1")
    readers = list(User.objects.select_related("facility").filter(is_active=True))
    assert len(readers) >= 8
    compared = 0
    for user in readers:
        for patient in patients:
            logical_id = str(patient.uuid)
            first = lean._latest_with_access(user, handler, logical_id)
            again = lean._latest_with_access(user, handler, logical_id)  # from the compiled query
            expected = built_afresh(user, handler, logical_id)
            assert answer(first) == answer(expected) == answer(again), (user.username, logical_id)
            compared += 1
    assert compared == len(readers) * len(patients)
    # One compiled query per reader, not per patient.
    assert len(lean._compiled) == len(readers)
    # Someone sees someone, and someone is refused someone: the comparison covered both.
    outcomes = {answer(built_afresh(u, handler, str(p.uuid)))[2] for u in readers for p in patients}
    assert outcomes == {True, False}


def test_a_grant_opens_and_closes_with_time_through_the_compiled_query(
    versioned_patients, monkeypatch
):
    handler, patients = versioned_patients
    monkeypatch.setattr(lean, "graph_generation", lambda: "generation-1")
    doctor = User.objects.select_related("facility").get(username="doctor")
    outside = next(p for p in patients if not answer(built_afresh(doctor, handler, str(p.uuid)))[2])
    logical_id = str(outside.uuid)
    assert answer(lean._latest_with_access(doctor, handler, logical_id))[2:4] == (False, False)
    BreakGlassGrant.objects.create(
        user=doctor,
        patient=outside,
        reason="emergency evacuation, no record",
        created_at=timezone.now(),
        expires_at=timezone.now() + timedelta(minutes=60),
    )
    # The compiled query (made before the grant) sees it: the grant is data, not SQL.
    assert answer(lean._latest_with_access(doctor, handler, logical_id))[2:4] == (True, True)
    with time_machine.travel(timezone.now() + timedelta(minutes=61)):
        assert answer(lean._latest_with_access(doctor, handler, logical_id))[2:4] == (False, False)
        assert answer(built_afresh(doctor, handler, logical_id))[2:4] == (False, False)


def test_a_new_graph_generation_or_another_role_compiles_again(versioned_patients, monkeypatch):
    handler, patients = versioned_patients
    generation = {"value": "generation-1"}
    monkeypatch.setattr(lean, "graph_generation", lambda: generation["value"])
    feldsher = User.objects.select_related("facility").get(username="feldsher")
    logical_id = str(patients[0].uuid)
    lean._latest_with_access(feldsher, handler, logical_id)
    lean._latest_with_access(feldsher, handler, logical_id)
    assert len(lean._compiled) == 1
    generation["value"] = "generation-2"
    lean._latest_with_access(feldsher, handler, logical_id)
    assert len(lean._compiled) == 2
    feldsher.role = "coordinator"
    coordinator_answer = lean._latest_with_access(feldsher, handler, logical_id)
    assert len(lean._compiled) == 3
    assert answer(coordinator_answer) == answer(built_afresh(feldsher, handler, logical_id))


def test_while_links_change_in_this_transaction_nothing_is_compiled(
    versioned_patients, monkeypatch
):
    handler, patients = versioned_patients
    monkeypatch.setattr(lean, "graph_generation", lambda: None)
    feldsher = User.objects.select_related("facility").get(username="feldsher")
    version = lean._latest_with_access(feldsher, handler, str(patients[0].uuid))
    assert answer(version) == answer(built_afresh(feldsher, handler, str(patients[0].uuid)))
    assert len(lean._compiled) == 0
