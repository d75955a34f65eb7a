"""A teaching session bigger than a consilium. The trainer from Seoul teaches three feldshers in
a live room whose Janus room lets ONE person publish: the feldshers join listen only (their pages
never ask for a camera or microphone), each receives the trainer's sound and picture, and the
trainer's page lists the three as listening. One feldsher raises her hand; the trainer sees it.
Another, on a weak link, ticks "audio only" and stops receiving video."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from farcare.accounts.models import Role, User
from farcare.calls import janus
from farcare.demo.loader import DEMO_PASSWORD
from farcare.testing.janus import JanusServer, janus_for_farcare
from farcare.training import live_room
from farcare.training.models import (
    Enrolment,
    Programme,
    ProgrammeStatus,
    Session,
    SessionMode,
)

from ..conftest import Chain, make_user
from .conftest import log_in

pytestmark = pytest.mark.browser

MEDIA_TIMEOUT_MS = 40_000
COUNT_GET_USER_MEDIA = """
(() => {
  window.getUserMediaCalls = 0;
  const devices = navigator.mediaDevices;
  if (!devices) { return; }
  const original = devices.getUserMedia.bind(devices);
  devices.getUserMedia = (constraints) => {
    window.getUserMediaCalls += 1;
    return original(constraints);
  };
})();
"""


@pytest.fixture
def janus_server(tmp_path: Path) -> Iterator[JanusServer]:
    with janus_for_farcare(tmp_path / "janus") as server:
        yield server


def _person(chain: Chain, role: str, username: str, name: str) -> User:
    given, family = name.split(" ", 1)
    user = make_user(
        role, chain.post, username=username, first_name=given, last_name=family, language="en"
    )
    user.set_password(DEMO_PASSWORD)
    user.save()
    return user


def _inbound(page: Any) -> dict[str, int]:
    stats = page.evaluate("() => window.farcareConsilium.stats")
    return {"audio": stats["inboundAudioBytes"], "video": stats["inboundVideoBytes"]}


def test_three_feldshers_listen_to_the_trainer_in_a_room_for_one_publisher(
    janus_server: JanusServer,
    new_asgi_context: Callable[..., Any],
    asgi_server: str,
    chain: Chain,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The room admits a single publisher: three listeners more would be refused if they counted.
    monkeypatch.setattr(live_room, "PUBLISHERS", 1)
    trainer = _person(chain, Role.TRAINER, "trainer_kim", "Ji-woo Kim")
    learners = [
        _person(chain, Role.CLINICIAN, f"feldsher_{n}", name)
        for n, name in enumerate(("Anna Rultyneut", "Oleg Tynenkeu", "Maria Etuvgi"))
    ]
    programme = Programme.objects.create(
        title="Acute coronary syndrome at the post", owner=trainer, status=ProgrammeStatus.OPEN
    )
    session = Session.objects.create(
        programme=programme,
        number=1,
        title="Chest pain at the post",
        starts_at=timezone.now() - timedelta(minutes=5),
        mode=SessionMode.ONLINE,
    )
    for learner in learners:
        Enrolment.objects.create(programme=programme, learner=learner, enrolled_at=timezone.now())
    path = f"/training/s/{session.uuid}/live/"

    def enter(user: User) -> Any:
        context = new_asgi_context()
        context.add_init_script(COUNT_GET_USER_MEDIA)
        page = log_in(context, user.username)
        page.goto(path)
        page.get_by_test_id("consilium-join").click()
        return page

    teacher = enter(trainer)
    teacher.wait_for_function("() => window.farcareConsilium.publishing", timeout=MEDIA_TIMEOUT_MS)
    listeners = [enter(learner) for learner in learners]

    for page in listeners:
        page.get_by_test_id("consilium-status").get_by_text("You are listening.").wait_for()
        page.wait_for_function(
            "() => window.farcareConsilium.inRoom.length === 1", timeout=MEDIA_TIMEOUT_MS
        )
        # The trainer's sound and picture arrive, and keep arriving.
        page.wait_for_function(
            "() => { const s = window.farcareConsilium.stats;"
            " return s && s.inboundAudioBytes > 0 && s.inboundVideoBytes > 0; }",
            timeout=MEDIA_TIMEOUT_MS,
        )
    for page in listeners:
        before = _inbound(page)
        page.wait_for_function(
            f"() => window.farcareConsilium.stats.inboundAudioBytes > {before['audio']}"
            f" && window.farcareConsilium.stats.inboundVideoBytes > {before['video']}",
            timeout=MEDIA_TIMEOUT_MS,
        )
        assert page.evaluate("() => window.getUserMediaCalls") == 0
        assert page.evaluate("() => window.farcareConsilium.publishing") is False
        assert page.get_by_test_id("consilium-local").count() == 0
        assert page.get_by_test_id("consilium-feed").count() == 1
    assert teacher.evaluate("() => window.getUserMediaCalls") == 1

    # Janus agrees: four people in the room, one of them publishing.
    session.refresh_from_db()
    room = janus.Room(int(session.live_room), "", "")
    in_room = janus.JanusClient().participants(room)
    assert len(in_room) == 4
    assert [p["display"] for p in in_room if p["publisher"]] == [str(trainer.uuid)]

    # The trainer's page lists the three feldshers as connected listeners.
    people = teacher.get_by_test_id("consilium-people")
    teacher.wait_for_function(
        "() => document.querySelectorAll("
        "'#consilium-people li[data-listening=yes][data-connected=yes]').length === 3",
        timeout=MEDIA_TIMEOUT_MS,
    )
    for learner in learners:
        row = people.locator(f'li[data-person="{learner.uuid}"]')
        assert row.get_by_test_id("listening").inner_text().strip(" ·") == "listening"
    assert people.locator(f'li[data-person="{trainer.uuid}"][data-listening]').count() == 0

    # Anna raises her hand to ask a question; the trainer sees it at the next refresh.
    anna = listeners[0]
    anna.get_by_test_id("consilium-hand").click()
    anna.get_by_role("button", name="Lower hand").wait_for()
    people.locator(f'li[data-person="{learners[0].uuid}"]').get_by_test_id("hand-raised").wait_for(
        timeout=MEDIA_TIMEOUT_MS
    )
    assert people.get_by_test_id("hand-raised").count() == 1

    # Maria's link is weak: she ticks "audio only"; the trainer's voice keeps coming, the
    # picture stops.
    maria = listeners[2]
    maria.get_by_test_id("consilium-audio-only").check()
    maria.wait_for_function(
        "() => window.farcareConsilium.mode === 'audio'", timeout=MEDIA_TIMEOUT_MS
    )
    maria.wait_for_timeout(6_000)  # let Janus stop, and one more figure be taken
    settled = _inbound(maria)
    maria.wait_for_function(
        f"() => window.farcareConsilium.stats.inboundAudioBytes > {settled['audio'] + 2000}",
        timeout=MEDIA_TIMEOUT_MS,
    )
    after = _inbound(maria)
    assert after["video"] - settled["video"] < 5_000

    for page in [*listeners, teacher]:
        page.get_by_test_id("consilium-leave").click()
        page.get_by_test_id("consilium-status").get_by_text("You left the session.").wait_for()
