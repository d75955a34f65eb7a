"""A feldsher orders tests: numbered, routed to a laboratory, specimens labelled, due by
priority; a double submission makes one order; a cancelled order stays on record."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from farcare.accounts.models import Role
from farcare.audit.models import AuditEvent
from farcare.audit.services import Accessor
from farcare.diagnostics.models import (
    Category,
    DiagnosticOrder,
    OrderStatus,
    PerformerRoute,
)
from farcare.diagnostics.services.ordering import order_cancel
from farcare.diagnostics.services.results import report_receive
from farcare.diagnostics.workflow import StaleVersion

from ..conftest import make_user
from ..factories import FacilityFactory
from .scene import make_scene


@pytest.fixture
def dx(chain):
    return make_scene(chain)


def test_an_order_gets_a_number_a_laboratory_and_labelled_tubes(dx):
    before = timezone.now()
    order = dx.order(["58410-2", "51990-0", "4548-4"], priority="stat")
    year = timezone.now().year
    assert order.placer_number == f"DX-{year}-000001"
    assert order.status == OrderStatus.ACTIVE
    # The post has no laboratory; the district hospital up the chain has one.
    assert order.performer == dx.chain.district
    assert order.ordering_facility == dx.chain.post
    assert [test.code for test in order.tests.all()] == ["58410-2", "51990-0", "4548-4"]
    # The blood count and HbA1c share the EDTA tube; the panel needs serum.
    assert [(s.label, s.kind) for s in order.specimens.all()] == [
        (f"DX-{year}-000001-1", "venous_blood_edta"),
        (f"DX-{year}-000001-2", "serum"),
    ]
    assert before + timedelta(minutes=60) <= order.due_at <= timezone.now() + timedelta(minutes=60)
    assert AuditEvent.objects.filter(
        record_type="DiagnosticOrder", patient_uuid=dx.patient.uuid, action="create"
    ).exists()


def test_numbers_follow_one_another_without_gaps(dx):
    first = dx.order(["718-7"])
    with pytest.raises(ValidationError):
        dx.order(["not-a-code"])  # refused before a number is taken
    second = dx.order(["718-7"])
    assert int(second.placer_number[-6:]) == int(first.placer_number[-6:]) + 1


def test_a_double_click_makes_one_order(dx):
    token = uuid.uuid4()
    first = dx.order(["718-7"], client_token=token)
    again = dx.order(["718-7"], client_token=token)
    assert again.pk == first.pk
    assert DiagnosticOrder.objects.count() == 1


def test_the_due_time_follows_the_priority_and_is_configurable(dx, settings):
    routine = dx.order(["718-7"], priority="routine")
    assert routine.due_at - routine.placed_at == timedelta(days=7)
    settings.FARCARE_DIAGNOSTIC_DUE_MINUTES = {"urgent": 90}
    urgent = dx.order(["718-7"], priority="urgent")
    assert urgent.due_at - urgent.placed_at == timedelta(minutes=90)


def test_what_cannot_be_ordered_is_refused_with_reasons(dx):
    with pytest.raises(ValidationError) as refused:
        dx.order([], reason=" ")
    assert set(refused.value.message_dict) == {"codes", "reason"}
    with pytest.raises(ValidationError) as refused:
        dx.order(["24725-4"])  # a head CT is not a laboratory test
    assert "codes" in refused.value.message_dict
    with pytest.raises(ValidationError):
        dx.order(["718-7"], priority="whenever")


def test_laboratory_staff_do_not_order(dx):
    with pytest.raises(PermissionDenied):
        dx.order(["718-7"], user=dx.district_lab)


def test_a_clinician_outside_the_patients_chain_is_refused_and_it_is_audited(dx):
    stranger = make_user(Role.CLINICIAN, dx.chain.other_region_post)
    with pytest.raises(PermissionDenied):
        dx.order(["718-7"], user=stranger)
    assert AuditEvent.objects.filter(action="denied", patient_uuid=dx.patient.uuid).exists()


def test_imaging_goes_where_the_modality_is(dx):
    xray = dx.order(["36643-5"], category=Category.IMAGING)
    ct = dx.order(["24725-4"], category=Category.IMAGING)
    assert xray.performer == dx.chain.district  # DX at the district hospital
    assert ct.performer == dx.chain.hub  # CT at the regional hub
    assert not xray.specimens.exists()
    assert ct.tests.get().body_site == "head"


def test_the_routing_table_wins_over_the_chain(dx):
    PerformerRoute.objects.create(
        region="Chukotka", category=Category.LABORATORY, performer=dx.chain.hub, rank=0
    )
    assert dx.order(["718-7"]).performer == dx.chain.hub


def test_a_facility_with_its_own_laboratory_performs_its_own_tests(dx):
    order = dx.order(["718-7"], user=dx.district_doctor)
    assert order.performer == dx.chain.district


def test_nowhere_to_send_is_refused(dx, chain):
    lonely = FacilityFactory(region="Magadan")
    doctor = make_user(Role.CLINICIAN, lonely)
    patient = dx.patient
    patient.home_facility = lonely
    patient.save()
    with pytest.raises(ValidationError) as refused:
        dx.order(["718-7"], user=doctor)
    assert "route" in str(refused.value)


def test_the_orderer_cancels_with_a_reason_and_a_stale_form_is_refused(dx):
    order = dx.order(["718-7"])
    accessor = Accessor(dx.feldsher)
    with pytest.raises(ValidationError):
        order_cancel(accessor=accessor, order=order, reason="  ", version=order.version)
    with pytest.raises(StaleVersion):
        order_cancel(accessor=accessor, order=order, reason="Patient evacuated", version=0)
    cancelled = order_cancel(
        accessor=accessor, order=order, reason="Patient evacuated", version=order.version
    )
    assert cancelled.status == OrderStatus.REVOKED
    assert cancelled.note == "Patient evacuated"
    with pytest.raises(PermissionDenied):
        order_cancel(
            accessor=Accessor(dx.district_lab), order=order, reason="x", version=order.version
        )


def test_an_order_with_results_cannot_be_cancelled(dx):
    order = dx.order(["51990-0"])
    report_receive(accessor=Accessor(None, channel="hl7"), report=dx.bmp(order))
    order.refresh_from_db()
    with pytest.raises(ValidationError):
        order_cancel(
            accessor=Accessor(dx.feldsher), order=order, reason="too late", version=order.version
        )


def test_a_consultant_orders_from_the_conclusion_for_the_post_that_asked(dx):
    from farcare.consults.models import Assignment, AssignmentRole, Consultation, Status

    from ..factories import SpecialtyFactory

    cardiology = SpecialtyFactory(code="cardiology")
    consultation = Consultation.objects.create(
        client_token=uuid.uuid4(),
        patient=dx.patient,
        requester=dx.feldsher,
        requesting_facility=dx.chain.post,
        specialty=cardiology,
        form="urgent",
        question="Palpitations: what next?",
        status=Status.IN_PROGRESS,
    )
    cardiologist = make_user(Role.CONSULTANT, dx.chain.hub)
    Assignment.objects.create(
        consultation=consultation,
        consultant=cardiologist,
        facility=dx.chain.hub,
        role=AssignmentRole.PRIMARY,
    )
    order = dx.order(["51990-0"], user=cardiologist, consultation=consultation)
    assert order.orderer == cardiologist and order.consultation == consultation
    # The tubes are taken at the post, so the post's routing applies.
    assert order.ordering_facility == dx.chain.post and order.performer == dx.chain.district
    # Without the consultation, a consultant orders nothing.
    with pytest.raises(PermissionDenied):
        dx.order(["51990-0"], user=cardiologist)
