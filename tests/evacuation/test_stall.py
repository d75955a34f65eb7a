"""A transfer that stops moving alerts the region's coordinators, once per stall: a request
nobody answers for 30 minutes, a held transfer only once its expected time has passed. The
next move clears the alert, so a new stall is alerted again. `farcare transfers sweep` runs it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command

from farcare.audit.services import Accessor
from farcare.evacuation.selectors import board
from farcare.evacuation.services import transfer_move
from farcare.evacuation.stall import stall_reason, sweep
from farcare.notifications.models import Notification

from .world import World, world  # noqa: F401

NOW = datetime(2026, 2, 3, 1, 0, tzinfo=UTC)


def alerts() -> list[tuple[str, str]]:
    return list(
        Notification.objects.filter(event="evacuation.stalled")
        .order_by("pk")
        .values_list("recipient__username", "link")
    )


@pytest.mark.django_db
def test_an_unanswered_request_alerts_the_coordinators_once(
    world: World,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    with time_machine.travel(NOW, tick=False) as clock:
        transfer = world.open(first_contact_at=NOW)
        clock.shift(timedelta(minutes=29))
        with django_capture_on_commit_callbacks(execute=True):
            assert sweep().alerted == []
        clock.shift(timedelta(minutes=2))
        with django_capture_on_commit_callbacks(execute=True):
            assert sweep().alerted == [f"{transfer.uuid}: requested"]
        # Chukotka's coordinator, not Yakutia's; a link, not the patient's name.
        assert alerts() == [("anadyr_coordinator", f"/transfers/{transfer.uuid}/")]
        clock.shift(timedelta(hours=1))
        with django_capture_on_commit_callbacks(execute=True):
            assert sweep().alerted == []  # once per stall
        assert len(alerts()) == 1
        transfer.refresh_from_db()
        assert transfer.stall_alerted_at == NOW + timedelta(minutes=31)
        assert transfer.events.last().event == "stalled"
        assert transfer.version == 1  # not a move: nobody's open form turns stale

        # A move clears it; the bed confirmed and no transport for an hour is a new stall.
        transfer = transfer_move(
            accessor=Accessor(world.hub_doctor), transfer=transfer, event="accept"
        )
        assert transfer.stall_alerted_at is None
        clock.shift(timedelta(minutes=61))
        with django_capture_on_commit_callbacks(execute=True):
            out = StringIO()
            call_command("transfers", "sweep", stdout=out)
        assert f"alerted: {transfer.uuid}: accepted" in out.getvalue()
        assert len(alerts()) == 2


@pytest.mark.django_db
def test_a_held_transfer_is_not_stalled_before_its_expected_time(world: World):  # noqa: F811
    coordinator = Accessor(world.coordinator)
    with time_machine.travel(NOW, tick=False) as clock:
        transfer = world.open(first_contact_at=NOW)
        transfer = transfer_move(
            accessor=Accessor(world.hub_doctor), transfer=transfer, event="accept"
        )
        transfer = transfer_move(
            accessor=coordinator,
            transfer=transfer,
            event="hold",
            reason="Fog at Uelen",
            expected_until=NOW + timedelta(hours=6),
        )
        clock.shift(timedelta(hours=5, minutes=59))
        assert stall_reason(transfer, NOW + timedelta(hours=5, minutes=59)) == ""
        assert sweep().alerted == []
        clock.shift(timedelta(minutes=2))
        assert sweep().alerted == [f"{transfer.uuid}: held"]
        transfer.refresh_from_db()
        assert (
            transfer.events.last().data["expected_until"] == (NOW + timedelta(hours=6)).isoformat()
        )


@pytest.mark.django_db
def test_finished_transfers_never_stall(world: World):  # noqa: F811
    with time_machine.travel(NOW, tick=False) as clock:
        transfer = world.open(first_contact_at=NOW)
        transfer_move(accessor=Accessor(world.feldsher), transfer=transfer, event="treat_locally")
        clock.shift(timedelta(days=2))
        assert sweep().alerted == []


@pytest.mark.django_db
def test_the_dispatch_board_flags_the_stall_most_urgent_first(world: World):  # noqa: F811
    with time_machine.travel(NOW, tick=False) as clock:
        planned = world.open(
            patient=world.another_patient(), condition="planned", first_contact_at=NOW
        )
        clock.shift(timedelta(minutes=20))
        stemi = world.open(condition="stemi", first_contact_at=NOW)
        clock.shift(timedelta(minutes=15))
        data = board(world.coordinator)
    assert [row.transfer for row in data.transfers] == [stemi, planned]
    assert [row.stalled for row in data.transfers] == ["", "requested"]
    assert data.transfers[0].clock.elapsed_minutes == 35
    (anadyr,) = data.bases
    assert [a.registration for a in anadyr.aircraft] == ["RA-22001", "RA-22002", "RA-67001"]
    assert board(world.hub_doctor).transfers == ()  # the board is dispatch's
