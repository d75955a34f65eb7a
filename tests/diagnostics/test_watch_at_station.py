"""At a post's station the critical alerts and results are copies of the hub's: the hub
escalates and releases them. `farcare diagnostics watch` refuses to run at a station, saying
so, and the watcher it runs does nothing there, so a copy never tells the district doctor and
the coordinators a second time."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from farcare.audit.services import Accessor
from farcare.diagnostics.models import AlertStatus, CriticalAlert
from farcare.diagnostics.services.results import report_receive
from farcare.diagnostics.watch import watch_diagnostics
from farcare.sync.models import StationConfig

from .scene import make_scene

HL7 = Accessor(None, channel="hl7")


@pytest.fixture
def dx(chain):
    return make_scene(chain)


def enrol_as_station(dx) -> StationConfig:
    return StationConfig.objects.create(
        hub_url="https://hub.example/",
        token="t" * 40,
        station_uuid=uuid.uuid4(),
        name="Uelen post laptop",
        facility=dx.chain.post,
    )


def an_overdue_critical_potassium(dx) -> CriticalAlert:
    order = dx.order(["51990-0"], priority="stat")
    report_receive(accessor=HL7, report=dx.bmp(order, potassium="7.1"))
    return CriticalAlert.objects.get()


def test_the_watch_command_refuses_at_a_station_and_says_where_it_runs(dx):
    alert = an_overdue_critical_potassium(dx)
    enrol_as_station(dx)

    with pytest.raises(CommandError, match=r"station.*at the hub"):
        call_command("diagnostics", "watch")

    alert.refresh_from_db()
    assert alert.status == AlertStatus.OPEN


def test_the_watcher_escalates_nothing_at_a_station_and_does_at_the_hub(dx):
    alert = an_overdue_critical_potassium(dx)
    late = alert.ack_deadline + timedelta(hours=2)
    station = enrol_as_station(dx)

    report = watch_diagnostics(late)

    assert (report.escalated, report.escalated_again, report.released) == ([], [], [])
    alert.refresh_from_db()
    assert alert.status == AlertStatus.OPEN
    assert dx.notifications(dx.district_doctor, "diagnostics.critical_escalated") == []

    station.delete()  # the same database as a hub's
    assert watch_diagnostics(late).escalated == [str(alert.uuid)]
    assert len(dx.notifications(dx.district_doctor, "diagnostics.critical_escalated")) == 1
