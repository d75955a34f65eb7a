"""Readings come in from the post, the person's own page, devices and SMS; each is checked,
stored once, audited, and evaluated against every active plan of the person: a threshold, a
repeated threshold and a weight trend each alert the responsible clinician, once per episode."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from farcare.access.services import PatientAccessDenied
from farcare.accounts.models import Role
from farcare.audit.models import AuditEvent
from farcare.audit.services import Accessor
from farcare.monitoring.measures import Code
from farcare.monitoring.models import HomeReading, MonitoringAlert, ReadingSource, ReadingStatus
from farcare.monitoring.services.readings import ReadingIn, reading_mark_in_error
from farcare.notifications.models import Notification

from ..conftest import make_user


def test_a_reading_is_stored_audited_and_dates_the_enrolment(mon):
    result = mon.bp(142, 88, hours_ago=1)
    reading = result.readings[0]
    assert (reading.code, reading.value, reading.value_2, reading.unit) == (
        "85354-9", Decimal(142), Decimal(88), "mm[Hg]",
    )  # fmt: skip
    assert reading.entered_by == mon.feldsher and reading.source == ReadingSource.CLINICIAN
    assert result.alerts == [] and not result.duplicate
    audit = AuditEvent.objects.get(record_type="HomeReading", record_id=str(reading.uuid))
    assert audit.patient_uuid == mon.patient.uuid and audit.action == "create"
    mon.enrolment.refresh_from_db()
    assert mon.enrolment.last_reading_at == reading.taken_at
    assert mon.enrolment.risk_reason == "outside_target"  # 142 is above the 135 target


@pytest.mark.parametrize(
    ("reading", "message"),
    [
        (ReadingIn("85354-9", Decimal(900), Decimal(90)), "cannot be real"),
        (ReadingIn("85354-9", Decimal(80), Decimal(120)), "upper number must be above"),
        (ReadingIn("85354-9", Decimal(150)), "both numbers"),
        (ReadingIn("8310-5", Decimal(378)), "body temperature: the value cannot be real"),
        (ReadingIn("8310-5", Decimal("37.85")), "too many decimals"),
        (ReadingIn("14743-9", Decimal(5), Decimal(5)), "is one number"),
        (ReadingIn("1234-5", Decimal(5)), "Unknown measure"),
    ],
)
def test_implausible_readings_are_refused_naming_the_measure(mon, reading, message):
    with pytest.raises(ValidationError) as refused:
        mon.record(reading)
    assert message in " ".join(refused.value.messages)
    assert not HomeReading.objects.exists()


def test_a_device_saying_150_point_0_is_150(mon):
    reading = mon.record(ReadingIn("85354-9", Decimal("150.0"), Decimal("90.00"))).readings[0]
    assert reading.value == Decimal(150) and reading.value_2 == Decimal(90)


def test_readings_in_the_future_or_too_old_are_refused(mon):
    with pytest.raises(ValidationError, match="future"):
        mon.bp(140, 90, hours_ago=-1)
    with pytest.raises(ValidationError, match="older than 30 days"):
        mon.bp(140, 90, hours_ago=24 * 31)


def test_a_retry_with_the_same_source_id_is_not_stored_or_alerted_twice(mon):
    first = mon.record(
        ReadingIn("85354-9", Decimal(190), Decimal(115)),
        ReadingIn("8867-4", Decimal(88)),
        source=ReadingSource.DEVICE,
        source_id="obs-42",
        device="Omron M3",
    )
    assert len(first.readings) == 2 and len(first.alerts) == 1
    again = mon.record(
        ReadingIn("85354-9", Decimal(190), Decimal(115)),
        ReadingIn("8867-4", Decimal(88)),
        source=ReadingSource.DEVICE,
        source_id="obs-42",
    )
    assert again.duplicate and again.alerts == []
    assert [r.pk for r in again.readings] == [r.pk for r in first.readings]
    assert HomeReading.objects.count() == 2 and MonitoringAlert.objects.count() == 1


def test_the_person_records_their_own_reading_but_a_stranger_may_not(mon):
    own = mon.bp(130, 80, by=mon.patient_user, source=ReadingSource.PATIENT)
    assert own.readings[0].entered_by == mon.patient_user
    stranger = make_user(Role.CLINICIAN, mon.chain.other_region_post)
    with pytest.raises(PatientAccessDenied):
        mon.bp(130, 80, by=stranger)
    assert AuditEvent.objects.filter(actor_uuid=stranger.uuid, outcome="denied").exists()


def test_an_sms_reading_needs_no_user_and_is_audited_on_the_sms_channel(mon):
    result = mon.record(
        ReadingIn("85354-9", Decimal(150), Decimal(95)),
        accessor=Accessor(None, None, "sms"),
        source=ReadingSource.SMS,
        source_id="sms:gw-1",
    )
    assert result.readings[0].entered_by is None
    audit = AuditEvent.objects.get(record_id=str(result.readings[0].uuid))
    assert audit.channel == "sms" and audit.patient_uuid == mon.patient.uuid


def test_a_threshold_alerts_the_responsible_doctor_with_a_deadline(mon):
    before = timezone.now()
    result = mon.bp(186, 112)
    (alert,) = result.alerts
    assert (alert.kind, alert.severity, alert.rule, alert.measure) == (
        "threshold", "urgent", "bp_at_once", Code.BP_PANEL.value,
    )  # fmt: skip
    assert alert.recipient == mon.doctor
    assert before + timedelta(minutes=239) < alert.ack_deadline < before + timedelta(minutes=241)
    assert list(alert.readings.all()) == result.readings
    assert alert.events.get().event == "raise"
    assert AuditEvent.objects.filter(record_id=str(alert.uuid), patient_uuid=mon.patient.uuid)
    mon.enrolment.refresh_from_db()
    assert mon.enrolment.risk >= 60 and mon.enrolment.risk_reason.startswith("alert_urgent")


def test_the_alert_message_names_the_measure_and_links_to_the_alert_never_the_person(mon):
    alert = mon.bp(186, 112).alerts[0]
    note = Notification.objects.get(recipient=mon.doctor)
    assert note.link == f"/monitoring/alerts/{alert.uuid}/"
    assert "blood pressure" in note.subject and "urgent" in note.subject
    for text in (note.subject, note.body, *(text for pair in note.texts.values() for text in pair)):
        assert mon.patient.family not in text and mon.patient.given not in text
    assert not note.urgent  # urgent notifications are for critical alerts


def test_a_critical_alert_is_sent_urgently(mon):
    pregnancy = mon.enrol("pregnancy")
    alert = mon.bp(165, 112).alerts
    critical = [a for a in alert if a.enrolment == pregnancy]
    assert [a.severity for a in critical] == ["critical"]
    assert Notification.objects.get(
        recipient=mon.doctor, link__contains=str(critical[0].uuid)
    ).urgent


def test_a_repeated_threshold_alerts_on_the_second_reading_only_and_once(mon):
    assert mon.bp(165, 102, hours_ago=5).alerts == []
    (alert,) = mon.bp(168, 101, hours_ago=3).alerts
    assert (alert.kind, alert.severity, alert.recipient) == (
        "repeated_threshold", "watch", mon.feldsher,
    )  # fmt: skip
    assert mon.bp(170, 104, hours_ago=2).alerts == []  # the same run: the same episode
    assert mon.bp(128, 82, hours_ago=1).alerts == []  # a normal reading ends it
    assert mon.bp(166, 100, hours_ago=0.5).alerts == []
    (again,) = mon.bp(171, 103).alerts  # a new run: a new episode
    assert again.dedupe_key != alert.dedupe_key
    assert MonitoringAlert.objects.filter(rule="bp_repeated").count() == 2


def test_a_crisis_in_a_run_alerts_once_as_the_crisis(mon):
    mon.bp(165, 102, hours_ago=2)
    (crisis,) = mon.bp(192, 118).alerts
    assert crisis.rule == "bp_at_once"
    assert MonitoringAlert.objects.count() == 1


def test_weight_up_two_kilos_in_three_days_alerts_in_heart_failure(mon):
    hf = mon.enrol("heart_failure", at=timezone.now() - timedelta(days=4))

    def trends(result):
        # Weights typed in afterwards also show the days they were missed: only trends here.
        return [a for a in result.alerts if a.kind == "trend"]

    assert trends(mon.weight("71.0", hours_ago=72)) == []
    assert trends(mon.weight("71.8", hours_ago=48)) == []
    assert trends(mon.weight("72.4", hours_ago=24)) == []
    (trend,) = trends(mon.weight("73.2"))
    assert (trend.kind, trend.enrolment, trend.recipient) == ("trend", hf, mon.doctor)
    assert trend.detail["gain"] == "2.2"
    assert trends(mon.weight("73.4")) == []  # still measured from 71.0: the same episode


def test_readings_in_error_no_longer_count(mon):
    reading = mon.bp(150, 95).readings[0]
    marked = reading_mark_in_error(accessor=mon.as_(), reading=reading, reason="Typed 150 for 130")
    assert marked.status == ReadingStatus.ENTERED_IN_ERROR
    mon.enrolment.refresh_from_db()
    assert mon.enrolment.risk_reason != "outside_target"
    with pytest.raises(ValidationError, match="already marked"):
        reading_mark_in_error(accessor=mon.as_(), reading=reading, reason="again")


# --- one episode, one alert ---------------------------------------------------------------------


def test_an_earlier_reading_typed_in_later_does_not_alert_the_episode_again(mon):
    (first,) = mon.bp(186, 112, hours_ago=1).alerts
    late = mon.bp(190, 115, hours_ago=3)  # taken before, entered after: the run now starts there
    assert late.alerts == []
    assert MonitoringAlert.objects.filter(rule="bp_at_once").count() == 1
    assert MonitoringAlert.objects.get().pk == first.pk


def test_a_weight_that_stays_up_alerts_once_as_the_window_slides(mon):
    mon.enrol("heart_failure", at=timezone.now() - timedelta(days=8))
    alerts = []
    for kg, days_ago in (("70.0", 5), ("70.5", 4), ("71.0", 3), ("72.0", 2), ("72.5", 1)):
        alerts += mon.weight(kg, hours_ago=24 * days_ago).alerts
    gains = [a for a in alerts if a.kind == "trend"]
    assert len(gains) == 1  # 70 → 72, then the same gain held
    # Down again and up again: a new gain, a new alert.
    mon.weight("70.0", hours_ago=0.5)
    assert [a.rule for a in mon.weight("72.5", hours_ago=0.1).alerts if a.kind == "trend"] == [
        "weight_gain"
    ]
