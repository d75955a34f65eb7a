"""The station's pages speak as the hub's do. The case page: once the hub has answered, the
feldsher reads there the hub's thread merged with her own messages (each once), the status, when
the hub received the request, the deadline in her zone with the time left, who answers, and NEWS2.
The Outbox page: what "Sync now" started, when the next try comes while the link is down, and the
time left as a range while the link is still being measured."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.template.loader import render_to_string
from django.test import Client
from django.utils import timezone, translation

from farcare.accounts.models import User
from farcare.consults.models import Conclusion, Consultation
from farcare.consults.selectors import ThreadEntry
from farcare.consults.services import message_post
from farcare.sync import station as sync
from farcare.sync.models import HubCopy, StationConfig
from farcare.sync.records import consultation_copy
from farcare.sync.selectors import _copies, merged_thread
from farcare.testing.hub import HubProcess
from farcare.testing.weaklink import WeakLink

from .helpers import feldsher, hub_json, register, request

pytestmark = pytest.mark.weaklink

AT_HUB = (
    "from farcare.consults.models import Consultation\n"
    "c = Consultation.objects.get(uuid='{uuid}')\n"
    "who = c.assignments.filter(ended_at__isnull=True).first().consultant\n"
    "result = {{'consultant': str(who), 'received_at': c.received_at,\n"
    "  'deadline_at': c.deadline_at, 'news2': c.news2_total, 'status': c.status}}\n"
)


def _text(fragment: str) -> str:
    """What a reader sees of a piece of HTML: the text, with its white space collapsed."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", fragment))).strip()


def _fields(page: str) -> dict[str, str]:
    """The case's facts as the page lists them: term → what is written against it."""
    return {
        _text(term): definition
        for term, definition in re.findall(r"<dt>(.*?)</dt>\s*<dd[^>]*>(.*?)</dd>", page, re.S)
    }


def _part(page: str, testid: str) -> str:
    found = re.search(rf'<(\w+)[^>]*data-testid="{testid}"[^>]*>(.*?)</\1>', page, re.S)
    assert found, f"no {testid} on the page"
    return found.group(2)


def _utc(moment: str) -> str:
    """A moment as the page's <time datetime="…"> carries it: UTC, to the second."""
    return datetime.fromisoformat(moment).astimezone(UTC).isoformat(timespec="seconds")


def _case(client: Client, consultation: Consultation) -> str:
    answer = client.get(f"/consultations/{consultation.uuid}/")
    assert answer.status_code == 200
    return answer.content.decode()


def test_the_case_page_at_the_post_shows_what_the_hub_has(
    station: StationConfig, hub: HubProcess
) -> None:
    User.objects.filter(username="feldsher").update(language="en")
    # Respiration 26 (3) and pulse 124 (2): NEWS2 5, a medium risk.
    consultation = request(register("Страницева"), form="urgent")
    client = Client()
    assert client.login(username="feldsher", password="farcare-demo")

    # Before the link has carried anything, the post computes NEWS2 itself, as the hub does.
    page = _case(client, consultation)
    assert _text(_part(page, "news2")) == "NEWS2: 5 — Medium"
    assert _text(_fields(page)["Received"]) == "—"

    sync.sync_until_done(pause=0.1)
    hub.consultant_asks(consultation.uuid, "Какое давление?")
    sync.sync_until_done(pause=0.1)

    page = _case(client, consultation)
    thread = _text(_part(page, "thread"))
    assert thread.count("Какое давление?") == 1
    assert "No messages yet" not in page
    assert "question to the requester" in thread

    # She answers at the post; the hub echoes her message back with the UUID she gave it.
    message_post(accessor=feldsher(), consultation=consultation, body="АД 90/60")
    page = _case(client, consultation)
    assert _text(_part(page, "thread")).count("АД 90/60") == 1
    sync.sync_until_done(pause=0.1)
    page = _case(client, consultation)
    thread = _text(_part(page, "thread"))
    assert thread.count("Какое давление?") == 1
    assert thread.count("АД 90/60") == 1
    assert thread.index("Какое давление?") < thread.index("АД 90/60")

    # The feldsher's answer resumed the request at the hub, whose clock moved on by the pause.
    at_hub: dict[str, Any] = hub_json(hub, AT_HUB.format(uuid=consultation.uuid))
    assert at_hub["status"] == "in-progress"
    fields = _fields(page)
    assert _text(fields["Status"]) == "in progress"
    received = fields["Received"]
    assert f'datetime="{_utc(at_hub["received_at"])}"' in received
    assert "(Asia/Anadyr, UTC+12)" in _text(received)
    deadline = fields["Deadline"]
    assert f'datetime="{_utc(at_hub["deadline_at"])}"' in deadline
    assert re.search(r"\(Asia/Anadyr, UTC\+12\) 2\d h \d+ min left$", _text(deadline))
    assert at_hub["consultant"] in _text(fields["Consultants"])
    assert at_hub["news2"] == 5
    assert _text(_part(page, "news2")) == "NEWS2: 5 — Medium"


def test_the_outbox_page_says_what_sync_now_started_and_when_the_next_try_comes(
    station: StationConfig, link: WeakLink, settings: Any
) -> None:
    settings.FARCARE_STATION_TIMEOUT_SECONDS = 2  # the link is down: no need to wait long
    User.objects.filter(username="feldsher").update(language="en")
    request(register("Кнопкина"), form="urgent")
    link.go_down()
    assert sync.sync_once().link_down
    client = Client()
    assert client.login(username="feldsher", password="farcare-demo")

    page = client.post("/station/sync/", follow=True).content.decode()
    assert _text(_part(page, "flash")) in {
        "Sync started.",
        "A sync is running; it will check again at once.",
    }
    # The background loop, after the drop, waits 40 s before it asks the hub again.
    StationConfig.objects.update(next_try_at=timezone.now() + timedelta(seconds=40))
    page = client.get("/station/").content.decode()
    assert "down" in _text(_part(page, "link"))
    assert re.fullmatch(r"next try in (39|40) s", _text(_part(page, "next-try")))
    assert "flash" not in page  # said once, not on every visit

    # The pass the button started ends before the next test (it holds the station's lock).
    link.come_up()
    sync.sync_once(wait=True)


def test_the_time_left_is_a_range_until_the_link_is_measured() -> None:
    with translation.override("en"):
        measuring = render_to_string(
            "sync/_time_left.html", {"link": {"time_left_low": 610.4, "time_left_high": 905.2}}
        )
        known = render_to_string("sync/_time_left.html", {"link": {"seconds_left": 780.2}})
    assert _text(measuring) == (
        "About 10 min to 15 min left on the current link (still measuring it)."
    )
    assert _text(known) == "About 13 min left on the current link."
    with translation.override("ru"):
        soon = render_to_string("sync/_time_left.html", {"link": {"seconds_left": 95}})
        long = render_to_string("sync/_time_left.html", {"link": {"seconds_left": 3 * 3600 + 610}})
    assert _text(soon) == "Осталось около 95 с при текущей связи."
    assert _text(long) == "Осталось около 3 ч 10 мин при текущей связи."


def test_the_thread_keeps_each_message_once_in_time_order() -> None:
    start = datetime(2026, 12, 6, 3, 0, tzinfo=UTC)
    mine = ThreadEntry(
        uuid="b", author="Фельдшер", at=start + timedelta(minutes=5), body="АД 90/60"
    )
    hub = [
        {"uuid": "a", "author": {"name": "Кардиолог"}, "at": start, "body": "Какое давление?"},
        # The hub's echo of the feldsher's own message, with the UUID she gave it.
        {"uuid": "b", "author": {"name": "Фельдшер"}, "at": start + timedelta(minutes=6)},
        {"uuid": "c", "author": {"name": "Кардиолог"}, "at": start + timedelta(minutes=9)},
    ]
    assert [e.uuid for e in merged_thread([mine], hub)] == ["a", "b", "c"]
    assert merged_thread([mine], hub)[1] is mine  # the local one, with its files


def test_the_post_shows_the_number_the_hub_gave_the_signed_conclusion(demo_network: None) -> None:
    # A conclusion signed at the hub (the demo's), as the hub sends it to the post.
    conclusion = Conclusion.objects.exclude(number="").select_related("consultation").first()
    assert conclusion is not None and conclusion.number.startswith("ТМК-")
    consultation = conclusion.consultation
    data = consultation_copy(consultation)
    assert data["conclusion"]["number"] == conclusion.number

    # The post's case page quotes it as the hub's page does, beside the PDF.
    pulled = HubCopy(consultation_uuid=consultation.uuid, data=data)
    with translation.override("en"):
        part = render_to_string(
            "sync/_case.html",
            {"station_case": {"items": [], "link": {}, "copy": _copies([pulled])[0]}},
        )
    assert _text(_part(part, "document-number")) == conclusion.number
    assert f"Document number: {conclusion.number}" in _text(_part(part, "hub-conclusion"))

    # A copy pulled from a hub that did not number its conclusions yet shows no number.
    del data["conclusion"]["number"]
    with translation.override("en"):
        part = render_to_string(
            "sync/_case.html",
            {"station_case": {"items": [], "link": {}, "copy": _copies([pulled])[0]}},
        )
    assert "document-number" not in part
