"""A value corrected twice is still one value outside FarCare: every version keeps the UUID of
the first (the FHIR Observation's id), for values stored from now on and, by the migration, for
values stored before it."""

from __future__ import annotations

import importlib

from django.apps import apps

from farcare.audit.services import Accessor
from farcare.diagnostics.models import ResultObservation
from farcare.diagnostics.selectors import latest_version
from farcare.diagnostics.services.results import report_receive

from .scene import make_scene

HL7 = Accessor(None, channel="hl7")
MIGRATION = "farcare.diagnostics.migrations.0005_escalation_again_first_uuid"


def corrected_twice(chain):
    dx = make_scene(chain)
    order = dx.order(["51990-0"])
    report_receive(accessor=HL7, report=dx.bmp(order, potassium="5.6", external_id="M1"))
    for n, value in enumerate(("4.6", "4.7"), start=2):
        report_receive(
            accessor=HL7, report=dx.bmp(order, potassium=value, status="C", external_id=f"M{n}")
        )
    return list(ResultObservation.objects.filter(code="2823-3").order_by("pk"))


def test_every_version_keeps_the_first_uuid(chain):
    first, second, third = corrected_twice(chain)
    assert first.first_uuid == second.first_uuid == third.first_uuid == first.uuid
    assert latest_version(first) == third


def test_the_migration_gives_values_stored_before_it_their_first_uuid(chain):
    corrected_twice(chain)
    stored = dict(ResultObservation.objects.values_list("pk", "first_uuid"))
    ResultObservation.objects.update(first_uuid=None)
    importlib.import_module(MIGRATION).first_uuids(apps, None)
    assert dict(ResultObservation.objects.values_list("pk", "first_uuid")) == stored
    assert len(set(stored.values())) == 6  # six values, the potassium in three versions
