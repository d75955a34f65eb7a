"""A feldsher at Uelen works with no link; what she made reaches the hub when the link returns,
exactly once, and the hub's answers come back."""

from __future__ import annotations

import pytest

from farcare.consults.models import Status
from farcare.patients.models import Patient
from farcare.sync import station as sync
from farcare.sync.models import HubCopy, ItemState, OutboxItem, StationConfig
from farcare.sync.outbox import pending
from farcare.testing.hub import HubProcess
from farcare.testing.weaklink import WeakLink

from .helpers import hub_consultation, hub_json, register, request

pytestmark = pytest.mark.weaklink


def hub_counts(hub: HubProcess, family_prefix: str) -> dict[str, int]:
    return hub_json(
        hub,
        "from farcare.patients.models import Patient\n"
        "from farcare.consults.models import Consultation\n"
        "from farcare.sync.models import Receipt\n"
        f"prefix = '{family_prefix}'\n"
        "result = {'patients': Patient.objects.filter(family__startswith=prefix).count(),\n"
        "  'requests': Consultation.objects.filter(patient__family__startswith=prefix).count(),\n"
        "  'receipts': Receipt.objects.count()}\n",
    )


def test_enrolment_brings_only_the_posts_own_patients(station: StationConfig, hub: HubProcess):
    mine = hub_json(
        hub,
        "from farcare.access.policy import station_patients\n"
        "from farcare.network.models import Facility\n"
        "from farcare.patients.models import Patient\n"
        f"f = Facility.objects.get(uuid='{station.facility.uuid}')\n"
        "result = {'mine': sorted(str(p.uuid) for p in station_patients(f)),\n"
        "          'all': Patient.objects.count()}\n",
    )
    here = sorted(str(u) for u in Patient.objects.values_list("uuid", flat=True))
    assert here == mine["mine"]
    assert 0 < len(here) < mine["all"]


def test_a_request_made_offline_arrives_when_the_link_returns(
    station: StationConfig, link: WeakLink, hub: HubProcess
):
    link.go_down()
    patient = register("Оффлайнова")
    consultation = request(patient)
    assert consultation.status == Status.REQUESTED
    assert consultation.received_at is None  # the clock starts at the hub

    report = sync.sync_once()
    assert report.link_down
    assert [i.kind for i in pending()] == ["patient.create", "consult.submit"]
    assert hub_consultation(hub, consultation.uuid) is None

    link.come_up()
    report = sync.sync_until_done(pause=0.1)
    assert not report.link_down
    assert not pending().exists()
    at_hub = hub_consultation(hub, consultation.uuid)
    assert at_hub["status"] == "requested"
    assert at_hub["routed"] is True
    assert at_hub["question"] == "Боль за грудиной 40 минут"
    assert at_hub["vitals"] == {"respiratory_rate": "26", "heart_rate": "124"}
    # What the hub made of it came back: routed, with a deadline counted from its arrival.
    copy = HubCopy.objects.get(consultation_uuid=consultation.uuid)
    assert copy.data["deadline_at"] and copy.data["routed_facility"]
    assert copy.data["consultants"]


def test_drops_in_the_middle_of_a_sync_lose_nothing_and_duplicate_nothing(
    station: StationConfig, link: WeakLink, hub: HubProcess
):
    link.go_down()
    patients = [register(f"Обрывова{n}", given=f"Ж{n}") for n in range(6)]
    for patient in patients[:4]:
        request(patient, form="urgent")
    link.come_up()
    waiting = pending().count()
    # Cut the connection after ever more bytes: some pushes are cut on the way there, some
    # after the hub applied them but before the station heard back.
    for cut in (300, 900, 1500, 2500, 4000, 6000):
        link.cut_after(cut)
        sync.sync_once()
    sync.sync_until_done(pause=0.1)
    assert link.counters.cuts >= 3
    assert not pending().exists()
    assert OutboxItem.objects.filter(state=ItemState.DELIVERED).count() == waiting
    counts = hub_counts(hub, "Обрывова")
    assert counts["patients"] == 6
    assert counts["requests"] == 4


def test_a_push_repeated_after_a_lost_answer_is_applied_once(
    station: StationConfig, hub: HubProcess
):
    patient = register("Повторова")
    consultation = request(patient)
    items = list(pending())
    sync.sync_until_done(pause=0.1)
    # The station never heard the answer: it sends the same items again.
    OutboxItem.objects.filter(pk__in=[i.pk for i in items]).update(state=ItemState.QUEUED)
    report = sync.sync_until_done(pause=0.1)
    assert report.delivered == [i.label for i in items]
    counts = hub_counts(hub, "Повторова")
    assert counts == {"patients": 1, "requests": 1, "receipts": counts["receipts"]}
    assert hub_consultation(hub, consultation.uuid)["status"] == "requested"
