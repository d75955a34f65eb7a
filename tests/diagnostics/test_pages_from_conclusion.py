"""One click from a signed conclusion's recommendation to the order form: the requester (and
the consultant, for the facility that asked) gets the patient, the consultation and the
recommended tests filled in; a consultant abroad, who never sees the patient, gets no link."""

from __future__ import annotations

import gzip
import re
import uuid

from django.urls import reverse

from farcare.audit.services import Accessor
from farcare.consults.models import EvacuationAdvice
from farcare.consults.services import ConclusionData, conclusion_sign, consult_accept
from farcare.diagnostics.models import Capability, DiagnosticOrder

from ..conftest import logged_in
from ..consults.conftest import scene  # noqa: F401

RECOMMENDATION = (
    "Potassium and the basic metabolic panel today; cardiac troponin I if pain returns."
)


def _signed(scene):  # noqa: F811
    consultation = scene.submit("urgent")
    consult_accept(accessor=Accessor(scene.hub_cardiologist), consultation=consultation)
    conclusion_sign(
        accessor=Accessor(scene.hub_cardiologist),
        consultation=consultation,
        data=ConclusionData(
            findings="Peaked T waves on the ECG sent.",
            diagnoses=["E87.5"],
            recommendations=RECOMMENDATION,
            evacuation=EvacuationAdvice.NONE,
        ),
    )
    Capability.objects.create(facility=scene.chain.hub, category="laboratory")
    return consultation


def test_the_requester_orders_the_recommended_tests_in_one_click(scene) -> None:  # noqa: F811
    consultation = _signed(scene)
    client = logged_in(scene.feldsher)
    case = client.get(reverse("consults:detail", args=[consultation.uuid])).content.decode()
    link = re.search(r'href="([^"]+)" data-testid="order-from-conclusion"', case)
    assert link is not None
    url = link.group(1).replace("&amp;", "&")
    form = client.get(url)
    assert form.status_code == 200
    page = form.content.decode()
    assert RECOMMENDATION in page
    for code in ("2823-3", "51990-0", "10839-9"):
        assert re.search(rf'value="{code}" checked', page), code
    assert str(consultation.uuid) in page
    # The order form, whole, is well within a satellite link's page budget.
    assert len(gzip.compress(form.content)) < 20_000
    token = re.search(r'name="client_token" value="([^"]+)"', page)
    assert token is not None
    placed = client.post(
        url,
        {
            "client_token": token.group(1),
            "consultation": str(consultation.uuid),
            "category": "laboratory",
            "codes": ["51990-0", "2823-3"],
            "reason": RECOMMENDATION,
            "priority": "urgent",
        },
    )
    assert placed.status_code == 302
    order = DiagnosticOrder.objects.get()
    assert order.consultation == consultation and order.orderer == scene.feldsher


def test_the_consultant_orders_for_the_facility_that_asked(scene) -> None:  # noqa: F811
    consultation = _signed(scene)
    client = logged_in(scene.hub_cardiologist)
    case = client.get(reverse("consults:detail", args=[consultation.uuid])).content.decode()
    assert 'data-testid="order-from-conclusion"' in case
    response = client.post(
        reverse("diagnostics:order_new", args=[scene.patient.uuid]),
        {
            "client_token": str(uuid.uuid4()),
            "consultation": str(consultation.uuid),
            "category": "laboratory",
            "codes": ["2823-3"],
            "reason": RECOMMENDATION,
            "priority": "urgent",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    order = DiagnosticOrder.objects.get()
    assert order.ordering_facility == scene.chain.post
    assert order.performer == scene.chain.hub


def test_a_consultant_abroad_gets_no_order_link(scene) -> None:  # noqa: F811
    scene.only_the_korean_partner_answers()
    consultation = scene.submit("urgent")
    consult_accept(accessor=Accessor(scene.partner_cardiologist), consultation=consultation)
    conclusion_sign(
        accessor=Accessor(scene.partner_cardiologist),
        consultation=consultation,
        data=ConclusionData(
            findings="—",
            diagnoses=["E87.5"],
            recommendations=RECOMMENDATION,
            evacuation=EvacuationAdvice.NONE,
        ),
    )
    client = logged_in(scene.partner_cardiologist)
    case = client.get(reverse("consults:detail", args=[consultation.uuid])).content.decode()
    assert RECOMMENDATION in case
    assert "order-from-conclusion" not in case
    refused = client.get(reverse("diagnostics:order_new", args=[scene.patient.uuid]))
    assert refused.status_code == 403
