"""The consultant signs a structured conclusion; any later change shows as a broken signature;
an amendment is a new signed version; the requester closes the loop."""

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from farcare.audit.services import Accessor
from farcare.consults.conclusions import conclusion_verification
from farcare.consults.models import Conclusion, EvacuationAdvice, Status
from farcare.consults.services import (
    ConclusionData,
    conclusion_sign,
    consult_accept,
    consult_acknowledge,
    message_post,
)
from farcare.consults.workflow import IllegalTransition


def accepted(scene):
    consultation = scene.submit("emergency")
    return consult_accept(accessor=Accessor(scene.hub_cardiologist), consultation=consultation)


def evacuate(scene):
    return ConclusionData(
        findings="ST elevation in V1–V4 on the ECG sent.",
        diagnoses=["i21.0"],
        recommendations="Aspirin 250 mg chewed, heparin; prepare for the flight.",
        evacuation=EvacuationAdvice.URGENT_AIR,
        evacuation_destination=scene.chain.hub,
        follow_up="Call the hub on arrival.",
    )


def test_a_signed_conclusion_completes_the_request_and_verifies(scene):
    consultation = accepted(scene)
    conclusion = conclusion_sign(
        accessor=Accessor(scene.hub_cardiologist), consultation=consultation, data=evacuate(scene)
    )
    consultation.refresh_from_db()
    assert consultation.status == Status.COMPLETED
    assert conclusion.diagnoses[0]["code"] == "I21.0"
    assert conclusion_verification(conclusion).valid


def test_a_change_after_signing_breaks_the_signature(scene):
    consultation = accepted(scene)
    conclusion = conclusion_sign(
        accessor=Accessor(scene.hub_cardiologist), consultation=consultation, data=evacuate(scene)
    )
    Conclusion.objects.filter(pk=conclusion.pk).update(recommendations="Nothing to do.")
    conclusion.refresh_from_db()
    with translation.override("en"):
        result = conclusion_verification(conclusion)
    assert not result.valid
    assert "changed after it was signed" in result.reason


def test_an_amendment_is_a_new_version_and_the_first_stays(scene):
    consultation = accepted(scene)
    accessor = Accessor(scene.hub_cardiologist)
    first = conclusion_sign(accessor=accessor, consultation=consultation, data=evacuate(scene))
    data = evacuate(scene)
    data.recommendations += " Oxygen 2 L/min in flight."
    second = conclusion_sign(accessor=accessor, consultation=consultation, data=data)
    assert (first.version, second.version) == (1, 2)
    for conclusion in (first, second):
        conclusion.refresh_from_db()
        assert conclusion_verification(conclusion).valid


def test_an_unknown_icd10_code_is_refused_and_nothing_is_signed(scene):
    consultation = accepted(scene)
    data = evacuate(scene)
    data.diagnoses = ["I21.0", "Z99.999"]
    with pytest.raises(ValidationError) as refused:
        conclusion_sign(
            accessor=Accessor(scene.hub_cardiologist), consultation=consultation, data=data
        )
    assert "Z99.999" in str(refused.value)
    assert not Conclusion.objects.exists()
    consultation.refresh_from_db()
    assert consultation.status == Status.ACCEPTED


def test_evacuation_needs_a_destination(scene):
    consultation = accepted(scene)
    data = evacuate(scene)
    data.evacuation_destination = None
    with pytest.raises(ValidationError) as refused:
        conclusion_sign(
            accessor=Accessor(scene.hub_cardiologist), consultation=consultation, data=data
        )
    assert "evacuation_destination" in refused.value.message_dict


def test_asking_the_requester_holds_the_request_and_the_answer_resumes_it(scene):
    consultation = scene.submit("urgent")
    consult_accept(accessor=Accessor(scene.hub_cardiologist), consultation=consultation)
    message_post(
        accessor=Accessor(scene.hub_cardiologist),
        consultation=consultation,
        body="Send a 12-lead ECG, please.",
        ask_requester=True,
    )
    consultation.refresh_from_db()
    assert consultation.status == Status.ON_HOLD
    assert consultation.paused_at is not None
    deadline_before = consultation.deadline_at
    message_post(accessor=Accessor(scene.feldsher), consultation=consultation, body="ECG attached.")
    consultation.refresh_from_db()
    assert consultation.status == Status.IN_PROGRESS
    assert consultation.paused_at is None
    assert consultation.deadline_at >= deadline_before  # the hold did not eat the clock


def test_the_requester_acknowledges_and_records_what_was_done(scene):
    consultation = accepted(scene)
    with pytest.raises(IllegalTransition):
        consult_acknowledge(
            accessor=Accessor(scene.feldsher),
            consultation=consultation,
            action="evacuated",
            helped="yes",
        )
    conclusion_sign(
        accessor=Accessor(scene.hub_cardiologist), consultation=consultation, data=evacuate(scene)
    )
    ack = consult_acknowledge(
        accessor=Accessor(scene.feldsher),
        consultation=consultation,
        action="evacuated",
        helped="yes",
        note="Flown to Anadyr at 14:10",
    )
    assert ack.conclusion.version == 1
    assert "acknowledged" in consultation.transitions.values_list("event", flat=True)


def test_the_conclusion_prints_as_a_pdf_in_the_readers_language(scene):
    from django.test import Client

    consultation = accepted(scene)
    conclusion_sign(
        accessor=Accessor(scene.hub_cardiologist), consultation=consultation, data=evacuate(scene)
    )
    scene.feldsher.language = "ru"
    scene.feldsher.save()
    client = Client()
    client.force_login(scene.feldsher)
    response = client.get(f"/consultations/{consultation.uuid}/conclusion/1/?format=pdf")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    pdf = response.content
    assert pdf.startswith(b"%PDF-")
    assert len(pdf) < 200_000  # small enough for a satellite link
    import io

    from pypdf import PdfReader

    text = PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    assert "I21.0" in text
    assert "Тынетегин" in text
    assert "заключение" in text.lower()  # headings in the reader's language
    html = client.get(f"/consultations/{consultation.uuid}/conclusion/1/").content.decode()
    assert "I21.0" in html
    assert 'lang="ru"' in html


def test_resuming_a_held_request_restarts_its_clock_whoever_resumes_it(scene):
    from farcare.consults.services import consult_transition

    consultation = scene.submit("urgent")
    consult_accept(accessor=Accessor(scene.hub_cardiologist), consultation=consultation)
    message_post(
        accessor=Accessor(scene.hub_cardiologist),
        consultation=consultation,
        body="Send a photo, please.",
        ask_requester=True,
    )
    consult_transition(
        accessor=Accessor(scene.hub_cardiologist),
        consultation=consultation,
        target=Status.IN_PROGRESS,
    )
    consultation.refresh_from_db()
    assert consultation.status == Status.IN_PROGRESS
    assert consultation.paused_at is None
