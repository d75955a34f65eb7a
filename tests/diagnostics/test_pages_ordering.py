"""The feldsher orders tests from the patient's page: the catalogue found as it is typed (code or
words in the page's language), a reason required, the laboratory shown as routed; after placing,
the order's page lists its specimens with their labels. A retried form makes no second order.
Each page answers in ru, ko and en, refuses in the user's language, and never with a 500."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

import pytest
from django.test import Client
from django.urls import reverse

from farcare.accounts.models import Role, User
from farcare.audit.models import AuditEvent
from farcare.diagnostics.models import Capability, DiagnosticOrder, PerformerRoute, SpecimenStatus
from farcare.patients.models import Patient

from ..conftest import Chain, logged_in, make_user
from ..factories import PatientFactory

BMP = "51990-0"
POTASSIUM = "2823-3"
TROPONIN = "10839-9"
CHEST_XRAY = "36643-5"


@dataclass
class LabScene:
    chain: Chain
    feldsher: User
    lab: User
    other_lab: User
    stranger: User
    coordinator: User
    patient: Patient

    def client(self, user: User, language: str = "en") -> Client:
        """The user logged in, with the page's language as their preference."""
        user.language = language
        user.save(update_fields=["language"])
        return logged_in(user, language)

    def order(self, codes: tuple[str, ...] = (BMP,), **extra: str) -> DiagnosticOrder:
        """The feldsher places an order through the form; the order it made."""
        client = self.client(self.feldsher)
        data = {
            "client_token": str(uuid.uuid4()),
            "category": extra.pop("category", "laboratory"),
            "codes": list(codes),
            "reason": extra.pop("reason", "Weakness and palpitations on digoxin."),
            "priority": extra.pop("priority", "urgent"),
            **extra,
        }
        response = client.post(reverse("diagnostics:order_new", args=[self.patient.uuid]), data)
        assert response.status_code == 302, response.content.decode()[:2000]
        return DiagnosticOrder.objects.get(client_token=data["client_token"])


@pytest.fixture
def lab_scene(chain: Chain) -> LabScene:
    return make_lab_scene(chain)


def make_lab_scene(chain: Chain) -> LabScene:
    """A post in Uelen orders from the laboratory of the regional hub (routed for Chukotka); a
    second laboratory in Sakha; a clinician of a post in Sakha who has no business here."""
    Capability.objects.create(facility=chain.hub, category="laboratory")
    Capability.objects.create(facility=chain.district, category="laboratory")
    Capability.objects.create(facility=chain.hub, category="imaging", modality="DX")
    Capability.objects.create(facility=chain.other_region_hub, category="laboratory")
    PerformerRoute.objects.create(
        region="Chukotka", category="laboratory", performer=chain.hub, rank=1
    )
    PerformerRoute.objects.create(
        region="Chukotka", category="laboratory", performer=chain.district, rank=2
    )
    return LabScene(
        chain=chain,
        feldsher=make_user(Role.CLINICIAN, chain.post, username="feldsher_uelen", language="en"),
        lab=make_user(Role.LABORATORY, chain.hub, username="lab_anadyr", language="en"),
        other_lab=make_user(Role.LABORATORY, chain.other_region_hub, username="lab_yakutsk"),
        stranger=make_user(Role.CLINICIAN, chain.other_region_post, username="feldsher_sakha"),
        coordinator=make_user(Role.COORDINATOR, chain.hub, username="coord_chukotka"),
        patient=PatientFactory(
            home_facility=chain.post, family="Тынетегин", given="Семён", middle="Петрович"
        ),
    )


def _page(response) -> str:
    return response.content.decode()


def test_the_patient_page_offers_tests_and_results(lab_scene: LabScene) -> None:
    page = _page(
        lab_scene.client(lab_scene.feldsher).get(
            reverse("patients:detail", args=[lab_scene.patient.uuid])
        )
    )
    assert reverse("diagnostics:order_new", args=[lab_scene.patient.uuid]) in page
    assert reverse("diagnostics:patient", args=[lab_scene.patient.uuid]) in page


@pytest.mark.parametrize(
    ("language", "potassium", "heading"),
    [
        ("en", "Potassium", "Basic metabolic panel"),
        ("ru", "Калий", "Базовая биохимическая панель"),
        ("ko", "칼륨", "기초 대사 검사"),
    ],
)
def test_the_order_form_names_the_tests_in_the_readers_language(
    lab_scene: LabScene, language: str, potassium: str, heading: str
) -> None:
    client = lab_scene.client(lab_scene.feldsher, language)
    response = client.get(reverse("diagnostics:order_new", args=[lab_scene.patient.uuid]))
    assert response.status_code == 200
    page = _page(response)
    assert f'lang="{language}"' in page
    assert heading in page and potassium in page
    # The laboratory the order goes to, as routed, and the routed alternative.
    performer = re.search(r'<select name="performer"[^>]*>(.*?)</select>', page, re.S)
    assert performer is not None
    options = re.findall(r'<option value="([^"]*)"', performer.group(1))
    assert options == ["", str(lab_scene.chain.hub.uuid), str(lab_scene.chain.district.uuid)]


@pytest.mark.parametrize(
    ("language", "typed", "found"),
    [
        ("ru", "калий", POTASSIUM),
        ("ko", "칼륨", POTASSIUM),
        ("en", "2823", POTASSIUM),
        ("en", "troponin", TROPONIN),
        ("ru", "биохим", BMP),
    ],
)
def test_the_catalogue_is_searched_as_it_is_typed(
    lab_scene: LabScene, language: str, typed: str, found: str
) -> None:
    client = lab_scene.client(lab_scene.feldsher, language)
    response = client.get(
        reverse("diagnostics:catalogue"),
        {"q": typed, "category": "laboratory"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    fragment = _page(response)
    assert f'value="{found}"' in fragment
    assert "<html" not in fragment and len(fragment) < 8_000


def test_what_is_ticked_stays_while_another_search_is_typed(lab_scene: LabScene) -> None:
    client = lab_scene.client(lab_scene.feldsher)
    fragment = _page(
        client.get(
            reverse("diagnostics:catalogue"),
            {"q": "troponin", "category": "laboratory", "codes": [BMP]},
        )
    )
    assert re.search(rf'value="{BMP}" checked', fragment)
    assert f'value="{TROPONIN}"' in fragment
    nothing = _page(client.get(reverse("diagnostics:catalogue"), {"q": "zzzz"}))
    assert "Nothing found" in nothing


def test_imaging_is_ordered_by_modality_and_body_site(lab_scene: LabScene) -> None:
    client = lab_scene.client(lab_scene.feldsher)
    fragment = _page(
        client.get(reverse("diagnostics:catalogue"), {"category": "imaging", "performer_too": "1"})
    )
    assert f'value="{CHEST_XRAY}"' in fragment and "X-ray" in fragment and "chest" in fragment
    assert f'value="{POTASSIUM}"' not in fragment
    # The performer field comes along for the new category (out of band).
    assert 'id="performer-field" hx-swap-oob="true"' in fragment
    order = lab_scene.order((CHEST_XRAY,), category="imaging", priority="routine")
    assert order.category == "imaging" and order.performer == lab_scene.chain.hub
    assert not order.specimens.exists()


def test_an_order_is_placed_and_its_page_lists_the_specimens_with_labels(
    lab_scene: LabScene,
) -> None:
    order = lab_scene.order((BMP,))
    assert order.performer == lab_scene.chain.hub
    assert order.placer_number.startswith("DX-")
    client = lab_scene.client(lab_scene.feldsher)
    page = _page(client.get(reverse("diagnostics:order", args=[order.uuid])))
    assert order.placer_number in page
    specimens = list(order.specimens.all())
    assert specimens
    for specimen in specimens:
        assert specimen.label in page
        assert f'data-testid="collect-{specimen.label}"' in page
    labels = _page(client.get(reverse("diagnostics:labels", args=[order.uuid])))
    assert all(specimen.label in labels for specimen in specimens)


def test_the_orderer_may_choose_a_routed_alternative(lab_scene: LabScene) -> None:
    order = lab_scene.order((POTASSIUM,), performer=str(lab_scene.chain.district.uuid))
    assert order.performer == lab_scene.chain.district


def test_a_laboratory_that_is_not_routed_cannot_be_chosen(lab_scene: LabScene) -> None:
    client = lab_scene.client(lab_scene.feldsher)
    response = client.post(
        reverse("diagnostics:order_new", args=[lab_scene.patient.uuid]),
        {
            "client_token": str(uuid.uuid4()),
            "category": "laboratory",
            "codes": [POTASSIUM],
            "reason": "Check potassium.",
            "priority": "routine",
            "performer": str(lab_scene.chain.other_region_hub.uuid),
        },
    )
    assert response.status_code == 422
    assert 'data-testid="error-summary"' in _page(response)
    assert not DiagnosticOrder.objects.exists()


def test_a_retried_form_makes_no_second_order(lab_scene: LabScene) -> None:
    client = lab_scene.client(lab_scene.feldsher)
    data = {
        "client_token": str(uuid.uuid4()),
        "category": "laboratory",
        "codes": [BMP],
        "reason": "Weakness.",
        "priority": "routine",
    }
    url = reverse("diagnostics:order_new", args=[lab_scene.patient.uuid])
    first = client.post(url, data)
    second = client.post(url, data)
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    assert DiagnosticOrder.objects.count() == 1


@pytest.mark.parametrize(
    ("language", "summary"),
    [
        ("en", "Please correct the following"),
        ("ru", "Исправьте, пожалуйста, следующее"),
        ("ko", "다음 항목을 수정하십시오"),
    ],
)
def test_an_order_without_reason_or_tests_is_refused_on_the_form(
    lab_scene: LabScene, language: str, summary: str
) -> None:
    client = lab_scene.client(lab_scene.feldsher, language)
    response = client.post(
        reverse("diagnostics:order_new", args=[lab_scene.patient.uuid]),
        {
            "client_token": str(uuid.uuid4()),
            "category": "laboratory",
            "reason": "  ",
            "priority": "routine",
        },
    )
    assert response.status_code == 422
    page = _page(response)
    assert summary in page
    assert 'href="#id_reason"' in page and 'href="#id_codes"' in page
    if language == "en":
        assert "Say why the tests are needed." in page
        assert "Choose at least one test or study." in page
    assert not DiagnosticOrder.objects.exists()


@pytest.mark.parametrize(
    "data",
    [
        {"category": "laboratory", "codes": ["nonsense"], "reason": "x", "priority": "routine"},
        {"category": "space", "codes": [BMP], "reason": "x", "priority": "routine"},
        {"category": "laboratory", "codes": [CHEST_XRAY], "reason": "x", "priority": "routine"},
        {"category": "laboratory", "codes": [BMP], "reason": "x", "priority": "whenever"},
        {"category": "laboratory", "codes": [BMP], "reason": "x" * 5000, "priority": "routine"},
        {"client_token": "not-a-uuid", "category": "laboratory", "codes": [BMP], "reason": "x"},
    ],
)
def test_bad_input_is_a_form_error_never_a_500(lab_scene: LabScene, data: dict) -> None:
    client = lab_scene.client(lab_scene.feldsher)
    response = client.post(
        reverse("diagnostics:order_new", args=[lab_scene.patient.uuid]),
        {"client_token": str(uuid.uuid4()), **data},
    )
    assert response.status_code == 422
    assert 'data-testid="error-summary"' in _page(response)
    assert not DiagnosticOrder.objects.exists()


def test_a_clinician_of_another_region_is_refused_and_the_refusal_is_audited(
    lab_scene: LabScene,
) -> None:
    order = lab_scene.order((BMP,))
    client = lab_scene.client(lab_scene.stranger, "ru")
    for url in (
        reverse("diagnostics:order", args=[order.uuid]),
        reverse("diagnostics:order_new", args=[lab_scene.patient.uuid]),
        reverse("diagnostics:patient", args=[lab_scene.patient.uuid]),
    ):
        response = client.get(url)
        assert response.status_code == 403, url
        assert 'lang="ru"' in _page(response)
    denied = AuditEvent.objects.filter(actor_username=lab_scene.stranger.username, action="denied")
    assert denied.count() == 3
    assert str(lab_scene.patient.uuid) in {str(e.patient_uuid) for e in denied}
    # Nor does the stranger's list of orders show the order.
    listing = _page(client.get(reverse("diagnostics:orders")))
    assert order.placer_number not in listing


def test_only_clinicians_and_consultants_order(lab_scene: LabScene) -> None:
    response = lab_scene.client(lab_scene.lab).get(
        reverse("diagnostics:order_new", args=[lab_scene.patient.uuid])
    )
    assert response.status_code == 403


def test_the_orders_list_shows_the_patient_the_reason_and_the_status(
    lab_scene: LabScene,
) -> None:
    order = lab_scene.order((BMP,), reason="Weakness and palpitations on digoxin, K?")
    for language in ("en", "ru", "ko"):
        response = lab_scene.client(lab_scene.feldsher, language).get(reverse("diagnostics:orders"))
        assert response.status_code == 200
        page = _page(response)
        row = re.search(rf'data-testid="order-{order.placer_number}".*?</tr>', page, re.S)
        assert row is not None
        assert "Тынетегин С. П." in row.group(0)
        assert "Weakness and palpitations" in row.group(0)
    listed = AuditEvent.objects.filter(
        actor_username=lab_scene.feldsher.username, action="search"
    ).last()
    assert listed is not None
    assert str(lab_scene.patient.uuid) in str(listed.details)


def test_the_orderer_cancels_with_a_reason(lab_scene: LabScene) -> None:
    order = lab_scene.order((POTASSIUM,))
    client = lab_scene.client(lab_scene.feldsher)
    url = reverse("diagnostics:cancel", args=[order.uuid])
    refused = client.post(url, {"version": order.version, "reason": ""})
    assert refused.status_code == 422
    done = client.post(url, {"version": order.version, "reason": "Patient evacuated."})
    assert done.status_code == 302
    order.refresh_from_db()
    assert order.status == "revoked"
    assert order.specimens.filter(status=SpecimenStatus.AWAITING).count() >= 0


def test_the_patient_reads_results_on_their_own_pages_not_on_the_staffs(
    lab_scene: LabScene,
) -> None:
    order = lab_scene.order((BMP,))
    person = make_user(Role.PATIENT, None, username="semyon")
    lab_scene.patient.user = person
    lab_scene.patient.save(update_fields=["user"])
    client = lab_scene.client(person)
    for url in (
        reverse("diagnostics:order", args=[order.uuid]),
        reverse("diagnostics:patient", args=[lab_scene.patient.uuid]),
    ):
        assert client.get(url).status_code == 403, url
