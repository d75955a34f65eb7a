"""After the result went out: the laboratory corrects a value the patient has already read, and
both the patient (with nothing medical in the SMS) and the feldsher who ordered it are told; a
critical potassium corrected to a normal one keeps its alert open, showing the correction,
until someone acknowledges it; and an alert nobody acknowledged even after the first escalation
reaches the region's coordinators again, urgently by SMS, half an hour later."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from farcare.audit.models import AuditEvent
from farcare.audit.services import Accessor
from farcare.diagnostics.models import AlertStatus, CriticalAlert
from farcare.diagnostics.services.critical import critical_acknowledge
from farcare.diagnostics.services.results import report_receive
from farcare.diagnostics.watch import watch_diagnostics
from farcare.notifications.channels import sms_text
from farcare.notifications.models import Channel, Delivery
from farcare.notifications.services import preference_for

from ..conftest import logged_in
from .scene import make_scene

HL7 = Accessor(None, channel="hl7")
MEDICAL = ("potassium", "калий", "칼륨", "5.6", "4.6", "51990", "metabolic", "high", "corrected")


@pytest.fixture
def dx(chain):
    return make_scene(chain)


def with_sms(user, phone: str) -> None:
    preference = preference_for(user)
    preference.sms_enabled, preference.phone = True, phone
    preference.save()


def test_a_correction_of_a_released_result_tells_the_patient_and_the_orderer_again(dx):
    with_sms(dx.patient_user, "+79140000001")
    order = dx.order(["51990-0"])
    report_receive(accessor=HL7, report=dx.bmp(order, potassium="5.6", external_id="M1"))
    assert len(dx.notifications(dx.patient_user, "diagnostics.result_ready")) == 1
    assert not dx.notifications(dx.patient_user, "diagnostics.result_updated")

    report_receive(
        accessor=HL7, report=dx.bmp(order, potassium="4.6", status="C", external_id="M2")
    )

    [updated] = dx.notifications(dx.patient_user, "diagnostics.result_updated")
    assert updated.subject == "Your result was updated"
    assert updated.link == "/my/results/"
    assert Delivery.objects.filter(notification=updated, channel=Channel.SMS).exists()
    for language in ("ru", "ko", "en"):
        updated.subject, updated.body = updated.texts[language]
        text = sms_text(updated).casefold()
        for medical in MEDICAL:
            assert medical not in text, (language, text)
    # Still one "ready": the correction is an update, not a new result.
    assert len(dx.notifications(dx.patient_user, "diagnostics.result_ready")) == 1
    [corrected] = dx.notifications(dx.feldsher, "diagnostics.results_corrected")
    assert order.placer_number in corrected.subject
    assert corrected.link == f"/diagnostics/orders/{order.uuid}/"
    assert dx.patient.family not in corrected.body


def test_a_correction_before_release_tells_nobody_of_an_update(dx):
    order = dx.order(["51990-0"])
    report_receive(accessor=HL7, report=dx.bmp(order, status="P", external_id="M1"))
    report_receive(accessor=HL7, report=dx.bmp(order, status="F", external_id="M2"))
    assert not dx.notifications(dx.patient_user, "diagnostics.result_updated")
    assert not dx.notifications(dx.feldsher, "diagnostics.results_corrected")
    assert len(dx.notifications(dx.patient_user, "diagnostics.result_ready")) == 1


def test_a_critical_value_corrected_to_normal_keeps_its_alert_open_showing_the_correction(dx):
    order = dx.order(["51990-0"], priority="stat")
    report_receive(accessor=HL7, report=dx.bmp(order, potassium="7.1", external_id="M1"))
    alert = CriticalAlert.objects.get()

    report_receive(
        accessor=HL7, report=dx.bmp(order, potassium="4.6", status="C", external_id="M2")
    )

    alert.refresh_from_db()
    assert alert.status == AlertStatus.OPEN and alert.acknowledged_at is None
    assert CriticalAlert.objects.count() == 1  # the normal value raises nothing new
    assert dx.notifications(dx.feldsher, "diagnostics.results_corrected")
    page = logged_in(dx.feldsher).get(reverse("diagnostics:alert", args=[alert.uuid]))
    text = page.content.decode()
    assert page.status_code == 200
    assert 'data-testid="alert-correction"' in text
    assert "The laboratory corrected this value" in text and "4.6" in text
    assert "no longer critical, but the alert stays open" in text
    listed = logged_in(dx.feldsher).get(reverse("diagnostics:alerts")).content.decode()
    assert 'data-testid="alert-corrected"' in listed
    # It still escalates when nobody acknowledges it.
    assert watch_diagnostics(alert.ack_deadline + timedelta(seconds=1)).escalated == [
        str(alert.uuid)
    ]


def test_still_unacknowledged_after_escalation_it_reaches_the_coordinators_again(dx, time_machine):
    with_sms(dx.coordinator, "+79140000002")
    raised = datetime(2026, 12, 6, 2, 0, tzinfo=UTC)
    time_machine.move_to(raised, tick=False)
    order = dx.order(["51990-0"], priority="stat")
    report_receive(accessor=HL7, report=dx.bmp(order, potassium="7.1"))
    alert = CriticalAlert.objects.get()

    time_machine.move_to(raised + timedelta(minutes=31), tick=False)
    first = watch_diagnostics()
    assert first.escalated == [str(alert.uuid)] and first.escalated_again == []
    assert not dx.notifications(dx.coordinator, "diagnostics.critical_escalated_again")

    time_machine.move_to(raised + timedelta(minutes=60), tick=False)
    assert watch_diagnostics().escalated_again == []  # 29 minutes after the first escalation

    time_machine.move_to(raised + timedelta(minutes=62), tick=False)
    second = watch_diagnostics()
    assert second.escalated_again == [str(alert.uuid)]
    alert.refresh_from_db()
    assert alert.status == AlertStatus.ESCALATED
    assert alert.escalated_again_at == raised + timedelta(minutes=62)
    [again] = dx.notifications(dx.coordinator, "diagnostics.critical_escalated_again")
    assert again.urgent and order.placer_number in again.subject
    sms = Delivery.objects.get(notification=again, channel=Channel.SMS)
    assert sms.address == "+79140000002"
    assert dx.patient.family not in sms_text(again)
    assert not dx.notifications(dx.district_doctor, "diagnostics.critical_escalated_again")
    assert AuditEvent.objects.filter(
        record_type="CriticalAlert", details__event="escalated_again"
    ).exists()

    # Once only; and the alert page says so.
    time_machine.move_to(raised + timedelta(hours=3), tick=False)
    assert watch_diagnostics().escalated_again == []
    page = logged_in(dx.coordinator).get(reverse("diagnostics:alert", args=[alert.uuid]))
    assert 'data-testid="escalated-again"' in page.content.decode()


def test_the_second_deadline_is_configurable_and_acknowledgement_stops_it(dx, settings):
    settings.FARCARE_CRITICAL_SECOND_ESCALATION_MINUTES = 10
    order = dx.order(["51990-0"], priority="stat")
    report_receive(accessor=HL7, report=dx.bmp(order, potassium="7.1"))
    alert = CriticalAlert.objects.get()
    escalated = alert.ack_deadline + timedelta(seconds=1)
    watch_diagnostics(escalated)
    assert watch_diagnostics(escalated + timedelta(minutes=11)).escalated_again == [str(alert.uuid)]

    order2 = dx.order(["51990-0"], priority="stat")
    report_receive(
        accessor=HL7, report=dx.bmp(order2, potassium="7.2", external_id="L2", filler_number="F-78")
    )
    other = CriticalAlert.objects.exclude(pk=alert.pk).get()
    watch_diagnostics(other.ack_deadline + timedelta(seconds=1))
    other.refresh_from_db()
    critical_acknowledge(
        accessor=Accessor(dx.district_doctor),
        alert=other,
        action_taken="Called the post; ECG, calcium gluconate",
        version=other.version,
    )
    assert watch_diagnostics(other.ack_deadline + timedelta(hours=2)).escalated_again == []
