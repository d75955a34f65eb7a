"""The coordinator's story: a request is stuck with a consultant who cannot answer; the
coordinator opens the board, narrows it to what is pressing, and hands the request to a colleague
chosen from a list (who is at work now, who reads the language, who holds how many) rather than
typing a username nobody sees."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta
from html.parser import HTMLParser

import pytest
import time_machine

from farcare.accounts.models import Role
from farcare.audit.models import AuditEvent
from farcare.consults.models import Consultation, RoutingRule
from farcare.consults.services import RequestData, consult_submit
from farcare.patients.models import Consent, ConsentKind

from ..conftest import make_user
from ..factories import FacilityFactory, PatientFactory, SpecialtyFactory, link
from .conftest import consultant
from .test_pages import client_for

# 01:00 UTC on a Wednesday: 13:00 in Anadyr, 04:00 in Moscow.
ANADYR_AFTERNOON = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)
VOID = {"input", "br", "img", "meta", "link", "hr"}


class _ByTestId(HTMLParser):
    """The text inside each element with a data-testid, as a reader sees it."""

    def __init__(self) -> None:
        super().__init__()
        self.open: list[tuple[str, str | None]] = []
        self.texts: dict[str, str] = {}
        self.order: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in VOID:
            return
        testid = dict(attrs).get("data-testid")
        if testid:
            self.texts.setdefault(testid, "")
            self.order.append(testid)
        self.open.append((tag, testid))

    def handle_endtag(self, tag):
        while self.open:
            opened, _testid = self.open.pop()
            if opened == tag:
                break

    def handle_data(self, data):
        for _tag, testid in self.open:
            if testid:
                self.texts[testid] += data


def by_testid(html: str) -> _ByTestId:
    parser = _ByTestId()
    parser.feed(html)
    for key, text in parser.texts.items():
        parser.texts[key] = " ".join(text.split())
    return parser


def reassign_page(client, consultation, **query):
    return client.get(f"/consultations/{consultation.uuid}/reassign/", query)


@pytest.fixture
def stuck(scene):
    """A request held by the hub cardiologist; a day-shift colleague at the hub, a colleague of
    another specialty, and the federal centre's English-speaking cardiologist."""
    with time_machine.travel(ANADYR_AFTERNOON, tick=False):
        consultation = scene.submit()
    day = consultant(
        scene.chain.hub, scene.cardiology, hours=(time(9), time(18)), username="hub_day"
    )
    night = consultant(
        scene.chain.hub, scene.cardiology, hours=(time(20), time(23)), username="hub_night"
    )
    neurology = SpecialtyFactory(code="neurology", name_en="Neurology")
    neurologist = consultant(scene.chain.hub, neurology, username="hub_neuro")
    return consultation, day, night, neurologist


def test_the_coordinator_sees_who_may_take_it_with_duty_and_load(scene, stuck):
    consultation, day, night, neurologist = stuck
    assert [a.consultant for a in consultation.assignments.all()] == [scene.hub_cardiologist]
    with time_machine.travel(ANADYR_AFTERNOON + timedelta(minutes=5), tick=False):
        response = reassign_page(client_for(scene.coordinator), consultation)
    assert response.status_code == 200
    page = by_testid(response.content.decode())
    rows = [key for key in page.order if key.startswith("candidate-")]
    # At work first, then the lightest load; the one holding it now last, not pickable.
    assert rows == [
        f"candidate-{day.uuid}",
        f"candidate-{scene.federal_cardiologist.uuid}",
        f"candidate-{night.uuid}",
        f"candidate-{scene.hub_cardiologist.uuid}",
    ]
    assert "on duty" in page.texts[f"candidate-{day.uuid}"]
    assert "off duty" in page.texts[f"candidate-{night.uuid}"]  # 13:00 in Anadyr
    held = page.texts[f"candidate-{scene.hub_cardiologist.uuid}"]
    assert "already on this request" in held
    html = response.content.decode()
    assert f'value="{scene.hub_cardiologist.uuid}"' not in html  # no radio to pick them again
    assert f'value="{day.uuid}"' in html
    # Neither the neurologist nor the Korean partner (no consent to go abroad) is offered.
    assert f"candidate-{neurologist.uuid}" not in page.texts
    assert f"candidate-{scene.partner_cardiologist.uuid}" not in page.texts


def test_the_load_counts_open_requests_held(scene, stuck):
    consultation, day, _night, _neuro = stuck
    with time_machine.travel(ANADYR_AFTERNOON, tick=False):
        scene.submit()  # the lightest at work gets it: the day colleague, who held nothing
        response = reassign_page(client_for(scene.coordinator), consultation)
    page = by_testid(response.content.decode())
    rows = [key for key in page.order if key.startswith("candidate-")]
    assert rows[0] == f"candidate-{scene.federal_cardiologist.uuid}"  # at work, holds nothing
    assert page.texts[f"candidate-{day.uuid}"].split()[-1] == "1"
    assert page.texts[f"candidate-{scene.federal_cardiologist.uuid}"].split()[-1] == "0"


def test_the_list_narrows_by_language_and_by_duty(scene, stuck):
    consultation, day, night, _neuro = stuck
    client = client_for(scene.coordinator)
    with time_machine.travel(ANADYR_AFTERNOON, tick=False):
        english = by_testid(reassign_page(client, consultation, language="en").content.decode())
        at_work = by_testid(reassign_page(client, consultation, on_duty="1").content.decode())
        everyone = by_testid(
            reassign_page(client, consultation, specialty="any", language="any").content.decode()
        )
    assert [k for k in english.order if k.startswith("candidate-")] == [
        f"candidate-{scene.federal_cardiologist.uuid}"
    ]
    assert f"candidate-{night.uuid}" not in at_work.texts
    assert f"candidate-{day.uuid}" in at_work.texts
    # Every specialty: the neurologist is shown, saying why they cannot take it.
    neuro = next(
        t for k, t in everyone.texts.items() if k.startswith("candidate-") and "Neurology" in t
    )
    assert "does not consult in Cardiology" in neuro


def test_reassigning_by_picking_is_done_and_audited(scene, stuck):
    consultation, _day, _night, _neuro = stuck
    client = client_for(scene.coordinator)
    response = client.post(
        f"/consultations/{consultation.uuid}/reassign/",
        {"consultant": str(scene.federal_cardiologist.uuid), "reason": "in theatre all day"},
    )
    assert response.status_code == 302
    assert response["Location"] == f"/consultations/{consultation.uuid}/"
    consultation.refresh_from_db()
    held = consultation.assignments.filter(ended_at__isnull=True).get()
    assert held.consultant == scene.federal_cardiologist
    assert held.facility == scene.chain.federal
    assert consultation.routed_facility == scene.chain.federal
    assert consultation.routing_rank == 1
    event = consultation.transitions.get(event="reassigned")
    assert "in theatre all day" in event.note
    audit = AuditEvent.objects.get(
        record_id=str(consultation.uuid), actor_uuid=scene.coordinator.uuid, action="update"
    )
    assert audit.details["event"] == "reassign"
    assert audit.details["consultant"] == str(scene.federal_cardiologist.uuid)
    page = client.get(response["Location"]).content.decode()
    assert "now holds the request" in page


def test_a_consultant_of_another_specialty_is_refused_in_the_users_language(scene, stuck):
    consultation, _day, _night, neurologist = stuck
    post = {"consultant": str(neurologist.uuid)}
    url = f"/consultations/{consultation.uuid}/reassign/"
    english = client_for(scene.coordinator).post(url, post)
    assert english.status_code == 422
    errors = by_testid(english.content.decode()).texts["reassign-errors"]
    assert f"{neurologist} does not consult in Cardiology." in errors
    russian = client_for(scene.coordinator, "ru").post(url, post)
    assert "не консультирует по специальности" in russian.content.decode()
    consultation.refresh_from_db()
    assert [a.consultant for a in consultation.assignments.filter(ended_at__isnull=True)] == [
        scene.hub_cardiologist
    ]


def test_ineligible_picks_are_refused_with_the_reason(scene, stuck):
    consultation, _day, _night, _neuro = stuck
    url = f"/consultations/{consultation.uuid}/reassign/"
    client = client_for(scene.coordinator)
    # A cardiologist of another region's hub: not in this request's routing table.
    elsewhere = consultant(scene.chain.other_region_hub, scene.cardiology, username="sakha_cardio")
    refused = {
        str(elsewhere.uuid): "routing table does not send this request",
        str(scene.partner_cardiologist.uuid): "has not agreed to their case going abroad",
        str(scene.hub_cardiologist.uuid): "is already on this request",
        str(scene.feldsher.uuid): "is not an active consultant",
        str(uuid.uuid4()): "Choose a consultant from the list.",
        scene.federal_cardiologist.username: "Choose a consultant from the list.",
    }
    for value, reason in refused.items():
        response = client.post(url, {"consultant": value})
        assert response.status_code == 422, value
        assert reason in by_testid(response.content.decode()).texts["reassign-errors"], value
    consultation.refresh_from_db()
    assert consultation.transitions.filter(event="reassigned").count() == 0


def test_only_the_coordinator_of_the_region_reaches_the_list(scene, stuck):
    consultation, day, _night, _neuro = stuck
    url = f"/consultations/{consultation.uuid}/reassign/"
    other_coordinator = make_user(Role.COORDINATOR, scene.chain.other_region_hub)
    for user in (scene.feldsher, scene.hub_cardiologist, other_coordinator):
        client = client_for(user)
        assert client.get(url).status_code == 403
        assert client.post(url, {"consultant": str(day.uuid)}).status_code == 403
    assert AuditEvent.objects.filter(
        actor_uuid=scene.feldsher.uuid, outcome="denied", details__wanted="reassign"
    ).exists()
    consultation.refresh_from_db()
    assert not consultation.transitions.filter(event="reassigned").exists()


def test_the_case_page_leads_the_coordinator_to_the_list(scene, stuck):
    consultation, *_ = stuck
    page = client_for(scene.coordinator).get(f"/consultations/{consultation.uuid}/")
    assert f'href="/consultations/{consultation.uuid}/reassign/"' in page.content.decode()
    assert 'name="consultant"' not in page.content.decode()  # no username box on the case page


# --- the board -------------------------------------------------------------------------------


@pytest.fixture
def board(scene):
    """Open requests of Chukotka: an emergency and an urgent cardiology request from a post of
    the Lavrentiya district, a planned neurology request from a post under the hub itself, and a
    request of another region that the Chukotka board never shows."""
    neurology = SpecialtyFactory(code="neurology", name_en="Neurology")
    RoutingRule.objects.create(
        region="Chukotka", specialty=neurology, facility=scene.chain.hub, rank=1
    )
    consultant(scene.chain.hub, neurology, username="hub_neuro")
    near_hub = FacilityFactory(name_en="Tavaivaam post")
    link(near_hub, scene.chain.hub)
    feldsher2 = make_user(Role.CLINICIAN, near_hub, language="en")
    sakha = make_user(Role.CLINICIAN, scene.chain.other_region_post, language="en")

    def send(user, patient, specialty, form):
        Consent.objects.create(
            patient=patient, kind=ConsentKind.TELECONSULTATION, scope="all", recorded_by=user
        )
        return consult_submit(
            accessor=scene.accessor(user),
            patient=patient,
            client_token=uuid.uuid4(),
            data=RequestData(
                specialty=specialty,
                form=form,
                question="What next?",
                summary="Adult, stable.",
                vitals={},
            ),
        )

    with time_machine.travel(ANADYR_AFTERNOON, tick=False):
        emergency = scene.submit("emergency")
        urgent = scene.submit("urgent")
        planned = send(feldsher2, PatientFactory(home_facility=near_hub), neurology, "planned")
        send(
            sakha, PatientFactory(home_facility=scene.chain.other_region_post), neurology, "planned"
        )
    Consultation.objects.filter(pk=emergency.pk).update(news2_band="high", news2_total=9)
    return emergency, urgent, planned


def shown(html: str) -> set[str]:
    return {key[len("case-") :] for key in by_testid(html).texts if key.startswith("case-")}


def test_board_filters_narrow_the_list_and_count_each_choice(scene, board):
    emergency, urgent, planned = board
    client = client_for(scene.coordinator)
    # Three hours later the emergency (two hours to answer) is overdue; the others are in time.
    with time_machine.travel(ANADYR_AFTERNOON + timedelta(hours=3), tick=False):
        everything = client.get("/consultations/").content.decode()
        overdue = client.get("/consultations/", {"deadline": "breached"}).content.decode()
        cardiology = client.get("/consultations/", {"specialty": "cardiology"}).content.decode()
        district = client.get(
            "/consultations/", {"district": str(scene.chain.hub.uuid)}
        ).content.decode()
        high = client.get(
            "/consultations/", {"news2": "high", "specialty": "cardiology"}
        ).content.decode()
    assert shown(everything) == {str(emergency.uuid), str(urgent.uuid), str(planned.uuid)}
    texts = by_testid(everything).texts
    assert texts["board-total"] == "3 of 3 open requests"
    assert texts["filter-form-emergency"] == "emergency 1"
    assert texts["filter-form-urgent"] == "urgent 1"
    assert texts["filter-form-planned"] == "planned 1"
    assert texts["filter-specialty-cardiology"] == "Cardiology 2"
    assert texts["filter-deadline-breached"] == "overdue 1"
    assert texts["filter-news2-high"] == "High 1"
    assert texts["filter-news2-none"] == "no score 2"
    assert texts[f"filter-district-{scene.chain.district.uuid}"].endswith(" 2")
    # A post under the hub itself counts in the hub's district.
    assert texts[f"filter-district-{scene.chain.hub.uuid}"].endswith(" 1")

    assert shown(overdue) == {str(emergency.uuid)}
    assert by_testid(overdue).texts["board-total"] == "1 of 3 open requests"
    assert shown(cardiology) == {str(emergency.uuid), str(urgent.uuid)}
    # With cardiology chosen, the form counts are those within cardiology.
    narrowed = by_testid(cardiology).texts
    assert narrowed["filter-form-planned"] == "planned 0"
    assert narrowed["filter-specialty-cardiology"] == "Cardiology 2"  # its own facet kept whole
    assert shown(district) == {str(planned.uuid)}
    assert shown(high) == {str(emergency.uuid)}


def test_the_live_refresh_keeps_the_filters(scene, board):
    emergency, *_ = board
    client = client_for(scene.coordinator)
    page = client.get("/consultations/", {"form": "emergency"}).content.decode()
    assert 'hx-get="/consultations/?form=emergency"' in page
    fragment = client.get(
        "/consultations/", {"form": "emergency"}, headers={"HX-Request": "true"}
    ).content.decode()
    assert shown(fragment) == {str(emergency.uuid)}
    assert "<html" not in fragment
    assert 'aria-current="true"' in fragment


def test_unknown_filter_values_show_the_whole_board(scene, board):
    client = client_for(scene.coordinator)
    page = client.get("/consultations/", {"form": "someday", "district": "nowhere"})
    assert page.status_code == 200
    assert len(shown(page.content.decode())) == 3


def test_the_coordinators_home_counts_what_is_pressing(scene, board):
    client = client_for(scene.coordinator)
    with time_machine.travel(ANADYR_AFTERNOON + timedelta(hours=3), tick=False):
        home = client.get("/").content.decode()
    texts = by_testid(home).texts
    assert texts["pressing-deadline-breached"] == "overdue 1"
    assert 'href="/consultations/?deadline=breached"' in home


def test_a_reason_that_names_the_patient_is_refused(scene, stuck):
    # The reason goes on the timeline, which a consultant abroad may read.
    consultation, *_ = stuck
    response = client_for(scene.coordinator).post(
        f"/consultations/{consultation.uuid}/reassign/",
        {"consultant": str(scene.federal_cardiologist.uuid), "reason": "Тынетегин Семён"},
    )
    assert response.status_code == 422
    assert "names the patient" in by_testid(response.content.decode()).texts["reassign-errors"]
