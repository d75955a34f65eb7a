"""The watch (`farcare monitoring watch`, every minute at the hub): a reading that did not come
alerts after its window; an alert nobody acknowledged escalates to the district doctor(s) and
the region's coordinators, then once more to the coordinators. The clock is moved by `now`."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.core.management import call_command
from django.utils import timezone

from farcare.monitoring.models import AlertStatus, MonitoringAlert
from farcare.monitoring.services.alerts import alert_acknowledge
from farcare.monitoring.watch import watch_monitoring
from farcare.notifications.models import Notification
from farcare.sync.models import StationConfig


def later(hours: float):
    return timezone.now() + timedelta(hours=hours)


def told(alert, event):
    return set(
        Notification.objects.filter(event=event, link__contains=str(alert.uuid)).values_list(
            "recipient__username", flat=True
        )
    )


def test_a_missed_reading_alerts_after_its_window_only(mon):
    mon.bp(132, 84, hours_ago=1)
    assert watch_monitoring(now=later(30)).missed == []  # due after 24 h, 12 h of grace
    report = watch_monitoring(now=later(37))
    (alert,) = MonitoringAlert.objects.filter(kind="missed_reading")
    assert report.missed == [str(alert.uuid)]
    assert (alert.severity, alert.recipient, alert.measure) == ("watch", mon.feldsher, "85354-9")
    assert alert.detail["hours_overdue"] == "14"  # due 24 h after the last reading
    mon.enrolment.refresh_from_db()
    assert "overdue" in mon.enrolment.risk_reason
    # The same gap does not alert twice.
    assert watch_monitoring(now=later(40)).missed == []


def test_never_a_reading_is_missed_from_the_enrolment(mon):
    # Enrolled 20 hours ago: first reading due at 24 h, missed after 36 h.
    assert watch_monitoring(now=later(15)).missed == []
    (missed,) = watch_monitoring(now=later(17)).missed
    assert MonitoringAlert.objects.get(uuid=missed).dedupe_key.endswith("|enrolment")


def test_an_unacknowledged_alert_escalates_then_escalates_again(mon):
    alert = mon.bp(186, 112).alerts[0]  # urgent, to the doctor, 4 hours to acknowledge
    assert watch_monitoring(now=later(3.9)).escalated == []
    report = watch_monitoring(now=later(4.1))
    assert report.escalated == [str(alert.uuid)]
    alert.refresh_from_db()
    assert alert.status == AlertStatus.ESCALATED and alert.escalated_at is not None
    # The district's other doctor and the coordinator, not the recipient again.
    assert told(alert, "monitoring.alert_escalated") == {
        mon.other_doctor.username, mon.coordinator.username,
    }  # fmt: skip
    assert watch_monitoring(now=later(4.5)).escalated_again == []  # 60 minutes later only
    report = watch_monitoring(now=later(5.2))
    assert report.escalated_again == [str(alert.uuid)]
    assert told(alert, "monitoring.alert_escalated_again") == {mon.coordinator.username}
    assert Notification.objects.get(event="monitoring.alert_escalated_again").urgent
    assert watch_monitoring(now=later(9)).escalated_again == []  # once
    alert.refresh_from_db()
    assert [e.event for e in alert.events.all()] == ["raise", "escalate", "escalate_again"]
    # Still acknowledged by whoever acts on it.
    done = alert_acknowledge(accessor=mon.as_(mon.coordinator), alert=alert, note="Doctor called")
    assert done.status == AlertStatus.ACKNOWLEDGED


def test_an_acknowledged_alert_does_not_escalate(mon):
    alert = mon.bp(186, 112).alerts[0]
    alert_acknowledge(accessor=mon.as_(mon.doctor), alert=alert, note="Seen her at the post")
    assert watch_monitoring(now=later(10)).escalated == []
    assert not Notification.objects.filter(event="monitoring.alert_escalated").exists()


def test_at_a_station_the_watch_does_nothing(mon):
    alert = mon.bp(186, 112).alerts[0]
    StationConfig.objects.create(
        hub_url="https://hub.example/", token="t" * 40, station_uuid=uuid.uuid4(),
        name="Uelen post laptop", facility=mon.chain.post,
    )  # fmt: skip
    report = watch_monitoring(now=later(48))
    assert (report.missed, report.escalated) == ([], [])
    alert.refresh_from_db()
    assert alert.status == AlertStatus.OPEN


def test_the_command_takes_a_moved_clock(mon, capsys):
    alert = mon.bp(186, 112).alerts[0]
    call_command("monitoring", "watch", "--now", later(5).isoformat())
    assert f"escalated: {alert.uuid}" in capsys.readouterr().out


# --- escalation follows the person; every recipient may see them --------------------------------


def test_escalation_goes_to_where_the_person_lives_now(mon):
    from farcare.accounts.models import Role

    from ..conftest import make_user

    alert = mon.bp(186, 112).alerts[0]
    sakha_doctor = make_user(Role.CLINICIAN, mon.chain.other_region_hub)
    sakha_coordinator = make_user(Role.COORDINATOR, mon.chain.other_region_hub)
    mon.patient.home_facility = mon.chain.other_region_post  # moved to Yakutia
    mon.patient.save()
    watch_monitoring(now=later(4.1))
    # Not the Chukotka district doctor and coordinator: they no longer reach the person.
    assert told(alert, "monitoring.alert_escalated") == {sakha_coordinator.username}
    watch_monitoring(now=later(5.2))
    assert told(alert, "monitoring.alert_escalated_again") == {sakha_coordinator.username}
    assert sakha_doctor.username not in told(alert, "monitoring.alert_escalated")


def test_with_nobody_to_escalate_to_the_responsible_doctor_is_told_and_it_is_said(mon):
    (alert,) = mon.bp(186, 112).alerts
    mon.other_doctor.is_active = False
    mon.other_doctor.save()
    mon.coordinator.is_active = False
    mon.coordinator.save()
    watch_monitoring(now=later(4.1))
    alert.refresh_from_db()
    assert alert.status == AlertStatus.ESCALATED
    assert told(alert, "monitoring.alert_escalated") == {mon.doctor.username}
    event = alert.events.get(event="escalate")
    assert event.data["told"] == [str(mon.doctor.uuid)]
    assert event.data["fallback"] == "responsible_doctor"


def test_an_escalation_that_tells_nobody_says_so(mon):
    (alert,) = mon.bp(186, 112).alerts
    for user in (mon.other_doctor, mon.coordinator, mon.doctor, mon.feldsher):
        user.is_active = False
        user.save()
    watch_monitoring(now=later(4.1))
    event = alert.events.get(event="escalate")
    assert event.data["told"] == [] and event.data["nobody_told"] is True


def test_an_unreadable_plan_is_reported_not_skipped(mon, caplog):
    from farcare.monitoring.models import Enrolment

    Enrolment.objects.filter(pk=mon.enrolment.pk).update(plan={"thresholds": "broken"})
    with caplog.at_level("WARNING", logger="farcare.monitoring.watch"):
        report = watch_monitoring(now=later(40))
    assert report.unreadable == [str(mon.enrolment.uuid)]
    assert str(mon.enrolment.uuid) in caplog.text
