"""The deadline watcher, with a moved clock: an emergency nobody accepts alerts the coordinator
at one hour and goes up the chain at two."""

from datetime import timedelta

import time_machine
from django.utils import timezone

from farcare.audit.models import AuditEvent
from farcare.audit.services import Accessor
from farcare.consults.deadlines import watch_deadlines
from farcare.consults.models import Status
from farcare.consults.services import consult_accept
from farcare.notifications.models import Notification


def test_an_unaccepted_emergency_alerts_at_one_hour_and_reroutes_at_two(scene):
    start = timezone.now().replace(microsecond=0)
    with time_machine.travel(start, tick=False):
        consultation = scene.submit("emergency")
    assert consultation.assignments.get().consultant == scene.hub_cardiologist

    with time_machine.travel(start + timedelta(minutes=59), tick=False):
        report = watch_deadlines()
    assert report.half_alerts == []

    with time_machine.travel(start + timedelta(minutes=61), tick=False):
        report = watch_deadlines()
    assert report.half_alerts == [str(consultation.uuid)]
    alert = Notification.objects.get(recipient=scene.coordinator, event="consult.half_deadline")
    assert "cardiology" in alert.subject.lower()
    assert scene.patient.family not in alert.body  # no medical secret in an alert
    # the backup consultant is told too
    assert Notification.objects.filter(
        recipient=scene.federal_cardiologist, event="consult.half_deadline"
    ).exists()

    with time_machine.travel(start + timedelta(minutes=90), tick=False):
        assert watch_deadlines().half_alerts == []  # once only

    with time_machine.travel(start + timedelta(minutes=121), tick=False):
        report = watch_deadlines()
    assert report.rerouted == [str(consultation.uuid)]
    consultation.refresh_from_db()
    assert consultation.status == Status.REQUESTED
    assert consultation.routed_facility == scene.chain.federal
    assert [a.consultant for a in consultation.assignments.filter(ended_at__isnull=True)] == [
        scene.federal_cardiologist
    ]
    assert consultation.deadline_at == start + timedelta(minutes=121) + timedelta(hours=2)
    events = list(consultation.transitions.values_list("event", flat=True))
    assert events.count("breached") == 1
    assert "half_deadline" in events
    audited = AuditEvent.objects.filter(patient_uuid=scene.patient.uuid, channel="system")
    assert {e.details["event"] for e in audited} >= {"half_deadline", "rerouted"}


def test_a_request_with_nowhere_left_to_go_fails(scene):
    for user in (scene.federal_cardiologist, scene.partner_cardiologist):
        user.is_active = False
        user.save()
    start = timezone.now().replace(microsecond=0)
    with time_machine.travel(start, tick=False):
        consultation = scene.submit("emergency")
    for minutes in (121, 242):
        with time_machine.travel(start + timedelta(minutes=minutes), tick=False):
            watch_deadlines()
    consultation.refresh_from_db()
    assert consultation.status == Status.FAILED
    assert Notification.objects.filter(recipient=scene.feldsher, event="consult.failed").exists()


def test_an_accepted_but_late_request_stays_and_the_coordinator_is_told(scene):
    start = timezone.now().replace(microsecond=0)
    with time_machine.travel(start, tick=False):
        consultation = scene.submit("emergency")
        consult_accept(accessor=Accessor(scene.hub_cardiologist), consultation=consultation)
    with time_machine.travel(start + timedelta(minutes=130), tick=False):
        report = watch_deadlines()
        watch_deadlines()
    assert report.late == [str(consultation.uuid)]
    consultation.refresh_from_db()
    assert consultation.status == Status.ACCEPTED
    assert consultation.breached_at is not None
    assert (
        Notification.objects.filter(recipient=scene.coordinator, event="consult.breached").count()
        == 1
    )


def test_the_deadline_worker_command_runs_the_watcher(scene):
    import io

    from django.core.management import call_command

    start = timezone.now().replace(microsecond=0)
    with time_machine.travel(start, tick=False):
        consultation = scene.submit("emergency")
    out = io.StringIO()
    with time_machine.travel(start + timedelta(minutes=65), tick=False):
        call_command("consults", "watch", stdout=out)
    assert f"half-deadline alerts: {consultation.uuid}" in out.getvalue()
