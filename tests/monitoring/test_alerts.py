"""The clinician told of an alert acknowledges it (saying what was done), or opens a
teleconsultation request from it in one click: a draft of theirs whose question states the
trend, naming no one."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from farcare.accounts.models import Role
from farcare.audit.models import AuditEvent
from farcare.consults.drafts import draft_to_restore, form_url
from farcare.consults.models import Status
from farcare.monitoring.models import AlertStatus
from farcare.monitoring.selectors import trend_text
from farcare.monitoring.services.alerts import alert_acknowledge, alert_open_consultation
from farcare.monitoring.workflow import MOVES, find_move

from ..conftest import make_user
from ..factories import SpecialtyFactory


@pytest.fixture
def alert(mon):
    return mon.bp(186, 112).alerts[0]


def test_the_recipient_acknowledges_and_the_deadline_stops(mon, alert):
    done = alert_acknowledge(
        accessor=mon.as_(mon.doctor), alert=alert, note="Called her: extra amlodipine",
        expected_version=alert.version,
    )  # fmt: skip
    assert done.status == AlertStatus.ACKNOWLEDGED and done.acknowledged_by == mon.doctor
    assert done.ack_note == "Called her: extra amlodipine" and done.acknowledged_at is not None
    assert [e.event for e in done.events.all()] == ["raise", "acknowledge"]
    assert AuditEvent.objects.filter(
        record_id=str(alert.uuid), action="update", patient_uuid=mon.patient.uuid
    ).exists()
    mon.enrolment.refresh_from_db()
    assert not mon.enrolment.risk_reason.startswith("alert")


def test_an_acknowledged_alert_cannot_be_acknowledged_again(mon, alert):
    alert_acknowledge(accessor=mon.as_(mon.doctor), alert=alert, note="Seen")
    with pytest.raises(ValidationError) as refused:
        alert_acknowledge(accessor=mon.as_(mon.feldsher), alert=alert, note="Seen too")
    assert refused.value.messages == ["This alert was already acknowledged."]


def test_acknowledging_checks_the_version(mon, alert):
    with pytest.raises(ValidationError) as stale:
        alert_acknowledge(
            accessor=mon.as_(mon.doctor), alert=alert, note="Seen",
            expected_version=alert.version + 1,
        )  # fmt: skip
    assert stale.value.code == "stale"


def test_a_clinician_who_reaches_the_patient_may_acknowledge_but_not_a_stranger(mon, alert):
    stranger = make_user(Role.CLINICIAN, mon.chain.other_region_post)
    with pytest.raises(PermissionDenied):
        alert_acknowledge(accessor=mon.as_(stranger), alert=alert, note="?")
    assert AuditEvent.objects.filter(actor_uuid=stranger.uuid, outcome="denied").exists()
    with pytest.raises(PermissionDenied):
        alert_acknowledge(accessor=mon.as_(mon.patient_user), alert=alert, note="I'm fine")
    done = alert_acknowledge(accessor=mon.as_(mon.other_doctor), alert=alert, note="Seen")
    assert done.acknowledged_by == mon.other_doctor


def test_a_note_is_required(mon, alert):
    with pytest.raises(ValidationError, match="what was done"):
        alert_acknowledge(accessor=mon.as_(mon.doctor), alert=alert, note="  ")


def test_the_state_machine_is_data():
    assert find_move("open", "acknowledge").target == "acknowledged"
    assert find_move("acknowledged", "acknowledge") is None
    assert find_move("escalated", "escalate_again").target == "escalated"
    assert find_move("escalated", "reassign").target == "escalated"
    assert {m.event for m in MOVES} == {
        "acknowledge", "escalate", "escalate_again", "close", "reassign",
    }  # fmt: skip


def test_the_trend_in_words_names_no_one(mon):
    for systolic, diastolic, hours in ((152, 94, 50), (163, 101, 30), (171, 104, 20)):
        mon.bp(systolic, diastolic, hours_ago=hours)
    mon.bp(186, 112)
    text = trend_text(mon.enrolment, language="en", measure="85354-9")
    assert text == (
        "Home blood pressure over 7 days: 152/94 → 186/112 mmHg, "
        "3 of 4 readings at or above 160/100 (lowest 152/94, highest 186/112)."
    )


def test_one_click_opens_a_draft_request_with_the_trend(mon):
    SpecialtyFactory(code="cardiology")
    mon.bp(163, 101, hours_ago=3)
    alert = mon.bp(186, 112).alerts[0]
    draft = alert_open_consultation(accessor=mon.as_(mon.doctor), alert=alert)
    assert draft.status == Status.DRAFT and draft.requester == mon.doctor
    assert draft.patient == mon.patient and draft.specialty.code == "cardiology"
    assert draft.form == "urgent"
    assert draft.question.startswith("Home blood pressure over 7 days: 163/101 → 186/112 mmHg")
    assert mon.patient.family not in draft.question and mon.patient.given not in draft.question
    assert {v.key: v.value for v in draft.vitals.all()} == {
        "systolic_bp": "186", "diastolic_bp": "112",
    }  # fmt: skip
    alert.refresh_from_db()
    assert alert.consultation == draft
    # The request form opens with it, and a second click gives the same draft back.
    assert draft_to_restore(mon.doctor, mon.patient, {}) == draft
    assert form_url(draft).endswith(f"?draft={draft.uuid}")
    assert alert_open_consultation(accessor=mon.as_(mon.doctor), alert=alert) == draft


def test_only_a_clinician_opens_a_request(mon, alert):
    SpecialtyFactory(code="cardiology")
    with pytest.raises(PermissionDenied):
        alert_open_consultation(accessor=mon.as_(mon.coordinator), alert=alert)


def test_the_deadline_follows_the_severity(mon, alert, settings):
    assert alert.ack_deadline - alert.raised_at == timedelta(minutes=240)
    settings.FARCARE_MONITORING_ACK_MINUTES = {"watch": 600}
    mon.bp(165, 102, hours_ago=3)
    mon.bp(128, 80, hours_ago=2)
    mon.bp(165, 102, hours_ago=1)
    (watch,) = mon.bp(166, 103).alerts
    assert watch.ack_deadline - watch.raised_at == timedelta(minutes=600)


# --- replacing a responsible clinician; acknowledging after an escalation -----------------------


def test_replacing_the_doctor_passes_the_open_alerts_to_the_new_one(mon, alert):
    from farcare.monitoring.services.enrolment import enrolment_update
    from farcare.notifications.models import Notification

    assert alert.recipient == mon.doctor
    enrolment_update(
        accessor=mon.as_(mon.doctor), enrolment=mon.enrolment,
        expected_version=mon.enrolment.version, responsible_doctor=mon.other_doctor,
    )  # fmt: skip
    alert.refresh_from_db()
    assert alert.recipient == mon.other_doctor and alert.status == AlertStatus.OPEN
    (event,) = alert.events.filter(event="reassign")
    assert event.data == {"from": str(mon.doctor.uuid), "to": str(mon.other_doctor.uuid)}
    assert Notification.objects.filter(
        recipient=mon.other_doctor, event="monitoring.alert_reassigned",
        link__contains=str(alert.uuid),
    ).exists()  # fmt: skip
    # The new doctor acknowledges from the page opened before the change.
    done = alert_acknowledge(
        accessor=mon.as_(mon.other_doctor), alert=alert, note="Called", expected_version=1
    )
    assert done.status == AlertStatus.ACKNOWLEDGED


def test_an_alert_goes_to_the_other_named_clinician_when_one_has_left(mon):
    mon.doctor.is_active = False
    mon.doctor.save()
    (alert,) = mon.bp(186, 112).alerts  # urgent: the doctor's, but the doctor has left
    assert alert.recipient == mon.feldsher


def test_an_escalation_does_not_make_the_acknowledgement_stale(mon, alert):
    from django.utils import timezone

    from farcare.monitoring.watch import watch_monitoring

    opened_at_version = alert.version
    watch_monitoring(now=timezone.now() + timedelta(hours=4.1))
    watch_monitoring(now=timezone.now() + timedelta(hours=5.2))
    alert.refresh_from_db()
    assert alert.status == AlertStatus.ESCALATED and alert.version == opened_at_version + 2
    done = alert_acknowledge(
        accessor=mon.as_(mon.doctor), alert=alert, note="Called her back",
        expected_version=opened_at_version,
    )  # fmt: skip
    assert done.status == AlertStatus.ACKNOWLEDGED
    with pytest.raises(ValidationError) as refused:
        alert_acknowledge(
            accessor=mon.as_(mon.other_doctor), alert=alert, note="Me too",
            expected_version=opened_at_version,
        )  # fmt: skip
    assert refused.value.messages == ["This alert was already acknowledged."]


def test_at_a_station_an_alert_is_acknowledged_at_the_hub_not_here(mon, alert, client):
    """A station's alert is the hub's copy: an acknowledgement kept at the station would never
    reach the hub, which would go on escalating it. The page says where to do it."""
    import uuid

    from farcare.sync.models import StationConfig

    from ..conftest import logged_in

    StationConfig.objects.create(
        hub_url="https://hub.example/",
        token="t" * 40,
        station_uuid=uuid.uuid4(),
        name="Uelen post laptop",
        facility=mon.feldsher.facility,
    )
    with pytest.raises(ValidationError, match="acknowledged at the hub"):
        alert_acknowledge(accessor=mon.as_(mon.doctor), alert=alert, note="Called her")
    alert.refresh_from_db()
    assert alert.status == AlertStatus.OPEN
    page = logged_in(mon.doctor).get(f"/monitoring/alerts/{alert.uuid}/").content.decode()
    assert 'data-testid="ack-at-hub"' in page and 'data-testid="acknowledge"' not in page
