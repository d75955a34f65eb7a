"""First and repeat visits in Chromium over a satellite link: the login page, logging in to the
home page, the patient search and the request form, as `make run` serves them (a separate
uvicorn process, the demo network, collectstatic done), through the loopback weak-link proxy
(64 kbit/s, 600 ms round trip by default; farcare/testing/weaklink.py).

Each step is timed from the navigation (or the click) to the page's load event, and the first
contentful paint is read from the page. The same steps straight over loopback, in the same run,
are the baseline of the ratio; "bytes alone" is what the bytes that crossed would take at the
link's rate with no round trip at all. Figures, never verdicts.

    python bench/first_visit.py [--rate 64000] [--rtt 600] [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from harness import DEMO_PASSWORD, ratio  # puts the project on the path

from farcare.testing.chromium import CHROMIUM, CHROMIUM_ARGS
from farcare.testing.hub import HubProcess
from farcare.testing.weaklink import WeakLink

VERBOSE = "--verbose" in sys.argv
TYPING_MS = 5_000  # a username and a password, typed
STEPS = (
    "login page, first visit",
    "login page, repeat visit",
    "log in to home",
    "patient search",
    "request form",
)


@dataclass
class Step:
    seconds: list[float] = field(default_factory=list)
    paint: list[float] = field(default_factory=list)
    down_bytes: list[int] = field(default_factory=list)
    requests: list[int] = field(default_factory=list)


def _paint(page: Any) -> float:
    value = page.evaluate(
        "(() => { const e = performance.getEntriesByName('first-contentful-paint')[0];"
        " return e ? e.startTime : -1; })()"
    )
    return float(value) / 1000


def walk(browser: Any, base: str, patient: str, link: WeakLink | None) -> dict[str, Step]:
    """One person's first minutes, in a fresh browser profile (empty cache, no cookies)."""
    context = browser.new_context(base_url=base, locale="ru-RU")
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    if VERBOSE:
        page.on(
            "response",
            lambda r: print(
                f"   {r.status} {r.request.method} {r.url} "
                f"cache-control={r.headers.get('cache-control')} "
                f"from-cache={r.request.timing.get('responseStart', 0) < 0}"
            ),
        )
    results = {name: Step() for name in STEPS}

    def measure(name: str, action: Any) -> None:
        before_bytes = link.counters.down if link else 0
        before_requests = len(requests)
        started = time.perf_counter()
        action()
        page.wait_for_load_state("load")
        step = results[name]
        step.seconds.append(time.perf_counter() - started)
        step.paint.append(_paint(page))
        step.down_bytes.append((link.counters.down - before_bytes) if link else 0)
        step.requests.append(len(requests) - before_requests)

    if VERBOSE:
        print("-- login page, first visit")
    measure("login page, first visit", lambda: page.goto("/accounts/login/", wait_until="load"))
    measure("login page, repeat visit", lambda: page.goto("/accounts/login/", wait_until="load"))
    # A person takes a few seconds to type: what the page fetches meanwhile is done by then.
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(TYPING_MS)
    page.locator("input[name=username]").fill("feldsher")
    page.locator("input[name=password]").fill(DEMO_PASSWORD)

    def log_in() -> None:
        # Once HTMX has loaded the home page comes in the login's answer (no navigation): the
        # step ends when the address is the home page's and the login form has gone.
        page.locator("main form button[type=submit]").click()
        page.wait_for_url(lambda url: urlsplit(url).path == "/")
        page.locator("input[name=password]").wait_for(state="detached")

    measure("log in to home", log_in)
    measure("patient search", lambda: page.goto("/patients/", wait_until="load"))
    measure("request form", lambda: page.goto(f"/consultations/new/{patient}/", wait_until="load"))
    context.close()
    return results


def merge(into: dict[str, Step], more: dict[str, Step]) -> None:
    for name, step in more.items():
        target = into.setdefault(name, Step())
        target.seconds += step.seconds
        target.paint += step.paint
        target.down_bytes += step.down_bytes
        target.requests += step.requests


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=64_000, help="link rate, bit/s")
    parser.add_argument("--rtt", type=int, default=600, help="round trip, ms")
    parser.add_argument("--runs", type=int, default=3, help="fresh profiles per path")
    parser.add_argument("--verbose", action="store_true", help="print every response")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="farcare-first-visit-") as workdir:
        hub = HubProcess(Path(workdir) / "server")
        print("preparing the demo server (migrate, load-demo, collectstatic) ...", flush=True)
        hub.prepare()
        collected = hub.farcare("collectstatic", "--noinput", "-v", "0")
        if collected.returncode != 0:
            print(collected.stderr)
            return 1
        patient = hub.python(
            "from farcare.patients.models import Patient\n"
            "print(Patient.objects.filter(home_facility__settlement__name_en='Uelen')"
            ".order_by('pk').first().uuid)"
        )
        hub.start()
        try:
            with (
                WeakLink("127.0.0.1", hub.port, rate_bps=args.rate, rtt_ms=args.rtt) as link,
                sync_playwright() as playwright,
            ):
                browser = playwright.chromium.launch(
                    executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
                )
                direct: dict[str, Step] = {}
                weak: dict[str, Step] = {}
                for _ in range(args.runs):
                    merge(direct, walk(browser, hub.url, patient, None))
                    merge(weak, walk(browser, f"http://127.0.0.1:{link.port}", patient, link))
                browser.close()
        finally:
            hub.stop()

    print()
    print(
        f"Chromium, link {args.rate / 1000:g} kbit/s, {args.rtt} ms round trip; "
        f"median of {args.runs} fresh profiles; times to the load event"
    )
    header = (
        f"{'step':<26} {'over link':>10} {'1st paint':>10} {'loopback':>9} "
        f"{'ratio':>7} {'down':>8} {'bytes alone':>12} {'requests':>9}"
    )
    print(header)
    print("-" * len(header))
    for name in STEPS:
        w, d = weak[name], direct[name]
        seconds, base = statistics.median(w.seconds), statistics.median(d.seconds)
        down = int(statistics.median(w.down_bytes))
        alone = down * 8 / args.rate
        painted = [p for p in w.paint if p > 0]  # Chromium reports no paint for some navigations
        paint = f"{statistics.median(painted):.2f}s" if painted else "-"
        print(
            f"{name:<26} {seconds:>9.2f}s {paint:>10} "
            f"{base:>8.2f}s {ratio(seconds, base):>7} {down / 1000:>6.1f}kB "
            f"{alone:>11.2f}s {int(statistics.median(w.requests)):>9}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
