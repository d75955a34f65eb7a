"""The demo network a test gets is a copy of rows made once per test process: it must be what
load_demo() makes, every table of it, and a test's own rows must still find free keys."""

from __future__ import annotations

from django.apps import apps
from django.db import transaction

from farcare.accounts.models import Role, User
from farcare.consults.models import Consultation
from farcare.demo.loader import DEMO_PASSWORD, load_demo
from farcare.network.models import Facility
from farcare.patients.models import Patient
from farcare.testing.demo_snapshot import DemoSnapshot, restore_demo

from ..factories import FacilityFactory


def _census() -> dict[str, int]:
    return {
        model._meta.label: model._base_manager.count()
        for model in apps.get_models(include_auto_created=True)
        if not model._meta.proxy
    }


def _faces() -> set[tuple[str, ...]]:
    """What a person sees of the demo, without keys: who, where, which cases."""
    users = {
        ("user", u.username, u.role, u.facility.name_en if u.facility else "")
        for u in User.objects.select_related("facility")
    }
    patients = {
        ("patient", p.snils, p.family, p.home_facility.name_en)
        for p in Patient.objects.select_related("home_facility")
    }
    cases = {
        ("case", c.patient.snils, c.status, c.form, c.question)
        for c in Consultation.objects.select_related("patient")
    }
    return users | patients | cases


def test_the_copy_holds_every_row_load_demo_makes(db, demo_snapshot: DemoSnapshot):
    empty = _census()
    point = transaction.savepoint()
    restore_demo(demo_snapshot)
    copied, copied_faces = _census(), _faces()
    transaction.savepoint_rollback(point)
    assert _census() == empty

    load_demo(analytics=False)
    assert _census() == copied
    assert _faces() == copied_faces
    assert demo_snapshot.row_count > 1000


def test_the_copied_people_log_in_and_new_rows_get_new_keys(demo_network, client):
    assert client.login(username="feldsher", password=DEMO_PASSWORD)
    assert User.objects.get(username="feldsher").role == Role.CLINICIAN
    newest = Facility.objects.order_by("-pk").first()
    assert newest is not None
    assert FacilityFactory().pk > newest.pk
