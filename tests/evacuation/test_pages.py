"""The transfer pages, as the people who use them: the feldsher in Uelen opens a transfer with
the destinations and their estimates in front of her, the cardiology ward in Khabarovsk confirms
the bed from its incoming list, the Chukotka coordinator assigns the helicopter and dispatches
from the board (of two transfers wanting one helicopter, one gets it and the other is told why),
a weather hold is put and lifted, and the post sees the state on the patient's page. Bad input
comes back as a message in the reader's language, never as a 500; people with no side of the
transfer are refused."""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.utils import timezone

from farcare.accounts.models import Role, User
from farcare.audit.services import Accessor
from farcare.consults.models import EvacuationAdvice
from farcare.consults.services import ConclusionData, conclusion_sign, consult_accept
from farcare.evacuation import services
from farcare.evacuation.models import (
    Aircraft,
    AircraftStatus,
    Capability,
    FacilityCapability,
    Transfer,
    TransferCondition,
    TransferStatus,
    TransportBase,
)
from farcare.network.models import Facility, FacilityKind
from farcare.patients.models import Patient

from ..conftest import logged_in, make_user
from ..consults.conftest import Scene, scene  # noqa: F401
from ..factories import FacilityFactory, PatientFactory


@dataclass
class Ward:
    scene: Scene
    receiving: Facility
    doctor: User
    helicopter: Aircraft
    plane: Aircraft

    @property
    def feldsher(self) -> User:
        return self.scene.feldsher

    @property
    def coordinator(self) -> User:
        return self.scene.coordinator

    @property
    def patient(self) -> Patient:
        return self.scene.patient

    def open(self, patient: Patient | None = None) -> Transfer:
        return services.transfer_open(
            accessor=Accessor(self.feldsher),
            patient=patient or self.patient,
            origin=self.scene.chain.post,
            condition=TransferCondition.STEMI,
            reason="STEMI on the ECG, pain for 40 minutes",
            first_contact_at=timezone.now() - timedelta(minutes=30),
            destination=self.receiving,
        )

    def accepted(self, patient: Patient | None = None) -> Transfer:
        transfer = self.open(patient)
        return services.transfer_move(
            accessor=Accessor(self.doctor), transfer=transfer, event="accept", bed_note="CCU 3"
        )


@pytest.fixture
def ward(scene: Scene) -> Ward:  # noqa: F811
    receiving = FacilityFactory(
        kind=FacilityKind.REGIONAL_HUB,
        region="Khabarovsk",
        name_en="Khabarovsk regional hospital",
        time_zone="Asia/Vladivostok",
        latitude=48.48,
        longitude=135.07,
    )
    FacilityCapability.objects.create(facility=receiving, capability=Capability.PCI)
    doctor = make_user(Role.CLINICIAN, receiving, username="khv_ccu", language="en")
    base = TransportBase.objects.create(
        name_en="Anadyr air base",
        name_ru="Анадырь, авиабаза",
        region="Chukotka",
        settlement=scene.chain.hub.settlement,
        latitude=64.73,
        longitude=177.5,
    )
    helicopter = Aircraft.objects.create(
        base=base,
        registration="RA-22901",
        profile="mi-8",
        kind="helicopter",
        cruise_kmh=220,
        range_km=550,
        crew=3,
    )
    plane = Aircraft.objects.create(
        base=base,
        registration="RA-67901",
        profile="l-410",
        kind="plane",
        cruise_kmh=320,
        range_km=1300,
        crew=2,
    )
    return Ward(scene, receiving, doctor, helicopter, plane)


def test_the_feldsher_sees_destinations_with_estimates_before_deciding_and_opens_a_transfer(
    ward: Ward,
):
    client = logged_in(ward.feldsher)
    page = client.get(f"/transfers/new/?patient={ward.patient.uuid}&condition=stemi")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Khabarovsk regional hospital" in text
    assert "Decision support" in text
    assert 'data-testid="candidate"' in text
    assert len(page.content) < 60_000

    now = timezone.localtime(timezone=zoneinfo.ZoneInfo("Asia/Anadyr"))  # the post's clock
    answer = client.post(
        "/transfers/new/",
        {
            "patient": str(ward.patient.uuid),
            "condition": "stemi",
            "reason": "STEMI, inferior leads",
            "first_contact_at": (now - timedelta(minutes=20)).strftime("%Y-%m-%dT%H:%M"),
            "destination": str(ward.receiving.uuid),
            "decision_choice": "transfer",
        },
    )
    transfer = Transfer.objects.get(patient=ward.patient)
    assert answer.status_code == 302, answer.content.decode()[:2000]
    assert answer["Location"] == f"/transfers/{transfer.uuid}/"
    assert transfer.destination == ward.receiving
    assert transfer.status == TransferStatus.REQUESTED

    detail = client.get(answer["Location"])
    assert detail.status_code == 200
    assert "Asia/Anadyr" in detail.content.decode()  # every time in the feldsher's zone
    assert "handover.pdf" in detail.content.decode()


@pytest.mark.parametrize(
    ("language", "expected"),
    [("en", "This moment is in the future."), ("ru", "будущ"), ("ko", "미래")],
)
def test_a_first_contact_in_the_future_is_refused_in_the_readers_language(
    ward: Ward, language: str, expected: str
):
    ward.feldsher.language = language
    ward.feldsher.save(update_fields=["language"])
    client = logged_in(ward.feldsher, language)
    answer = client.post(
        "/transfers/new/",
        {
            "patient": str(ward.patient.uuid),
            "condition": "stemi",
            "reason": "STEMI",
            "first_contact_at": (timezone.now() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M"),
            "decision_choice": "transfer",
        },
        HTTP_ACCEPT_LANGUAGE=language,
    )
    assert answer.status_code == 422
    assert 'data-testid="error-summary"' in answer.content.decode()
    assert expected in answer.content.decode()
    assert not Transfer.objects.exists()


@pytest.mark.parametrize(
    "query",
    ["", "?patient=not-a-uuid", "?consultation=00000000-0000-0000-0000-000000000000"],
)
def test_a_new_transfer_without_a_known_patient_is_not_found(ward: Ward, query: str):
    assert logged_in(ward.feldsher).get(f"/transfers/new/{query}").status_code == 404


def test_garbage_in_every_field_is_a_message_not_a_500(ward: Ward):
    client = logged_in(ward.feldsher)
    answer = client.post(
        "/transfers/new/",
        {
            "patient": str(ward.patient.uuid),
            "condition": "nonsense",
            "reason": "",
            "first_contact_at": "yesterday-ish",
            "onset_at": "0001-01-01T00:00",
            "destination": "Mars",
            "decision_choice": "whatever",
        },
    )
    assert answer.status_code == 422
    assert not Transfer.objects.exists()


def test_the_receiving_hospital_confirms_the_bed_from_its_incoming_list(ward: Ward):
    transfer = ward.open()
    client = logged_in(ward.doctor)
    page = client.get("/transfers/incoming/")
    assert page.status_code == 200
    assert ward.patient.family in page.content.decode()

    empty = client.post(
        f"/transfers/{transfer.uuid}/accept/", {"bed_note": "", "next": "/transfers/incoming/"}
    )
    assert empty.status_code == 302
    transfer.refresh_from_db()
    assert transfer.status == TransferStatus.REQUESTED
    assert "Say which bed is ready." in client.get("/transfers/incoming/").content.decode()

    client.post(
        f"/transfers/{transfer.uuid}/accept/",
        {"bed_note": "CCU, bed 3", "next": "/transfers/incoming/"},
    )
    transfer.refresh_from_db()
    assert transfer.status == TransferStatus.ACCEPTED
    assert transfer.bed_note == "CCU, bed 3"


def test_the_coordinator_assigns_and_dispatches_and_the_loser_of_one_helicopter_is_told(
    ward: Ward,
):
    first = ward.accepted()
    second = ward.accepted(PatientFactory(home_facility=ward.scene.chain.post))
    client = logged_in(ward.coordinator)
    board = client.get("/transfers/")
    assert board.status_code == 200
    assert "RA-22901" in board.content.decode()
    assert len(board.content) < 80_000

    for transfer in (first, second):
        client.post(
            f"/transfers/{transfer.uuid}/assign/",
            {"aircraft": str(ward.helicopter.uuid), "next": "/transfers/"},
        )
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == TransferStatus.TRANSPORT_ASSIGNED
    assert first.aircraft == ward.helicopter
    assert second.status == TransferStatus.ACCEPTED
    assert "RA-22901 is not available" in client.get("/transfers/").content.decode()

    client.post(f"/transfers/{first.uuid}/move/dispatch/", {"next": "/transfers/"})
    first.refresh_from_db()
    assert first.status == TransferStatus.DISPATCHED
    assert first.dispatched_at is not None


def test_nothing_chosen_or_both_chosen_for_transport_is_a_message(ward: Ward):
    transfer = ward.accepted()
    client = logged_in(ward.coordinator)
    for data in ({}, {"aircraft": str(ward.plane.uuid), "ground_mode": "road"}, {"aircraft": "x"}):
        answer = client.post(f"/transfers/{transfer.uuid}/assign/", data)
        assert answer.status_code == 302
    transfer.refresh_from_db()
    assert transfer.status == TransferStatus.ACCEPTED
    assert "Choose one aircraft" in client.get(f"/transfers/{transfer.uuid}/").content.decode()


def test_a_weather_hold_needs_a_reason_and_a_future_time_and_is_lifted(ward: Ward):
    transfer = ward.accepted()
    client = logged_in(ward.coordinator)
    missing = client.post(f"/transfers/{transfer.uuid}/hold/", {"reason": ""})
    assert missing.status_code == 422
    assert "Say why the transfer is held." in missing.content.decode()
    past = client.post(
        f"/transfers/{transfer.uuid}/hold/",
        {"reason": "Blizzard", "expected_until": "2020-01-01T10:00"},
    )
    assert past.status_code == 422

    later = (timezone.localtime() + timedelta(hours=6)).strftime("%Y-%m-%dT%H:%M")
    held = client.post(
        f"/transfers/{transfer.uuid}/hold/",
        {"reason": "Blizzard at Uelen", "expected_until": later},
    )
    assert held.status_code == 302
    transfer.refresh_from_db()
    assert transfer.status == TransferStatus.HELD
    page = client.get(f"/transfers/{transfer.uuid}/").content.decode()
    assert "Blizzard at Uelen" in page

    client.post(f"/transfers/{transfer.uuid}/move/resume/")
    transfer.refresh_from_db()
    assert transfer.status == TransferStatus.ACCEPTED


def test_a_move_not_theirs_or_unknown_is_a_message(ward: Ward):
    transfer = ward.open()
    client = logged_in(ward.doctor)
    client.post(f"/transfers/{transfer.uuid}/move/dispatch/")
    client.post(f"/transfers/{transfer.uuid}/move/fly-to-the-moon/")
    transfer.refresh_from_db()
    assert transfer.status == TransferStatus.REQUESTED
    assert client.get(f"/transfers/{transfer.uuid}/").status_code == 200


def test_times_on_the_transfer_page_are_in_each_viewers_zone(ward: Ward):
    transfer = ward.open()
    assert (
        "Asia/Vladivostok"
        in logged_in(ward.doctor).get(f"/transfers/{transfer.uuid}/").content.decode()
    )
    assert (
        "Asia/Anadyr"
        in logged_in(ward.feldsher).get(f"/transfers/{transfer.uuid}/").content.decode()
    )


def test_the_post_sees_the_state_on_the_patients_page(ward: Ward):
    transfer = ward.accepted()
    page = logged_in(ward.feldsher).get(f"/patients/{ward.patient.uuid}/")
    assert page.status_code == 200
    text = page.content.decode()
    assert 'data-testid="patient-transfer"' in text
    assert str(transfer.uuid) in text
    assert "bed confirmed" in text


def test_people_with_no_side_of_the_transfer_are_refused(ward: Ward):
    transfer = ward.open()
    abroad = ward.scene.partner_cardiologist
    assert logged_in(abroad).get(f"/transfers/{transfer.uuid}/").status_code == 403
    stranger = make_user(
        Role.CLINICIAN, FacilityFactory(kind=FacilityKind.DISTRICT_HOSPITAL, region="Sakha")
    )
    assert logged_in(stranger).get(f"/transfers/{transfer.uuid}/").status_code == 403
    assert logged_in(stranger).post(f"/transfers/{transfer.uuid}/move/cancel/").status_code == 403
    assert logged_in(ward.feldsher).get("/transfers/").status_code == 403
    assert logged_in(ward.coordinator).get("/transfers/incoming/").status_code == 403
    transfer.refresh_from_db()
    assert transfer.status == TransferStatus.REQUESTED


def test_the_coordinator_changes_an_aircrafts_availability(ward: Ward):
    client = logged_in(ward.coordinator)
    client.post(
        f"/transfers/aircraft/{ward.plane.uuid}/status/",
        {"status": "grounded", "note": "icing", "version": ward.plane.version},
    )
    ward.plane.refresh_from_db()
    assert ward.plane.status == AircraftStatus.GROUNDED
    client.post(f"/transfers/aircraft/{ward.plane.uuid}/status/", {"status": "flying-saucer"})
    ward.plane.refresh_from_db()
    assert ward.plane.status == AircraftStatus.GROUNDED


def test_region_clocks_are_aggregates_for_coordinators_only(ward: Ward):
    ward.open()
    client = logged_in(ward.coordinator)
    page = client.get("/transfers/clocks/")
    assert page.status_code == 200
    assert ward.patient.family not in page.content.decode()
    assert client.get("/transfers/clocks/?start=2026-05&end=2026-01").status_code == 422
    assert client.get("/transfers/clocks/?start=0001-01&end=9999-12").status_code == 422
    assert client.get("/transfers/clocks/?start=2026-01&end=2026-05").status_code == 200
    assert client.get("/transfers/clocks/?start=junk").status_code == 422
    assert logged_in(ward.feldsher).get("/transfers/clocks/").status_code == 403


@pytest.mark.parametrize("language", ["ru", "ko", "en"])
def test_every_page_answers_in_each_language(ward: Ward, language: str):
    transfer = ward.accepted()
    for person in (ward.coordinator, ward.doctor, ward.feldsher):
        person.language = language
        person.save(update_fields=["language"])
    coordinator = logged_in(ward.coordinator, language)
    for url in ("/transfers/", f"/transfers/{transfer.uuid}/", "/transfers/clocks/"):
        assert coordinator.get(url, HTTP_ACCEPT_LANGUAGE=language).status_code == 200, url
    title = {"en": "Dispatch board", "ru": "Диспетчерская доска", "ko": "출동 관제판"}[language]
    assert title in coordinator.get("/transfers/").content.decode()
    doctor = logged_in(ward.doctor, language)
    assert doctor.get("/transfers/incoming/", HTTP_ACCEPT_LANGUAGE=language).status_code == 200
    feldsher = logged_in(ward.feldsher, language)
    assert (
        feldsher.get(
            f"/transfers/new/?patient={PatientFactory(home_facility=ward.scene.chain.post).uuid}",
            HTTP_ACCEPT_LANGUAGE=language,
        ).status_code
        == 200
    )


def test_a_conclusion_advising_evacuation_leads_to_a_new_transfer_to_its_destination(
    ward: Ward,
):
    story = ward.scene
    consultation = consult_accept(
        accessor=Accessor(story.hub_cardiologist), consultation=story.submit("emergency")
    )
    conclusion_sign(
        accessor=Accessor(story.hub_cardiologist),
        consultation=consultation,
        data=ConclusionData(
            findings="ST elevation in V1–V4.",
            diagnoses=["I21.0"],
            recommendations="Aspirin 300 mg; evacuate for primary PCI.",
            evacuation=EvacuationAdvice.URGENT_AIR,
            evacuation_destination=ward.receiving,
        ),
    )
    client = logged_in(ward.feldsher)
    case = client.get(f"/consultations/{consultation.uuid}/").content.decode()
    assert 'data-testid="open-transfer"' in case
    assert f"/transfers/new/?consultation={consultation.uuid}" in case

    page = client.get(f"/transfers/new/?consultation={consultation.uuid}&condition=stemi")
    assert page.status_code == 200
    text = page.content.decode()
    assert "urgent evacuation by air" in text
    assert f'value="{ward.receiving.uuid}" selected' in text
    assert "evacuate for primary PCI" in text

    abroad = logged_in(story.partner_cardiologist)
    assert abroad.get(f"/transfers/new/?consultation={consultation.uuid}").status_code == 403


def test_a_declined_bed_goes_back_to_the_coordinator_and_the_ward_to_its_list(ward: Ward):
    transfer = ward.open()
    client = logged_in(ward.doctor)
    missing = client.post(f"/transfers/{transfer.uuid}/decline/", {"reason": ""})
    assert missing.status_code == 422
    assert "Say why the bed is declined." in missing.content.decode()
    answer = client.post(f"/transfers/{transfer.uuid}/decline/", {"reason": "CCU full"})
    assert answer.status_code == 302
    assert answer["Location"] == "/transfers/incoming/"
    transfer.refresh_from_db()
    assert transfer.destination is None
    assert transfer.status == TransferStatus.REQUESTED
    board = logged_in(ward.coordinator).get("/transfers/").content.decode()
    assert "choose the destination" in board
