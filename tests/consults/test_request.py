"""A feldsher asks; the request gets its form's deadline, a NEWS2 score and a consultant."""

import uuid
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from farcare.accounts.models import Role
from farcare.audit.models import AuditAction, AuditEvent
from farcare.consults.models import Consultation, DeadlinePolicy, Status
from farcare.patients.models import Consent

from ..conftest import make_user

DETERIORATING = {
    "respiratory_rate": 25,
    "spo2": 91,
    "spo2_scale": 1,
    "on_oxygen": False,
    "systolic_bp": 90,
    "heart_rate": 131,
    "consciousness": "C",
    "temperature": 39.1,
}


def test_an_emergency_request_is_answered_within_two_hours_by_the_hub(scene):
    consultation = scene.submit("emergency", vitals=DETERIORATING)
    assert consultation.status == Status.REQUESTED
    assert consultation.deadline_at - consultation.received_at == timedelta(hours=2)
    assert consultation.news2_total == 17
    assert consultation.suggested_form == "emergency"
    assert consultation.fhir_priority == "stat"
    assignee = consultation.assignments.get(ended_at__isnull=True)
    assert assignee.consultant == scene.hub_cardiologist
    codes = set(consultation.vitals.values_list("loinc", flat=True))
    assert {"9279-1", "59408-5", "8480-6", "8867-4", "8310-5"} <= codes
    assert AuditEvent.objects.filter(
        action=AuditAction.CREATE, patient_uuid=scene.patient.uuid, record_type="Consultation"
    ).exists()


@pytest.mark.parametrize(("form", "hours"), [("urgent", 24), ("planned", 24 * 7)])
def test_each_form_has_its_deadline(scene, form, hours):
    consultation = scene.submit(form)
    assert consultation.deadline_at - consultation.received_at == timedelta(hours=hours)


def test_an_administrator_changes_a_deadline(scene):
    DeadlinePolicy.objects.update_or_create(form="urgent", defaults={"minutes": 180})
    consultation = scene.submit("urgent")
    assert consultation.deadline_at - consultation.received_at == timedelta(hours=3)


def test_submitting_twice_makes_one_request(scene):
    token = uuid.uuid4()
    first = scene.submit(token=token)
    second = scene.submit(token=token)
    assert first.pk == second.pk
    assert Consultation.objects.count() == 1
    assert first.assignments.count() == 1


def test_a_planned_request_needs_the_teleconsultation_consent(scene):
    Consent.objects.all().delete()
    with pytest.raises(ValidationError) as refused:
        scene.submit("planned")
    assert "consent" in str(refused.value)
    assert not Consultation.objects.exists()
    # an emergency may go without it (care without consent where the law allows)
    assert scene.submit("emergency").status == Status.REQUESTED


def test_a_question_is_required(scene):
    with pytest.raises(ValidationError) as refused:
        scene.submit(question="  ")
    assert "question" in refused.value.message_dict
    assert not Consultation.objects.exists()


def test_only_clinicians_with_access_to_the_patient_may_ask(scene):
    stranger = make_user(Role.CLINICIAN, scene.chain.other_region_post)
    scene.feldsher = stranger
    with pytest.raises(PermissionDenied):
        scene.submit()
    assert not Consultation.objects.exists()
