"""A STEMI in Uelen goes to the cath lab in Khabarovsk, in a browser. The feldsher has asked for
the transfer; the cardiology ward in Khabarovsk (Asia/Vladivostok) confirms the bed from its
incoming list; the Chukotka coordinator (Asia/Anadyr) assigns the helicopter on the dispatch
board and dispatches it; the ward opens the transfer summary before the patient lands, marks the
arrival and hands the patient over; the feldsher sees it all on the patient's page.

(The bed comes before the aircraft: the state machine sends no helicopter to a hospital that has
not said it has a bed.)"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from farcare.accounts.models import Role, User
from farcare.audit.services import Accessor
from farcare.demo.loader import DEMO_PASSWORD
from farcare.evacuation import services
from farcare.evacuation.models import Aircraft, TransferCondition, TransportBase
from farcare.network.models import Facility, FacilityKind
from farcare.patients.models import Patient

from .conftest import log_in

pytestmark = pytest.mark.browser


def _fleet(anadyr: Facility) -> Aircraft:
    """The demo's aircraft if the demo has them, else one helicopter at Anadyr."""
    base = TransportBase.objects.filter(region=anadyr.region).first()
    if base is None:
        base = TransportBase.objects.create(
            name_en="Anadyr air base",
            name_ru="Анадырь, авиабаза",
            region=anadyr.region,
            settlement=anadyr.settlement,
            latitude=anadyr.settlement.latitude,
            longitude=anadyr.settlement.longitude,
        )
    return Aircraft.objects.create(
        base=base,
        registration="RA-22977",
        profile="mi-8",
        kind="helicopter",
        cruise_kmh=220,
        range_km=550,
        crew=3,
    )


def test_the_coordinator_dispatches_and_the_receiving_ward_takes_the_patient(demo, new_context):
    feldsher = User.objects.get(username="feldsher")
    coordinator = User.objects.get(username="coordinator")
    khabarovsk = Facility.objects.get(
        kind=FacilityKind.REGIONAL_HUB, settlement__name_en="Khabarovsk"
    )
    doctor = User.objects.filter(role=Role.CLINICIAN, facility=khabarovsk).first()
    if doctor is None:
        doctor = User.objects.create_user(
            username="khv_ccu", password=DEMO_PASSWORD, role=Role.CLINICIAN, facility=khabarovsk
        )
    assert coordinator.facility is not None
    helicopter = _fleet(coordinator.facility)
    patient = (
        Patient.objects.filter(home_facility=feldsher.facility)
        .exclude(transfers__ended_at__isnull=True, transfers__isnull=False)
        .first()
    )
    assert patient is not None and feldsher.facility is not None
    transfer = services.transfer_open(
        accessor=Accessor(feldsher),
        patient=patient,
        origin=feldsher.facility,
        condition=TransferCondition.STEMI,
        reason="STEMI, inferior leads; pain for 40 minutes",
        first_contact_at=timezone.now() - timedelta(minutes=25),
        destination=khabarovsk,
    )

    # The ward in Khabarovsk confirms the bed from its incoming list.
    ward = log_in(new_context(), doctor.username)
    ward.goto("/transfers/incoming/")
    row = ward.get_by_test_id("incoming-row").filter(has_text=patient.family)
    row.get_by_label("Bed (ward, bed number)").fill("CCU, bed 3")
    row.get_by_test_id("accept").click()
    expect(ward.get_by_test_id("flash")).to_contain_text("The bed is confirmed.")
    expect(ward.get_by_test_id("incoming-row").filter(has_text=patient.family)).to_contain_text(
        "bed confirmed"
    )

    # The coordinator assigns the helicopter on the board and dispatches it.
    desk = log_in(new_context(), coordinator.username)
    desk.goto("/transfers/")
    line = desk.get_by_test_id("board-row").filter(has_text=patient.family)
    expect(line).to_contain_text("bed confirmed")
    line.get_by_label("Aircraft").select_option(str(helicopter.uuid))
    line.get_by_test_id("assign").click()
    expect(desk.get_by_test_id("flash")).to_contain_text("Transport assigned.")
    line = desk.get_by_test_id("board-row").filter(has_text=patient.family)
    expect(line).to_contain_text("RA-22977")
    line.get_by_test_id("move-dispatch").click()
    line = desk.get_by_test_id("board-row").filter(has_text=patient.family)
    expect(line.get_by_test_id("row-status")).to_have_text("dispatched")
    expect(desk.get_by_test_id(f"aircraft-{helicopter.registration}")).to_contain_text(
        "on a mission"
    )
    line.get_by_test_id("move-board").click()
    expect(
        desk.get_by_test_id("board-row")
        .filter(has_text=patient.family)
        .get_by_test_id("row-status")
    ).to_have_text("patient on board")

    # The ward reads the summary before the patient lands, on its own clock.
    ward.goto(f"/transfers/{transfer.uuid}/")
    expect(ward.get_by_test_id("transfer-status")).to_have_text("patient on board")
    expect(ward.get_by_test_id("clocks")).to_contain_text("Asia/Vladivostok")
    summary = ward.get_by_test_id("handover-pdf")
    expect(summary).to_have_attribute("href", f"/transfers/{transfer.uuid}/handover.pdf")
    answer = ward.request.get(f"/transfers/{transfer.uuid}/handover.pdf")
    assert answer.status == 200
    assert answer.headers["content-type"].startswith("application/pdf")
    expect(ward.get_by_test_id("handover-fhir")).to_have_attribute(
        "href", f"/transfers/{transfer.uuid}/handover.json"
    )

    ward.get_by_test_id("move-arrive").click()
    expect(ward.get_by_test_id("transfer-status")).to_have_text("arrived")
    ward.get_by_test_id("move-hand_over").click()
    expect(ward.get_by_test_id("transfer-status")).to_have_text("handed over")
    expect(ward.get_by_test_id("timeline")).to_contain_text("bed confirmed")
    expect(ward.get_by_test_id("timeline")).to_contain_text("dispatched")

    # The post sees the state on the patient's page.
    post = log_in(new_context(), feldsher.username)
    post.goto(f"/patients/{patient.uuid}/")
    expect(post.get_by_test_id("patient-transfer-status")).to_have_text("handed over")

    transfer.refresh_from_db()
    helicopter.refresh_from_db()
    assert transfer.status == "handed_over"
    assert helicopter.status == "available"
