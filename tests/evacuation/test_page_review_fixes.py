"""What the review found on the transfer pages, as the people who met it:

- an analyst in Moscow looks at the region clocks: a region with one transfer says "fewer than
  5" and no minutes, a period is whole calendar months (UTC, said on the page), while Chukotka's
  own coordinator still sees her region's exact figures;
- the feldsher in Uelen cancels with a note too long to keep: the transfer is not cancelled and
  the page says why (a move is never made with its note dropped); a page out of date (a version
  that is not a number) refuses the change too;
- the Chukotka coordinator assigns transport: only the aircraft of her own region's bases are
  offered, on the transfer's page and on the board;
- at the Uelen post's laptop (a station) the conclusion advising evacuation offers no "Open a
  transfer" (transfers are opened at the hub)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from farcare.accounts.models import Role
from farcare.audit.services import Accessor
from farcare.consults.models import EvacuationAdvice
from farcare.consults.services import ConclusionData, conclusion_sign, consult_accept
from farcare.evacuation import services
from farcare.evacuation.aircraft import MI_8
from farcare.evacuation.models import Transfer, TransferEvent, TransferStatus, TransportBase
from farcare.evacuation.region_clocks import month_period
from farcare.sync.models import StationConfig

from ..conftest import logged_in, make_user
from ..consults.conftest import Scene, scene  # noqa: F401
from .world import World, airframe, world  # noqa: F401


def region_rows(html: str) -> list[str]:
    return re.findall(r'data-testid="region-row">(.*?)</tr>', html, re.S)


def this_month() -> str:
    return timezone.now().astimezone(UTC).strftime("%Y-%m")


# --- region clocks: small cells and whole months ----------------------------------------------


def test_an_analyst_never_sees_one_patients_minutes(world: World):  # noqa: F811
    world.open(first_contact_at=timezone.now() - timedelta(hours=3))
    analyst = make_user(Role.ANALYST, None)
    page = logged_in(analyst).get(
        "/transfers/clocks/", {"start": this_month(), "end": this_month()}
    )
    assert page.status_code == 200
    html = page.content.decode()
    (row,) = region_rows(html)
    assert "fewer than 5" in row
    assert 'data-testid="suppressed"' in row
    assert "<td>1</td>" not in row and "%" not in row
    # The page says how the period is read.
    assert "whole calendar months, counted in UTC" in html


def test_a_period_is_whole_months_so_no_day_can_be_cut_out(world: World):  # noqa: F811
    analyst = logged_in(make_user(Role.ANALYST, None))
    today = timezone.now().astimezone(UTC).date()
    # A day (the review's one-day period) is not a period the page accepts.
    day = analyst.get(
        "/transfers/clocks/", {"start": str(today - timedelta(days=1)), "end": str(today)}
    )
    assert day.status_code == 422
    assert "Write the month as 2026-03." in day.content.decode()
    assert analyst.get(
        "/transfers/clocks/", {"start": "2026-05", "end": "2026-04"}
    ).status_code == (422)
    assert analyst.get(
        "/transfers/clocks/", {"start": "0001-01", "end": "9999-12"}
    ).status_code == (422)
    assert analyst.get(
        "/transfers/clocks/", {"start": "2026-05", "end": "2026-05"}
    ).status_code == (200)
    # One month at least, from the first instant of the first month (UTC) to the first of the
    # month after the last.
    assert month_period(datetime(2026, 2, 17).date(), datetime(2026, 12, 3).date()) == (
        datetime(2026, 2, 1, tzinfo=UTC),
        datetime(2027, 1, 1, tzinfo=UTC),
    )


def test_five_transfers_show_their_figures_to_the_analyst(world: World):  # noqa: F811
    for _ in range(5):
        world.open(
            patient=world.another_patient(),
            first_contact_at=timezone.now() - timedelta(minutes=30),
        )
    page = logged_in(make_user(Role.ANALYST, None)).get(
        "/transfers/clocks/", {"start": this_month(), "end": this_month()}
    )
    (row,) = region_rows(page.content.decode())
    assert "<td>5</td>" in row and "fewer than" not in row


def test_the_regions_own_coordinator_sees_its_exact_figures(world: World):  # noqa: F811
    world.open(first_contact_at=timezone.now() - timedelta(hours=3))
    page = logged_in(world.coordinator).get(
        "/transfers/clocks/", {"start": this_month(), "end": this_month()}
    )
    (row,) = region_rows(page.content.decode())
    assert "<td>1</td>" in row and "fewer than" not in row


# --- a move with a note that cannot be kept ------------------------------------------------------


def test_a_note_too_long_refuses_the_move_and_says_why(world: World):  # noqa: F811
    transfer = world.open(first_contact_at=timezone.now())
    client = logged_in(world.feldsher)
    answer = client.post(
        f"/transfers/{transfer.uuid}/move/cancel/",
        {"note": "x" * 2001, "version": transfer.version},
    )
    assert answer.status_code == 422
    assert "at most 2000 characters" in answer.content.decode()
    transfer.refresh_from_db()
    assert transfer.status == TransferStatus.REQUESTED
    assert not TransferEvent.objects.filter(transfer=transfer, event="cancel").exists()

    # From the board (a `next`): the same refusal, as a message where the button was.
    back = client.post(
        f"/transfers/{transfer.uuid}/move/cancel/",
        {"note": "fog\x00", "version": transfer.version, "next": "/transfers/incoming/"},
        follow=True,
    )
    assert "Null characters are not allowed." in back.content.decode()
    transfer.refresh_from_db()
    assert transfer.status == TransferStatus.REQUESTED

    # A note that can be kept goes with the move.
    client.post(
        f"/transfers/{transfer.uuid}/move/cancel/",
        {"note": "Treated on site", "version": transfer.version},
    )
    transfer.refresh_from_db()
    assert transfer.status == TransferStatus.CANCELLED
    assert TransferEvent.objects.get(transfer=transfer, event="cancel").note == "Treated on site"


def test_a_version_that_is_no_number_refuses_the_change(world: World):  # noqa: F811
    transfer = world.open(first_contact_at=timezone.now())
    answer = logged_in(world.feldsher).post(
        f"/transfers/{transfer.uuid}/move/cancel/", {"version": "abc"}, follow=True
    )
    assert answer.status_code == 200
    assert "This page is out of date." in answer.content.decode()
    transfer.refresh_from_db()
    assert transfer.status == TransferStatus.REQUESTED


def test_an_aircraft_status_note_too_long_is_said(world: World):  # noqa: F811
    answer = logged_in(world.coordinator).post(
        f"/transfers/aircraft/{world.mi8.uuid}/status/",
        {"status": "maintenance", "note": "x" * 201},
        follow=True,
    )
    assert "at most 200 characters" in answer.content.decode()
    world.mi8.refresh_from_db()
    assert world.mi8.status == "available"


# --- the aircraft offered for assignment -------------------------------------------------------


def test_only_the_coordinators_own_regions_aircraft_are_offered(world: World):  # noqa: F811
    yakutsk = TransportBase.objects.create(
        name_en="Yakutsk air ambulance",
        name_ru="Санавиация Якутск",
        region="Sakha",
        settlement=world.sakha_hub.settlement,
        latitude=62.03,
        longitude=129.73,
    )
    sakha_mi8 = airframe(yakutsk, "RA-22901", MI_8)
    transfer = world.open(first_contact_at=timezone.now() - timedelta(minutes=20))
    services.transfer_move(
        accessor=Accessor(world.hub_doctor), transfer=transfer, event="accept", bed_note="CCU 1"
    )
    client = logged_in(world.coordinator)
    for url in (f"/transfers/{transfer.uuid}/", "/transfers/"):
        html = client.get(url).content.decode()
        (form,) = re.findall(r'data-testid="assign-form">(.*?)</form>', html, re.S)
        assert str(world.mi8.uuid) in form, url
        assert str(sakha_mi8.uuid) not in form, url
        # The board still shows the neighbour's base (what is in the air), only not to assign.
        if url == "/transfers/":
            assert "RA-22901" in html


# --- at a station, no transfer is opened from a conclusion ---------------------------------------


def test_at_the_posts_station_the_conclusion_offers_no_new_transfer(scene: Scene):  # noqa: F811
    consultation = consult_accept(
        accessor=Accessor(scene.hub_cardiologist), consultation=scene.submit("emergency")
    )
    conclusion_sign(
        accessor=Accessor(scene.hub_cardiologist),
        consultation=consultation,
        data=ConclusionData(
            findings="ST elevation in V1–V4.",
            diagnoses=["I21.0"],
            recommendations="Evacuate for primary PCI.",
            evacuation=EvacuationAdvice.URGENT_AIR,
            evacuation_destination=scene.chain.hub,
        ),
    )
    client = logged_in(scene.feldsher)
    url = f"/consultations/{consultation.uuid}/"
    assert 'data-testid="open-transfer"' in client.get(url).content.decode()  # at the hub
    StationConfig.objects.create(
        hub_url="https://hub.example/",
        token="t" * 40,
        station_uuid=uuid.uuid4(),
        name="Uelen post laptop",
        facility=scene.chain.post,
    )
    page = client.get(url)
    assert page.status_code == 200
    assert 'data-testid="open-transfer"' not in page.content.decode()
    assert not Transfer.objects.exists()


@pytest.mark.parametrize("month", ["2026-13", "junk", "%00"])
def test_a_bad_month_is_a_clear_error(world: World, month: str):  # noqa: F811
    answer = logged_in(world.coordinator).get(
        "/transfers/clocks/", {"start": month, "end": "2026-01"}
    )
    assert answer.status_code == 422
