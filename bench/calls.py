"""The call of two (issue 14) in Chromium, through coturn on loopback with relay only: what each
side sends and receives in video and in audio-only, and in audio-only with the feldsher behind
the satellite link (the weak-link proxy, 64 kbit/s and 600 ms round trip by default, in front of
coturn's TCP listener; the consultant reaches coturn directly); how long from the page's load to
ICE connected, on both sides; how long the feldsher's signalling socket takes to come back after
a drop. A fresh consultation and call per run; medians of the runs. Audio-only is given as a
fraction of video mode measured in the same run. Figures, never verdicts.

    python bench/calls.py [--runs 3] [--rate 64000] [--rtt 600] [--seconds 10]

FarCare runs in this process (uvicorn in a thread, as the browser tests run it), on a temporary
SQLite database, so that each side's page can be given its own TURN address when it loads.
Needs Debian's /usr/bin/chromium and /usr/bin/turnserver (coturn)."""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from harness import DEMO_PASSWORD, ratio, setup_django  # puts the project on the path

WEAK_SWITCH_TIMEOUT_MS = 90_000
# After the weak link's switch to audio: what queued in the proxy during the first seconds of
# video drains before the window opens.
WEAK_DRAIN_SECONDS = 10
STARTED = time.monotonic()


def step(text: str) -> None:
    print(f"  {time.monotonic() - STARTED:7.1f} s  {text}", flush=True)


CONNECT_TIMEOUT_MS = 60_000


@dataclass
class Figures:
    values: dict[str, list[float]] = field(default_factory=dict)

    def add(self, name: str, value: float | None) -> None:
        if value is not None:
            self.values.setdefault(name, []).append(float(value))

    def median(self, name: str) -> float:
        found = self.values.get(name)
        return statistics.median(found) if found else float("nan")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def serve() -> tuple[str, Any]:
    """farcare.asgi under uvicorn in a thread of this process (its in-memory channel layer
    carries the call's signalling)."""
    import uvicorn

    port = free_port()
    config = uvicorn.Config(
        "farcare.asgi:application", host="127.0.0.1", port=port, log_level="error", lifespan="off"
    )
    server = uvicorn.Server(config)
    threading.Thread(target=server.run, name="asgi-server", daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", server


@dataclass
class People:
    feldsher: Any
    consultant: Any
    patient: Any
    cardiology: Any


def people() -> People:
    """A feldsher at a post, a cardiologist at the hub the post's requests go to, a patient who
    consented to teleconsultation (as tests/consults/conftest.py builds them)."""
    from farcare.accounts.models import Role
    from farcare.consults.models import RoutingRule
    from farcare.network.models import FacilityKind
    from farcare.patients.models import Consent, ConsentKind
    from tests.conftest import make_user
    from tests.consults.conftest import consultant
    from tests.factories import FacilityFactory, PatientFactory, SpecialtyFactory, link

    hub = FacilityFactory(kind=FacilityKind.REGIONAL_HUB)
    district = FacilityFactory(kind=FacilityKind.DISTRICT_HOSPITAL)
    post = FacilityFactory(kind=FacilityKind.FELDSHER_POST)
    link(post, district)
    link(district, hub)
    cardiology = SpecialtyFactory(code="cardiology", name_en="Cardiology")
    RoutingRule.objects.create(region=hub.region, specialty=cardiology, facility=hub, rank=1)
    feldsher = make_user(Role.CLINICIAN, post, username="bench_feldsher", language="en")
    cardiologist = consultant(hub, cardiology, username="bench_cardiologist")
    for user in (feldsher, cardiologist):
        user.set_password(DEMO_PASSWORD)
        user.save()
    patient = PatientFactory(home_facility=post)
    Consent.objects.create(
        patient=patient, kind=ConsentKind.TELECONSULTATION, scope="all", recorded_by=feldsher
    )
    return People(feldsher, cardiologist, patient, cardiology)


def live_case(who: People) -> Any:
    """A real-time consultation, accepted by the cardiologist: a call may start."""
    from farcare.audit.services import Accessor
    from farcare.consults.models import ConsultMode
    from farcare.consults.services import RequestData, consult_accept, consult_submit

    case = consult_submit(
        accessor=Accessor(who.feldsher, "127.0.0.1"),
        patient=who.patient,
        client_token=uuid.uuid4(),
        data=RequestData(
            specialty=who.cardiology,
            form="urgent",
            question="Chest pain for 2 hours. Thrombolysis or evacuation?",
            summary="Male, 65, crushing chest pain.",
            vitals={},
            mode=ConsultMode.REALTIME,
        ),
    )
    return consult_accept(accessor=Accessor(who.consultant, "127.0.0.1"), consultation=case)


def log_in(browser: Any, base: str, username: str) -> Any:
    context = browser.new_context(base_url=base, locale="en-US")
    page = context.new_page()
    page.goto("/accounts/login/")
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(DEMO_PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(lambda url: urlsplit(url).path == "/")
    return page


def join(page: Any, case: Any, button: str) -> None:
    page.goto(f"/calls/{case.uuid}/")
    page.get_by_role("button", name=button).click()
    page.get_by_test_id("call-status").wait_for()


def connected(page: Any) -> float:
    page.wait_for_function(
        "() => window.farcareCall && window.farcareCall.connectedAtMs !== null"
        " && window.farcareCall.stats",
        timeout=CONNECT_TIMEOUT_MS,
    )
    return float(page.evaluate("() => window.farcareCall.connectedAtMs"))


def rates(pages: dict[str, Any], seconds: float) -> dict[str, tuple[float, float]]:
    """(sent, received) kbit/s per side over `seconds`, from getStats through call.js."""
    before = {side: page.evaluate("() => window.farcareCall.stats") for side, page in pages.items()}
    time.sleep(seconds)
    out = {}
    for side, page in pages.items():
        after = page.evaluate("() => window.farcareCall.stats")
        ms = after["at"] - before[side]["at"]

        def kbps(key: str, side: str = side, after: dict = after, ms: float = ms) -> float:
            bits = 8 * sum(
                max(0, after[key][kind] - before[side][key][kind]) for kind in ("audio", "video")
            )
            return bits / ms

        out[side] = (kbps("bytesSent"), kbps("bytesReceived"))
    return out


def hang_up(pages: dict[str, Any]) -> None:
    pages["consultant"].get_by_role("button", name="Hang up").click()
    for page in pages.values():
        page.context.close()


def direct_run(browser: Any, base: str, who: People, turn: Any, seconds: float, out: Figures):
    from django.conf import settings

    settings.FARCARE_TURN_URLS = [turn.url]
    case = live_case(who)
    pages = {
        "feldsher": log_in(browser, base, who.feldsher.username),
        "consultant": log_in(browser, base, who.consultant.username),
    }
    join(pages["feldsher"], case, "Start the call")
    join(pages["consultant"], case, "Join the call")
    step("direct: both joined")
    for side, page in pages.items():
        out.add(f"connect ms {side}", connected(page))
    step("direct: connected")
    time.sleep(6)  # the bandwidth estimate climbs
    for side, (sent, received) in rates(pages, seconds).items():
        out.add(f"video sent {side}", sent)
        out.add(f"video received {side}", received)
    pages["feldsher"].get_by_label("Audio only", exact=False).check()
    for page in pages.values():
        page.wait_for_function("() => window.farcareCall.mode === 'audio'")
    step("direct: audio only")
    time.sleep(3)
    for side, (sent, received) in rates(pages, seconds).items():
        out.add(f"audio sent {side}", sent)
        out.add(f"audio received {side}", received)
    pages["feldsher"].get_by_label("Audio only", exact=False).uncheck()
    feldsher = pages["feldsher"]
    feldsher.evaluate("() => window.farcareCall.dropSocket()")
    feldsher.wait_for_function("() => window.farcareCall.reconnects === 1", timeout=30_000)
    out.add("reconnect ms feldsher", feldsher.evaluate("() => window.farcareCall.reconnectMs"))
    step("direct: socket back")
    hang_up(pages)


def weak_run(
    browser: Any, base: str, who: People, turn: Any, args: argparse.Namespace, out: Figures
) -> None:
    from django.conf import settings

    from farcare.testing.weaklink import WeakLink

    port = int(turn.url.split("?")[0].rsplit(":", 1)[1])  # coturn's TCP listens there too
    case = live_case(who)
    with WeakLink("127.0.0.1", port, rate_bps=args.rate, rtt_ms=args.rtt) as link:
        settings.FARCARE_TURN_URLS = [f"turn:127.0.0.1:{link.port}?transport=tcp"]
        feldsher = log_in(browser, base, who.feldsher.username)
        join(feldsher, case, "Start the call")
        settings.FARCARE_TURN_URLS = [turn.url]
        consultant = log_in(browser, base, who.consultant.username)
        join(consultant, case, "Join the call")
        pages = {"feldsher": feldsher, "consultant": consultant}
        step("weak link: both joined")
        for side, page in pages.items():
            out.add(f"weak connect ms {side}", connected(page))
        step("weak link: connected")
        started = time.monotonic()
        feldsher.wait_for_function(
            "() => window.farcareCall.weakLink", timeout=WEAK_SWITCH_TIMEOUT_MS
        )
        out.add("weak switch s feldsher", time.monotonic() - started)
        step("weak link: audio only")
        time.sleep(WEAK_DRAIN_SECONDS)
        for side, (sent, received) in rates(pages, args.seconds).items():
            out.add(f"weak sent {side}", sent)
            out.add(f"weak received {side}", received)
        hang_up(pages)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="calls per kind (median)")
    parser.add_argument("--rate", type=int, default=64_000, help="weak link rate, bit/s")
    parser.add_argument("--rtt", type=int, default=600, help="weak link round trip, ms")
    parser.add_argument("--seconds", type=float, default=10.0, help="measuring window, s")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="farcare-calls-bench-"))
    setup_django(workdir, f"sqlite:///{workdir / 'bench.sqlite3'}", demo=False)
    # Playwright's sync API runs an event loop in this thread; the ORM calls here are plain.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from django.conf import settings
    from playwright.sync_api import sync_playwright

    from farcare.testing.chromium import CHROMIUM, CHROMIUM_ARGS, CHROMIUM_MEDIA_ARGS
    from farcare.testing.turn import running_turnserver

    who = people()
    base, server = serve()
    out = Figures()
    try:
        with running_turnserver(workdir) as turn, sync_playwright() as playwright:
            settings.FARCARE_ICE_SERVERS = []
            settings.FARCARE_TURN_SECRET = turn.secret
            settings.FARCARE_ICE_TRANSPORT_POLICY = "relay"
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM),
                headless=True,
                args=[*CHROMIUM_ARGS, *CHROMIUM_MEDIA_ARGS],
            )
            for run in range(args.runs):
                print(f"run {run + 1} of {args.runs}: direct ...", flush=True)
                direct_run(browser, base, who, turn, args.seconds, out)
                print(f"run {run + 1} of {args.runs}: weak link ...", flush=True)
                weak_run(browser, base, who, turn, args, out)
            browser.close()
    finally:
        server.should_exit = True

    m = out.median
    print()
    print(
        f"Call of two in Chromium through coturn (relay only), fake camera and microphone; "
        f"median of {args.runs} calls; kbit/s over {args.seconds:g} s windows"
    )
    header = f"{'':<56} {'feldsher':>10} {'consultant':>11} {'f. ratio':>9}"
    print(header)
    print("-" * len(header))

    def row(label: str, key: str, base_key: str = "") -> None:
        f, c = m(f"{key} feldsher"), m(f"{key} consultant")
        shown_ratio = ratio(f, m(f"{base_key} feldsher")) if base_key else ""
        print(f"{label:<56} {f:>10.1f} {c:>11.1f} {shown_ratio:>9}")

    row("video: sent", "video sent")
    row("video: received", "video received")
    row("audio-only: sent (ratio: of video)", "audio sent", "video sent")
    row("audio-only: received (ratio: of video)", "audio received", "video received")
    link_label = f"{args.rate / 1000:g} kbit/s {args.rtt} ms"
    row(f"audio-only, feldsher via {link_label}: sent", "weak sent", "audio sent")
    row(f"audio-only, feldsher via {link_label}: received", "weak received", "audio received")
    row("page load to ICE connected, ms", "connect ms")
    row(f"page load to ICE connected via {link_label}, ms", "weak connect ms", "connect ms")
    print(
        f"{'weak link: connected to audio-only by itself, s':<56} "
        f"{m('weak switch s feldsher'):>10.1f}"
    )
    print(f"{'signalling socket back after a drop, ms':<56} {m('reconnect ms feldsher'):>10.0f}")
    print("(f. ratio: the feldsher's figure against the row it names, or for the weak link's")
    print(" rows against the direct call's audio-only, or direct connect, of the same run)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
