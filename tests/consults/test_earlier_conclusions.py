"""A case page lists what consultants concluded about the same patient before, for those who
may open those cases; a consultant abroad, who sees the case pseudonymised, gets none of it."""

from django.test import Client

from farcare.audit.models import AuditEvent
from farcare.audit.services import Accessor
from farcare.consults.models import EvacuationAdvice
from farcare.consults.services import ConclusionData, conclusion_sign, consult_accept

from .conftest import consultant


def client_for(user, language="en"):
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    client.force_login(user)
    return client


def concluded(scene):
    """A first request, answered by the hub's cardiologist: acute anterior MI."""
    consultation = scene.submit("emergency")
    consult_accept(accessor=Accessor(scene.hub_cardiologist), consultation=consultation)
    conclusion_sign(
        accessor=Accessor(scene.hub_cardiologist),
        consultation=consultation,
        data=ConclusionData(
            findings="ST elevation in V1–V4.",
            diagnoses=["I21.0"],
            recommendations="Aspirin, heparin; evacuate.",
            evacuation=EvacuationAdvice.URGENT_AIR,
            evacuation_destination=scene.chain.hub,
        ),
    )
    return consultation


def earlier_section(html):
    start = html.find('data-testid="earlier-conclusions"')
    return html[start : html.find("</section>", start)] if start >= 0 else ""


def test_the_next_case_shows_the_earlier_conclusion_to_those_treating_the_patient(scene):
    first = concluded(scene)
    second = scene.submit("urgent", question="Chest pain again, a month after the MI.")
    for reader in (scene.feldsher, scene.hub_cardiologist, scene.coordinator):
        section = earlier_section(
            client_for(reader).get(f"/consultations/{second.uuid}/").content.decode()
        )
        assert "I21.0" in section, reader
        assert "Cardiology" in section
        assert f"/consultations/{first.uuid}/" in section
    # What was listed is in the audit trail, like the case itself.
    shown = AuditEvent.objects.filter(
        patient_uuid=scene.patient.uuid, details__has_key="earlier_conclusions"
    )
    assert shown.count() == 3
    assert shown.first().details["earlier_conclusions"] == [str(first.uuid)]
    # The first case has nothing before it.
    html = client_for(scene.feldsher).get(f"/consultations/{first.uuid}/").content.decode()
    assert earlier_section(html) == ""


def test_the_diagnosis_is_described_in_the_readers_language(scene):
    concluded(scene)
    second = scene.submit("urgent")
    scene.feldsher.language = "ru"
    scene.feldsher.save()
    section = earlier_section(
        client_for(scene.feldsher).get(f"/consultations/{second.uuid}/").content.decode()
    )
    assert "I21.0" in section
    assert "инфаркт" in section.lower()
    assert "Ранее данные заключения" in section


def test_a_consultant_who_may_only_claim_the_new_case_does_not_see_the_earlier_ones(scene):
    concluded(scene)
    second = scene.submit("urgent")
    colleague = consultant(scene.chain.hub, scene.cardiology, username="hub_cardio_2")
    page = client_for(colleague).get(f"/consultations/{second.uuid}/")
    assert page.status_code == 200  # they may take the new request...
    assert earlier_section(page.content.decode()) == ""  # ...but not read the patient's past


def test_a_consultant_abroad_sees_no_earlier_conclusion(scene):
    concluded(scene)
    scene.only_the_korean_partner_answers()
    second = scene.submit("urgent")
    html = (
        client_for(scene.partner_cardiologist, "ko")
        .get(f"/consultations/{second.uuid}/")
        .content.decode()
    )
    assert 'data-testid="pseudonymised"' in html
    assert earlier_section(html) == ""
    assert "I21.0" not in html
