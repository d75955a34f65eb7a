"""The call page: who sees it, what it shows (the pseudonym abroad), the way in from the case."""

from __future__ import annotations

from django.utils import timezone

from farcare.calls.models import Call
from farcare.core.templatetags.farcare import when

from ..conftest import logged_in
from .conftest import live_case


def test_the_feldsher_starts_the_call_from_the_case_page(scene, case):
    browser = logged_in(scene.feldsher)
    detail = browser.get(f"/consultations/{case.uuid}/").content.decode()
    assert f'href="/calls/{case.uuid}/"' in detail and "Join the call" in detail
    before = browser.get(f"/calls/{case.uuid}/")
    assert before.status_code == 200 and "Start the call" in before.content.decode()
    joined = browser.post(f"/calls/{case.uuid}/", follow=True)
    page = joined.content.decode()
    call = Call.objects.get(consultation=case)
    assert f"/ws/call/{call.uuid}/" in page and "calls/call.js" in page
    assert 'id="call-config" type="application/json"' in page
    # A photo goes by the house's resumable upload, from the phone's camera if there is one.
    assert 'accept="image/*" capture="environment"' in page
    assert "uploads/tus.js" in page and '"upload_url": "/uploads/"' in page
    policy = joined.headers["Permissions-Policy"]
    assert "camera=(self)" in policy and "microphone=(self)" in policy
    assert "geolocation=()" in policy
    # Elsewhere camera and microphone stay denied.
    assert "camera=()" in browser.get("/").headers["Permissions-Policy"]


def test_the_consultant_sees_the_open_call_and_joins(scene, case):
    logged_in(scene.feldsher).post(f"/calls/{case.uuid}/")
    consultant = logged_in(scene.hub_cardiologist)
    assert "A call is open since" in consultant.get(f"/consultations/{case.uuid}/").content.decode()
    assert "Join the call" in consultant.get(f"/calls/{case.uuid}/").content.decode()


def test_a_stranger_gets_403_and_no_link(scene, case):
    for stranger in (scene.federal_cardiologist, scene.coordinator):
        browser = logged_in(stranger)
        assert browser.get(f"/calls/{case.uuid}/").status_code == 403
        assert browser.post(f"/calls/{case.uuid}/").status_code == 403
    detail = logged_in(scene.coordinator).get(f"/consultations/{case.uuid}/").content.decode()
    assert "Join the call" not in detail
    assert not Call.objects.exists()


def test_the_consultant_abroad_sees_the_pseudonym_only(scene):
    case = live_case(scene, abroad=True)
    abroad = logged_in(scene.partner_cardiologist)
    abroad.post(f"/calls/{case.uuid}/")
    page = abroad.get(f"/calls/{case.uuid}/").content.decode()
    assert f"Case {case.uuid.hex[:8].upper()}" in page
    assert "Тынетегин" not in page and "Семён" not in page
    assert 'data-testid="pseudonymised"' in page
    # Abroad nothing is filed into the patient's record: no photo to send from here.
    assert 'id="photo-input"' not in page


def test_the_time_the_call_started_is_in_the_viewers_zone(scene, case):
    logged_in(scene.feldsher).post(f"/calls/{case.uuid}/")
    call = Call.objects.get(consultation=case)
    for zone in ("Asia/Anadyr", "Asia/Seoul"):
        scene.hub_cardiologist.time_zone = zone
        scene.hub_cardiologist.save()
        page = logged_in(scene.hub_cardiologist).get(f"/calls/{case.uuid}/").content.decode()
        with timezone.override(zone):
            assert when(call.started_at) in page
