"""What the feldsher types is kept on the server as they type, so a link that drops in web
mode loses seconds, not the request: the form opened again brings the draft back, and sending
it makes that very request. A draft is sent only from the form, where it is checked."""

import re
import uuid
from html import unescape

from farcare.audit.models import AuditEvent
from farcare.consults.models import Consultation, Status

from ..conftest import make_user
from .test_pages import client_for, request_post


def _autosave_url(scene):
    return f"/consultations/new/{scene.patient.uuid}/autosave/"


def _typed(token, **overrides):
    """What the form holds part-way through: no vitals yet, no form chosen, no files."""
    data = {
        "client_token": str(token),
        "specialty": "cardiology",
        "mode": "deferred",
        "request_language": "ru",
        "question": "Боль за грудиной два часа. Тромболизис или эвакуация?",
        "vital_heart_rate": "124",
        "vital_spo2_scale": "1",
    }
    data.update(overrides)
    return data


def _field(page, name):
    found = re.search(rf'<(input|textarea)[^>]*name="{name}"[^>]*>(.*?</textarea>)?', page, re.S)
    assert found, name
    if found.group(1) == "textarea":
        return unescape(re.sub(r"</textarea>$", "", found.group(2)).lstrip("\n"))
    value = re.search(r'value="([^"]*)"', found.group(0))
    return unescape(value.group(1)) if value else ""


def test_what_is_typed_is_kept_and_comes_back_when_the_form_is_opened_again(scene):
    client = client_for(scene.feldsher)
    token = uuid.uuid4()
    saved = client.post(_autosave_url(scene), _typed(token), HTTP_HX_REQUEST="true")
    assert saved.status_code == 200
    assert "Draft saved" in saved.content.decode()
    draft = Consultation.objects.get(client_token=token)
    assert draft.status == Status.DRAFT
    assert draft.vitals.get(key="heart_rate").value == "124"

    # The link dropped; the feldsher opens the form again from the patient's page.
    page = client.get(f"/consultations/new/{scene.patient.uuid}/").content.decode()
    assert _field(page, "client_token") == str(token)
    assert _field(page, "question") == "Боль за грудиной два часа. Тромболизис или эвакуация?"
    assert _field(page, "vital_heart_rate") == "124"
    assert 'data-testid="draft-restored"' in page

    # Sending it makes that very request, not a second one.
    sent = client.post(
        f"/consultations/new/{scene.patient.uuid}/", request_post(client_token=str(token))
    )
    assert sent.status_code == 302
    assert Consultation.objects.get().pk == draft.pk
    assert Consultation.objects.get().status == Status.REQUESTED


def test_a_new_request_can_be_started_instead(scene):
    client = client_for(scene.feldsher)
    token = uuid.uuid4()
    client.post(_autosave_url(scene), _typed(token))
    page = client.get(f"/consultations/new/{scene.patient.uuid}/?new=1").content.decode()
    assert _field(page, "client_token") != str(token)
    assert _field(page, "question") == ""


def test_nothing_is_kept_before_a_specialty_is_chosen_and_the_form_says_so(scene):
    client = client_for(scene.feldsher)
    answer = client.post(_autosave_url(scene), _typed(uuid.uuid4(), specialty=""))
    assert "Choose the specialty" in answer.content.decode()
    assert not Consultation.objects.exists()


def test_saving_what_is_already_kept_writes_nothing(scene):
    client = client_for(scene.feldsher)
    token = uuid.uuid4()
    client.post(_autosave_url(scene), _typed(token))
    records = AuditEvent.objects.count()
    client.post(_autosave_url(scene), _typed(token))
    assert AuditEvent.objects.count() == records
    client.post(_autosave_url(scene), _typed(token, question="Боль за грудиной три часа."))
    assert AuditEvent.objects.count() == records + 1


def test_a_sent_request_is_not_changed_by_a_late_autosave(scene):
    client = client_for(scene.feldsher)
    token = uuid.uuid4()
    client.post(f"/consultations/new/{scene.patient.uuid}/", request_post(client_token=str(token)))
    late = client.post(_autosave_url(scene), _typed(token, question="changed"))
    assert "sent already" in late.content.decode()
    assert Consultation.objects.get().question != "changed"


def test_another_clinicians_draft_cannot_be_written_through_its_token(scene):
    token = uuid.uuid4()
    client_for(scene.feldsher).post(_autosave_url(scene), _typed(token))
    colleague = make_user(scene.feldsher.role, scene.feldsher.facility, username="colleague")
    refused = client_for(colleague).post(_autosave_url(scene), _typed(token, question="mine now"))
    assert refused.status_code == 403
    assert Consultation.objects.get().question.startswith("Боль")


def test_a_draft_is_sent_from_the_form_where_it_is_checked(scene):
    """ "Submit" on a draft's case page once sent an emergency with no question or vitals."""
    client = client_for(scene.feldsher)
    client.post(_autosave_url(scene), _typed(uuid.uuid4(), question="", form="emergency"))
    draft = Consultation.objects.get()
    moved = client.post(f"/consultations/{draft.uuid}/move/requested/", {"version": draft.version})
    assert moved.status_code == 302
    assert moved["Location"] == f"/consultations/new/{scene.patient.uuid}/?draft={draft.uuid}"
    draft.refresh_from_db()
    assert draft.status == Status.DRAFT
    page = client.get(moved["Location"]).content.decode()
    assert _field(page, "client_token") == str(draft.client_token)


def test_the_form_autosaves_through_htmx_without_the_files(scene):
    page = client_for(scene.feldsher).get(f"/consultations/new/{scene.patient.uuid}/")
    text = page.content.decode()
    autosave = re.search(r'<div id="autosave"[^>]*>', text).group(0)
    assert f'hx-post="{_autosave_url(scene)}"' in autosave
    assert "input changed delay:2s from:#request-form" in autosave
    assert 'hx-params="not attachments,photos"' in autosave
    assert 'id="link-banner"' in text and "hidden" in re.search(
        r'<div id="link-banner"[^>]*>', text
    ).group(0)
