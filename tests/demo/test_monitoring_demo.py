"""The demo shows remote monitoring at work (issue 17): four people of Chukotka followed at home
for two weeks, one alert open, one acknowledged, one escalated, SMS readings with their replies,
all in Russian where a Russian page shows it; loading twice changes nothing."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from farcare.accounts.models import User
from farcare.demo.monitoring import PREGNANCY_PHONE, load_monitoring
from farcare.monitoring.models import (
    AlertStatus,
    Enrolment,
    HomeReading,
    MonitoringAlert,
    ReadingSource,
    SmsMessage,
    SmsOutcome,
)
from farcare.monitoring.selectors import enrolments_for


def test_the_demo_follows_four_people_with_alerts_in_each_state(demo_network):
    enrolments = Enrolment.objects.filter(status="active")
    assert set(enrolments.values_list("programme", flat=True)) == {
        "hypertension",
        "pregnancy",
        "heart_failure",
        "diabetes",
    }
    for enrolment in enrolments:
        readings = HomeReading.objects.filter(patient=enrolment.patient)
        first = readings.order_by("taken_at").first()
        assert first is not None
        assert timezone.now() - first.taken_at > timedelta(days=12)  # two weeks of history
        assert enrolment.last_reading_at is not None
        assert enrolment.responsible_doctor.username == "doctor"
    statuses = {alert.enrolment.programme: alert.status for alert in MonitoringAlert.objects.all()}
    assert statuses == {
        "hypertension": AlertStatus.OPEN,
        "pregnancy": AlertStatus.ACKNOWLEDGED,
        "heart_failure": AlertStatus.ESCALATED,
    }
    trend = MonitoringAlert.objects.get(enrolment__programme="heart_failure")
    assert trend.kind == "trend"
    acknowledged = MonitoringAlert.objects.get(status=AlertStatus.ACKNOWLEDGED)
    assert "Позвонил" in acknowledged.ack_note  # shown on Russian pages


def test_sms_readings_came_from_the_registered_phone_and_were_answered(demo_network):
    messages = SmsMessage.objects.filter(sender=PREGNANCY_PHONE)
    assert messages.count() == 4
    assert set(messages.values_list("outcome", flat=True)) == {SmsOutcome.ACCEPTED}
    assert all(message.reply_text for message in messages)
    assert HomeReading.objects.filter(source=ReadingSource.SMS).count() >= 4


def test_the_district_doctor_sees_the_risk_list_riskiest_first(demo_network):
    listed = list(enrolments_for(User.objects.get(username="doctor")))
    assert len(listed) == 4
    assert listed[0].risk >= listed[-1].risk
    assert listed[-1].programme == "diabetes"  # no alert, readings on time


def test_loading_the_demo_monitoring_twice_changes_nothing(demo_network):
    counts = (
        Enrolment.objects.count(),
        HomeReading.objects.count(),
        MonitoringAlert.objects.count(),
        SmsMessage.objects.count(),
    )
    load_monitoring()
    assert counts == (
        Enrolment.objects.count(),
        HomeReading.objects.count(),
        MonitoringAlert.objects.count(),
        SmsMessage.objects.count(),
    )
