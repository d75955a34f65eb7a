"""A critical potassium reaches the feldsher who ordered it at once, by every channel; if
nobody acknowledges it in 30 minutes the district doctor and the coordinator are told."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from importlib import import_module
from io import StringIO

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.utils import timezone

from farcare.audit.models import AuditEvent
from farcare.audit.services import Accessor
from farcare.diagnostics.inbound import LabReportIn, ResultIn
from farcare.diagnostics.models import AlertKind, AlertStatus, CriticalAlert, CriticalLimit
from farcare.diagnostics.selectors import open_alerts
from farcare.diagnostics.services.critical import critical_acknowledge
from farcare.diagnostics.services.results import report_receive
from farcare.diagnostics.watch import watch_diagnostics
from farcare.notifications.models import Channel, Delivery
from farcare.notifications.services import preference_for

from .scene import make_scene

HL7 = Accessor(None, channel="hl7")


@pytest.fixture
def dx(chain):
    return make_scene(chain)


def critical_potassium(dx, value: str = "7.1"):
    order = dx.order(["51990-0"], priority="stat")
    outcome = report_receive(accessor=HL7, report=dx.bmp(order, potassium=value))
    return order, outcome


def test_the_defaults_of_the_reference_are_loaded_by_migration(db):
    if not CriticalLimit.objects.filter(facility__isnull=True).exists():
        # A transactional test earlier in this worker flushed what the migration loaded: load
        # it again with the migration's own function, which is what is under test.
        from django.apps import apps

        migration = import_module("farcare.diagnostics.migrations.0003_default_critical_limits")
        migration.load(apps, None)
    defaults = {
        row.code: (row.low, row.high) for row in CriticalLimit.objects.filter(facility__isnull=True)
    }
    assert defaults["2823-3"] == (Decimal("2.8"), Decimal("6.2"))
    assert defaults["718-7"] == (Decimal("70"), None)
    assert defaults["6301-6"] == (None, Decimal("5"))


def test_a_critical_potassium_alerts_the_orderer_at_once_by_every_channel(dx):
    dx.feldsher.email = "feldsher@uelen.example"
    dx.feldsher.save()
    preference = preference_for(dx.feldsher)
    preference.sms_enabled, preference.phone = True, "+79140000000"
    preference.save()
    order, outcome = critical_potassium(dx)
    assert outcome.critical == 1
    alert = CriticalAlert.objects.get()
    assert alert.kind == AlertKind.CRITICAL and alert.status == AlertStatus.OPEN
    assert alert.recipient == dx.feldsher
    assert alert.observation.interpretation == "HH"
    assert alert.ack_deadline - alert.raised_at == timedelta(minutes=30)
    [told] = dx.notifications(dx.feldsher, "diagnostics.critical")
    assert told.urgent
    assert "Potassium" in told.subject and order.placer_number in told.subject
    assert dx.patient.family not in told.body  # the patient is never named in a message
    assert set(Delivery.objects.filter(notification=told).values_list("channel", flat=True)) == {
        Channel.EMAIL,
        Channel.SMS,
    }
    assert list(open_alerts(dx.feldsher)) == [alert]


def test_a_value_on_the_limit_is_not_critical(dx):
    _order, outcome = critical_potassium(dx, "6.2")
    assert outcome.critical == 0 and not CriticalAlert.objects.exists()


def test_acknowledgement_records_the_action_and_the_time_it_took(dx):
    critical_potassium(dx)
    alert = CriticalAlert.objects.get()
    accessor = Accessor(dx.feldsher)
    with pytest.raises(ValidationError):
        critical_acknowledge(accessor=accessor, alert=alert, action_taken=" ", version=1)
    done = critical_acknowledge(
        accessor=accessor,
        alert=alert,
        action_taken="ECG done, calcium gluconate given, evacuation requested",
        version=alert.version,
    )
    assert done.status == AlertStatus.ACKNOWLEDGED and done.acknowledged_by == dx.feldsher
    assert timedelta(0) <= done.time_to_acknowledge < timedelta(minutes=1)
    record = AuditEvent.objects.filter(record_type="CriticalAlert", details__event="acknowledge")
    assert record.get().patient_uuid == dx.patient.uuid
    with pytest.raises(ValidationError):
        critical_acknowledge(accessor=accessor, alert=alert, action_taken="again", version=2)
    # Acknowledged, it no longer escalates.
    assert watch_diagnostics(timezone.now() + timedelta(hours=1)).escalated == []


def test_someone_outside_the_patients_care_cannot_acknowledge(dx):
    critical_potassium(dx)
    alert = CriticalAlert.objects.get()
    with pytest.raises(PermissionDenied):
        critical_acknowledge(
            accessor=Accessor(dx.hub_lab), alert=alert, action_taken="seen", version=1
        )


def test_unacknowledged_it_escalates_to_the_district_doctor_and_the_coordinator(dx):
    critical_potassium(dx)
    alert = CriticalAlert.objects.get()
    assert watch_diagnostics(alert.ack_deadline - timedelta(seconds=1)).escalated == []
    report = watch_diagnostics(alert.ack_deadline + timedelta(seconds=1))
    assert report.escalated == [str(alert.uuid)]
    alert.refresh_from_db()
    assert alert.status == AlertStatus.ESCALATED and alert.escalated_at is not None
    for user in (dx.district_doctor, dx.coordinator):
        [told] = dx.notifications(user, "diagnostics.critical_escalated")
        assert told.urgent
    assert not dx.notifications(dx.hub_lab, "diagnostics.critical_escalated")
    # Once: the next round does not tell them again.
    assert watch_diagnostics(alert.ack_deadline + timedelta(minutes=5)).escalated == []
    # The district doctor, now told, may act on it.
    assert list(open_alerts(dx.district_doctor)) == [alert]
    critical_acknowledge(
        accessor=Accessor(dx.district_doctor),
        alert=alert,
        action_taken="Called the post",
        version=2,
    )


def test_the_deadline_is_configurable(dx, settings):
    settings.FARCARE_CRITICAL_ACK_MINUTES = 10
    critical_potassium(dx)
    alert = CriticalAlert.objects.get()
    assert alert.ack_deadline - alert.raised_at == timedelta(minutes=10)


def test_a_laboratory_sets_its_own_limits(dx):
    CriticalLimit.objects.create(
        code="2823-3",
        facility=dx.chain.district,
        low=Decimal("2.5"),
        high=Decimal("6.5"),
        unit="mmol/L",
    )
    _order, outcome = critical_potassium(dx, "6.4")
    assert outcome.critical == 0


def test_the_defaults_stand_even_when_the_table_was_emptied(dx):
    CriticalLimit.objects.all().delete()
    _order, outcome = critical_potassium(dx, "7.4")
    assert outcome.critical == 1


def test_a_preliminary_critical_value_confirmed_as_final_alerts_once(dx):
    order = dx.order(["51990-0"])
    report_receive(accessor=HL7, report=dx.bmp(order, potassium="7.1", status="P", external_id="1"))
    report_receive(accessor=HL7, report=dx.bmp(order, potassium="7.1", status="F", external_id="2"))
    assert CriticalAlert.objects.count() == 1


def test_troponin_above_the_assays_99th_percentile_reaches_the_clinician_at_once(dx):
    order = dx.order(["67151-1"], priority="stat")
    outcome = report_receive(
        accessor=HL7,
        report=LabReportIn(
            patient=dx.ref(),
            code="67151-1",
            placer_number=order.placer_number,
            results=(
                ResultIn(
                    sequence=1, code="67151-1", value="52", unit="ng/L", reference_range="<14"
                ),
            ),
        ),
    )
    assert outcome.critical == 1
    alert = CriticalAlert.objects.get()
    assert alert.kind == AlertKind.TROPONIN
    assert alert.observation.interpretation == "H"  # not a "critical value", yet urgent
    [told] = dx.notifications(dx.feldsher, "diagnostics.critical")
    assert told.urgent and "99th percentile" in told.body


def test_the_watch_command_runs_once(dx):
    critical_potassium(dx)
    CriticalAlert.objects.update(ack_deadline=timezone.now() - timedelta(minutes=1))
    out = StringIO()
    call_command("diagnostics", "watch", stdout=out)
    assert "escalated:" in out.getvalue()
