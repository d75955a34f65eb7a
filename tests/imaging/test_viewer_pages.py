"""The viewer over a weak link: the first screen (page and first frame) within the 60 KB
budget, frames drawn on the server at the viewport size with window presets, slices stepped by
links (HTMX swaps only the viewer), frames cacheable, and one audit record per opening."""

from __future__ import annotations

import gzip
import re

import pytest

from farcare.audit.models import AuditEvent
from tests.conftest import logged_in

pytestmark = pytest.mark.django_db

BUDGET = 60 * 1024


def _frame_url(html: str) -> str:
    return re.search(r'<img class="frame" src="([^"]+)"', html).group(1).replace("&amp;", "&")


def test_the_first_screen_is_within_the_page_budget(reading):
    study = reading.store_ct(size=512)
    client = logged_in(reading.radiologist)
    page = client.get(f"/imaging/studies/{study.uuid}/")
    html = page.content.decode()
    frame = client.get(_frame_url(html), HTTP_ACCEPT="image/webp,*/*")

    assert frame.status_code == 200 and frame["Content-Type"] == "image/webp"
    first_screen = len(gzip.compress(page.content)) + len(frame.content)
    assert first_screen <= BUDGET, first_screen
    assert "Slice 3 of 5" in html  # opens in the middle of the series


def test_frames_are_cacheable_privately_and_revalidate_with_their_etag(reading):
    study = reading.store_ct()
    client = logged_in(reading.radiologist)
    url = _frame_url(client.get(f"/imaging/studies/{study.uuid}/").content.decode())
    frame = client.get(url)
    assert "private" in frame["Cache-Control"] and frame["ETag"]
    again = client.get(url, HTTP_IF_NONE_MATCH=frame["ETag"])
    assert again.status_code == 304 and again.content == b""
    jpeg = client.get(url, HTTP_ACCEPT="image/jpeg")
    assert jpeg["Content-Type"] == "image/jpeg" and jpeg.content[:2] == b"\xff\xd8"


def test_window_presets_and_slices_change_the_picture(reading):
    study = reading.store_ct()
    client = logged_in(reading.radiologist)
    base = f"/imaging/studies/{study.uuid}/"
    html = client.get(base).content.decode()
    for preset in ("lung", "mediastinum", "bone", "brain"):
        assert f'data-testid="preset-{preset}"' in html
    lung = client.get(_frame_url(client.get(base + "?w=lung").content.decode())).content
    bone = client.get(_frame_url(client.get(base + "?w=bone").content.decode())).content
    assert lung != bone

    step = client.get(base + "?s=0&i=3&w=lung", HTTP_HX_REQUEST="true")
    fragment = step.content.decode()
    assert fragment.startswith('<section class="viewer"') and "<html" not in fragment
    assert "Slice 4 of 5" in fragment
    assert client.get(_frame_url(fragment)).content != lung


def test_one_audit_record_per_opening_not_per_frame(reading):
    study = reading.store_ct()
    client = logged_in(reading.radiologist)
    views = AuditEvent.objects.filter(
        actor_username=reading.radiologist.username, action="view", record_id=str(study.uuid)
    )
    html = client.get(f"/imaging/studies/{study.uuid}/").content.decode()
    for i in range(5):
        client.get(f"/imaging/studies/{study.uuid}/?i={i}", HTTP_HX_REQUEST="true")
        client.get(_frame_url(html).replace("w=", f"i={i}&w="))
    assert views.count() == 1 and views.first().patient_uuid == reading.patient.uuid

    # A frame fetched without opening the viewer (another session) is audited on its own.
    stranger_session = logged_in(reading.radiologist)
    stranger_session.get(_frame_url(html))
    assert views.count() == 2


def test_a_radiograph_is_shown_with_its_own_window(reading):
    from farcare.audit.services import Accessor
    from farcare.imaging import samples
    from farcare.imaging.services import study_store

    study = study_store(
        accessor=Accessor(reading.district_doctor),
        patient=reading.patient,
        files=[samples.xray_dicom(seed=3)],
        facility=reading.chain.district,
    )
    html = logged_in(reading.radiologist).get(f"/imaging/studies/{study.uuid}/").content.decode()
    assert 'data-testid="preset-header"' in html and "preset-lung" not in html
