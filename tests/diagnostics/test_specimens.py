"""A tube's way from the post to the laboratory: collected, shipped in a batch, received, or
rejected with the reason sent back to the feldsher who ordered it."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from farcare.audit.models import AuditEvent
from farcare.audit.services import Accessor
from farcare.diagnostics.models import SpecimenStatus
from farcare.diagnostics.services.specimens import (
    specimen_collect,
    specimen_receive,
    specimen_reject,
    specimen_ship,
)
from farcare.diagnostics.workflow import IllegalTransition, StaleVersion

from .scene import make_scene


@pytest.fixture
def dx(chain):
    return make_scene(chain)


def test_collected_shipped_and_received(dx):
    order = dx.order(["58410-2", "51990-0"])
    tubes = list(order.specimens.all())
    feldsher = Accessor(dx.feldsher)
    for tube in tubes:
        collected = specimen_collect(accessor=feldsher, specimen=tube, version=tube.version)
        assert collected.status == SpecimenStatus.COLLECTED
        assert collected.collected_by == dx.feldsher and collected.collected_at is not None
    shipped = specimen_ship(
        accessor=feldsher, specimens=tubes, batch="Box 12", transport="Mi-8 flight to Lavrentiya"
    )
    assert {(s.status, s.batch, s.transport) for s in shipped} == {
        (SpecimenStatus.SHIPPED, "Box 12", "Mi-8 flight to Lavrentiya")
    }
    received = specimen_receive(accessor=Accessor(dx.district_lab), specimen=tubes[0])
    assert received.status == SpecimenStatus.RECEIVED
    assert received.received_by == dx.district_lab
    assert AuditEvent.objects.filter(
        record_type="Specimen", patient_uuid=dx.patient.uuid, details__event="receive"
    ).exists()


def test_a_rejected_specimen_tells_the_feldsher_why_and_a_new_tube_waits(dx):
    order = dx.order(["51990-0"])
    tube = order.specimens.get()
    specimen_collect(accessor=Accessor(dx.feldsher), specimen=tube)
    specimen_ship(accessor=Accessor(dx.feldsher), specimens=[tube], batch="B1", transport="car")
    rejected = specimen_reject(
        accessor=Accessor(dx.district_lab), specimen=tube, reason="haemolysed", note="pink serum"
    )
    assert rejected.status == SpecimenStatus.REJECTED
    assert rejected.rejection_reason == "haemolysed" and rejected.rejection_note == "pink serum"
    [told] = dx.notifications(dx.feldsher, "diagnostics.specimen_rejected")
    assert "haemolysed" in told.body and order.placer_number in told.subject
    replacement = order.specimens.exclude(pk=tube.pk).get()
    assert replacement.status == SpecimenStatus.AWAITING
    assert replacement.label == f"{order.placer_number}-2"


def test_a_rejection_needs_a_known_reason(dx):
    tube = dx.order(["718-7"]).specimens.get()
    specimen_collect(accessor=Accessor(dx.feldsher), specimen=tube)
    with pytest.raises(ValidationError):
        specimen_reject(accessor=Accessor(dx.district_lab), specimen=tube, reason="ugly")
    with pytest.raises(ValidationError):
        specimen_reject(accessor=Accessor(dx.district_lab), specimen=tube, reason="other")


def test_only_the_performing_laboratory_receives_and_the_order_side_ships(dx):
    tube = dx.order(["718-7"]).specimens.get()
    specimen_collect(accessor=Accessor(dx.feldsher), specimen=tube)
    with pytest.raises(PermissionDenied):
        specimen_receive(accessor=Accessor(dx.hub_lab), specimen=tube)  # not the performer
    with pytest.raises(PermissionDenied):
        specimen_ship(
            accessor=Accessor(dx.district_lab), specimens=[tube], batch="x", transport="y"
        )
    assert AuditEvent.objects.filter(action="denied", patient_uuid=dx.patient.uuid).count() == 2


def test_steps_out_of_order_and_stale_forms_are_refused(dx):
    tube = dx.order(["718-7"]).specimens.get()
    with pytest.raises(IllegalTransition):
        specimen_receive(accessor=Accessor(dx.district_lab), specimen=tube)  # not collected
    with pytest.raises(StaleVersion):
        specimen_collect(accessor=Accessor(dx.feldsher), specimen=tube, version=tube.version + 5)
    tube.refresh_from_db()
    assert tube.status == SpecimenStatus.AWAITING


def test_a_shipment_needs_a_batch_and_a_transport(dx):
    tube = dx.order(["718-7"]).specimens.get()
    specimen_collect(accessor=Accessor(dx.feldsher), specimen=tube)
    with pytest.raises(ValidationError) as refused:
        specimen_ship(accessor=Accessor(dx.feldsher), specimens=[tube], batch="", transport="")
    assert set(refused.value.message_dict) == {"batch", "transport"}
