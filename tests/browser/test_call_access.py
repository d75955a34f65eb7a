"""Issue 14, who is in the call: a cardiologist of the federal centre, who could read the case
but holds no part in it, opens the call's address and gets the refusal page (recorded); the
Korean partner's cardiologist, who took the case abroad, joins the call and sees the case's
pseudonym, never the patient's name.

farcare.asgi under uvicorn (the page opens its signalling socket); no TURN: on loopback the
browsers need none."""

from __future__ import annotations

import pytest

from farcare.audit.models import AuditAction, AuditEvent
from farcare.demo.loader import DEMO_PASSWORD

from ..calls.conftest import live_case
from ..consults.conftest import scene  # noqa: F401  (the consultations' scene)
from .conftest import log_in

pytestmark = [pytest.mark.browser, pytest.mark.calls]


def test_a_stranger_is_refused_and_the_consultant_abroad_sees_the_pseudonym(
    asgi_server,
    new_asgi_context,
    scene,  # noqa: F811
):
    case = live_case(scene, abroad=True)
    for user in (scene.federal_cardiologist, scene.partner_cardiologist):
        user.is_active = True
        user.set_password(DEMO_PASSWORD)
        user.save()

    stranger = log_in(new_asgi_context(), scene.federal_cardiologist.username)
    response = stranger.goto(f"/calls/{case.uuid}/")
    assert response is not None and response.status == 403
    assert stranger.get_by_role("heading", name="Access refused").is_visible()
    assert "You are not in this consultation's call." in stranger.content()
    assert "Тынетегин" not in stranger.content()
    assert AuditEvent.objects.filter(
        actor_uuid=scene.federal_cardiologist.uuid, action=AuditAction.DENIED, outcome="denied"
    ).exists()

    abroad = log_in(new_asgi_context(), scene.partner_cardiologist.username)
    abroad.goto(f"/calls/{case.uuid}/")
    abroad.get_by_role("button", name="Start the call").click()
    abroad.get_by_test_id("call-status").wait_for()
    label = abroad.get_by_test_id("call-patient").inner_text()
    assert label == f"Case {case.uuid.hex[:8].upper()}"
    assert abroad.get_by_test_id("pseudonymised").is_visible()
    page = abroad.content()
    for identity in ("Тынетегин", "Семён", scene.patient.snils or "Тынетегин"):
        assert identity not in page
    # Nothing is filed into the record from abroad: no photo to send.
    assert abroad.get_by_label("Send a photo").count() == 0
