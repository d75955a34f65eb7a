"""The request form shares the page with the header's language switch: no two controls on the
page bear one name in two meanings, and the language of the request still reaches the request."""

from __future__ import annotations

import re
from collections import Counter

from django.test import Client

from farcare.consults.models import Consultation

from .conftest import Scene
from .test_pages import request_post

CONTROL = re.compile(r"<(input|select|textarea)\b([^>]*)>", re.S)


def _visible_names(page: str) -> Counter[str]:
    """The names of the controls a user can change, a group of radio buttons counted once (hidden
    fields such as the CSRF token are the same in every form by design)."""
    names: Counter[str] = Counter()
    radios: set[str] = set()
    for _tag, attrs in CONTROL.findall(page):
        if re.search(r'type="(hidden|submit|button)"', attrs):
            continue
        found = re.search(r'\bname="([^"]+)"', attrs)
        if not found:
            continue
        if 'type="radio"' in attrs:
            radios.add(found.group(1))
        else:
            names[found.group(1)] += 1
    names.update(radios)
    return names


def test_no_two_controls_on_the_request_page_share_a_name(scene: Scene):
    client = Client()
    client.force_login(scene.feldsher)
    page = client.get(f"/consultations/new/{scene.patient.uuid}/").content.decode()
    names = _visible_names(page)
    assert names["language"] == 1  # the header's switch of the interface language
    assert [name for name, count in names.items() if count > 1] == []
    assert re.search(r'<select[^>]*name="request_language"', page)


def test_the_language_of_the_request_reaches_the_request(scene: Scene):
    client = Client()
    client.force_login(scene.feldsher)
    data = request_post()
    del data["request_language"]
    answer = client.post(
        f"/consultations/new/{scene.patient.uuid}/", {**data, "request_language": "en"}
    )
    assert answer.status_code == 302, answer.content.decode()[:2000]
    assert Consultation.objects.get().language == "en"
