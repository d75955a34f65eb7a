"""First-visit page weight of every clinician-facing page, against the 60 KB budget.

FarCare is used over 64 kbit/s satellite links, so each page, fetched with an empty cache, has to
fit in 60 KB (61,440 bytes) on the wire: the HTML plus every stylesheet, script and image it
references (and anything those stylesheets pull in through ``url()``/``@import``).

Run from the project root (``make bench`` does exactly this)::

    DJANGO_SETTINGS_MODULE=farcare.settings.test .venv/bin/python bench/page_weight.py

How it measures (the real server path, nothing is estimated):

* A fresh temporary directory holds the SQLite database (``FARCARE_DATABASE_URL``), the static
  root (``FARCARE_STATIC_ROOT``) and the media root; the project's ``var/`` is never touched.
  The database is migrated and the demo network is loaded (``load_demo()``).
* Static files are served the way production serves them: ``STORAGES["staticfiles"]`` is set to
  WhiteNoise's ``CompressedManifestStaticFilesStorage`` and ``WHITENOISE_USE_FINDERS`` to False
  (as in ``farcare.settings.production``), then ``collectstatic`` writes hashed names plus their
  ``.gz`` and ``.br`` siblings into the temporary static root. WhiteNoise then picks brotli or
  gzip by the request's ``Accept-Encoding``; HTML is gzipped by Django's ``GZipMiddleware``.
* ``farcare.wsgi.application`` is served by ``wsgiref`` on a free loopback port in a thread (the
  same application, middleware and WhiteNoise that ``make run`` serves through uvicorn; only the
  ``Server``/``Date`` headers differ, and production's HSTS header is absent), and a small
  client (``http.client`` plus an ``http.cookiejar`` jar) logs in through the real login form
  (CSRF cookie, ``csrfmiddlewaretoken``, Referer) as each demo account.
* Every page is a first visit: its referenced resources are fetched once each, with nothing
  shared with other pages. All requests send ``Accept-Encoding: gzip, br``. The client never
  decodes on the fly and counts the bytes it reads from the socket, so a response's size is
  exactly what the server sent: status line, headers (cookies included) and compressed body.
  Request bytes (the upstream direction) are not counted.
* The baseline, measured in the same run from the same responses, is the uncompressed size:
  the same headers plus the decoded body. Ratios are compressed/uncompressed and total/budget;
  nothing here depends on timing, so the verdict is the same on a slow or busy machine.

The request form and the case pages are measured a second time as a phone asks for them (a phone
Chromium's User-Agent, a separate login): the server sends every viewport the same page, since the
phone layout is media queries in the one stylesheet, and the "(phone)" rows show those bytes.

Browsers also ask for ``/favicon.ico`` once per site when a page names no icon; that request
is not referenced by any page, so it is reported on a line of its own and not added to totals.

Two figures wobble by a few dozen bytes between runs, by design: Django's ``GZipMiddleware``
pads the gzip header with up to 100 random bytes (BREACH mitigation), and the audit and
emergency-access pages list events that grow as the run itself is recorded.

Exit status: 0 if every page is within budget, 1 if any page is over budget or could not be
measured.
"""

from __future__ import annotations

import gzip
import http.client
import logging
import re
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urljoin, urlsplit
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import brotli
from harness import DEMO_PASSWORD, csrf_form_token, setup_django

BUDGET_BYTES = 60 * 1024
LINK_BITS_PER_SECOND = 64_000
ACCEPT_ENCODING = "gzip, br"
USER_AGENT = "FarCare-page-weight/1.0"
# The rows measured "on a phone" ask as a phone's Chromium does. The server sends a 390 px phone the
# same page as a desktop (the layout is media queries in the one stylesheet): the row shows it.
PHONE_USER_AGENT = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/156.0.0.0 Mobile Safari/537.36 " + USER_AGENT
)
DESKTOP, PHONE = "desktop", "phone"
SEARCH_FAMILY = "Тынетегин"
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
CSS_URL_RE = re.compile(r"""url\(\s*(['"]?)([^'")]+)\1\s*\)|@import\s+(['"])([^'"]+)\3""")
LINK_RELS = {"stylesheet", "icon", "shortcut", "apple-touch-icon", "preload", "modulepreload"}


@dataclass(frozen=True)
class DemoObjects:
    patient_uuid: str
    facility_uuid: str
    open_case_uuid: str
    open_case_consultant: str
    concluded_case_uuid: str


def demo_objects() -> DemoObjects:
    """The Uelen patient the feldsher may see and Uelen's facility."""
    from django.db import connection

    from farcare.network.models import Facility
    from farcare.patients.models import Patient

    patient = (
        Patient.objects.filter(home_facility__settlement__name_en="Uelen")
        .order_by("family")
        .first()
    )
    facility = Facility.objects.filter(settlement__name_en="Uelen").order_by("kind").first()
    if patient is None or facility is None:
        raise SystemExit("The demo network has no patient or facility in Uelen")
    from farcare.consults.models import Consultation

    open_case = Consultation.objects.filter(
        status="requested", requester__username="feldsher"
    ).first()
    concluded = Consultation.objects.filter(
        status="completed", requester__username="feldsher"
    ).first()
    if open_case is None or concluded is None:
        raise SystemExit("The demo has no open and concluded consultation for the Uelen patient")
    result = DemoObjects(
        patient_uuid=str(patient.uuid),
        facility_uuid=str(facility.uuid),
        open_case_uuid=str(open_case.uuid),
        # Whoever was on duty when the demo was loaded has it.
        open_case_consultant=open_case.assignments.filter(ended_at__isnull=True)
        .values_list("consultant__username", flat=True)
        .first()
        or "cardiologist",
        concluded_case_uuid=str(concluded.uuid),
    )
    connection.close()  # the server thread opens its own connection
    return result


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def start_server() -> tuple[WSGIServer, int]:
    """Serve the real WSGI application on a free loopback port, in a daemon thread."""
    from farcare.wsgi import application  # built now, so WhiteNoise sees the collected files

    # After the application is built (building it configures logging again): expected 4xx
    # answers, such as the favicon probe, are reported in the table rather than logged.
    logging.getLogger("django.request").setLevel(logging.ERROR)

    server = make_server("127.0.0.1", 0, application, handler_class=QuietHandler)
    threading.Thread(target=server.serve_forever, name="bench-server", daemon=True).start()
    return server, server.server_port


# --------------------------------------------------------------------------------------------
# A minimal browser: a cookie jar, no transparent decoding, no redirects followed.
# --------------------------------------------------------------------------------------------


@dataclass
class Transfer:
    """One response: what crossed the wire and what it decodes to."""

    url: str
    status: int
    content_type: str
    encoding: str
    header_bytes: int
    body_bytes: int
    decoded: bytes
    location: str = ""

    @property
    def wire(self) -> int:
        return self.header_bytes + self.body_bytes

    @property
    def raw(self) -> int:
        return self.header_bytes + len(self.decoded)


def decode_body(body: bytes, encoding: str) -> bytes:
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "br":
        return brotli.decompress(body)
    if encoding in ("", "identity"):
        return body
    raise ValueError(f"unexpected Content-Encoding {encoding!r}")


class CountingReader:
    """Wraps the socket file of a response and counts every byte read from it."""

    def __init__(self, raw: Any) -> None:
        self.raw = raw
        self.count = 0

    def readline(self, limit: int = -1) -> bytes:
        line: bytes = self.raw.readline(limit)
        self.count += len(line)
        return line

    def read(self, amount: int | None = None) -> bytes:
        data: bytes = self.raw.read() if amount is None else self.raw.read(amount)
        self.count += len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        size: int = self.raw.readinto(buffer)
        self.count += size
        return size

    def __getattr__(self, name: str) -> Any:
        return getattr(self.raw, name)


class CountingResponse(http.client.HTTPResponse):
    """An ``HTTPResponse`` that knows how many bytes the status line, headers and body took."""

    def __init__(self, sock: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(sock, *args, **kwargs)
        self.counter = CountingReader(self.fp)
        self.fp = self.counter  # type: ignore[assignment]


class CountingConnection(http.client.HTTPConnection):
    response_class = CountingResponse


class Browser:
    """One user agent with its own cookies (one per account)."""

    def __init__(self, port: int, user_agent: str = USER_AGENT) -> None:
        self.origin = f"http://127.0.0.1:{port}"
        self.port = port
        self.user_agent = user_agent
        self.jar = CookieJar()

    def request(
        self, path: str, *, data: dict[str, str] | None = None, referer: str = ""
    ) -> Transfer:
        url = urljoin(self.origin + "/", path)
        parts = urlsplit(url)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        # Never opened: it only carries the URL and headers for the cookie jar's bookkeeping.
        carrier = urllib.request.Request(url)  # noqa: S310 - always http://127.0.0.1
        self.jar.add_cookie_header(carrier)
        headers = {
            "Host": f"127.0.0.1:{self.port}",
            "User-Agent": self.user_agent,
            "Accept": "*/*",
            "Accept-Encoding": ACCEPT_ENCODING,
            **dict(carrier.header_items()),
        }
        body = None
        if data is not None:
            body = urlencode(data).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if referer:
            headers["Referer"] = referer
        connection = CountingConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request("POST" if data is not None else "GET", target, body, headers)
            response = connection.getresponse()
            assert isinstance(response, CountingResponse)
            counter = response.counter  # the response drops its file once the body is read
            header_bytes = counter.count  # status line, headers and the blank line after them
            raw_body = response.read()  # http.client never undoes Content-Encoding
            self.jar.extract_cookies(response, carrier)
            encoding = (response.getheader("Content-Encoding") or "").strip().lower()
            return Transfer(
                url=url,
                status=response.status,
                content_type=(response.getheader("Content-Type") or "").split(";")[0],
                encoding=encoding or "identity",
                header_bytes=header_bytes,
                body_bytes=counter.count - header_bytes,
                decoded=decode_body(raw_body, encoding),
                location=response.getheader("Location") or "",
            )
        finally:
            connection.close()

    def cookie(self, name: str) -> str:
        for cookie in self.jar:
            if cookie.name == name and cookie.value:
                return cookie.value
        return ""

    def log_in(self, username: str) -> None:
        form = self.request("/accounts/login/")
        token = csrf_form_token(form.decoded.decode("utf-8")) or self.cookie("csrftoken")
        result = self.request(
            "/accounts/login/",
            data={
                "username": username,
                "password": DEMO_PASSWORD,
                "csrfmiddlewaretoken": token,
                "next": "/",
            },
            referer=f"{self.origin}/accounts/login/",
        )
        if result.status != 302 or not self.cookie("sessionid"):
            raise RuntimeError(f"logging in as {username!r} failed (HTTP {result.status})")


# --------------------------------------------------------------------------------------------
# What a first visit fetches.
# --------------------------------------------------------------------------------------------


class ResourceParser(HTMLParser):
    """Collects the subresources a browser fetches while rendering the page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "link":
            rels = set(attributes.get("rel", "").lower().split())
            if rels & LINK_RELS and attributes.get("href"):
                self.urls.append(attributes["href"])
        elif attributes.get("src") and fetches_src(tag, attributes):
            self.urls.append(attributes["src"])
        if tag in ("img", "source") and attributes.get("srcset"):
            # A browser picks one candidate; count the first, as a 1x screen would.
            self.urls.append(attributes["srcset"].split(",")[0].strip().split()[0])


def fetches_src(tag: str, attributes: dict[str, str]) -> bool:
    """Whether a browser rendering the page fetches this element's ``src``."""
    if tag == "input":
        return attributes.get("type", "").lower() == "image"
    return tag in ("script", "img", "source")


def page_resources(html: str) -> list[str]:
    parser = ResourceParser()
    parser.feed(html)
    parser.close()
    return parser.urls


def css_resources(css: str) -> list[str]:
    found = []
    for match in CSS_URL_RE.finditer(css):
        url = (match.group(2) or match.group(4) or "").strip()
        if url and not url.startswith("#"):
            found.append(url)
    return found


@dataclass
class PageResult:
    label: str
    path: str
    role: str
    html: Transfer | None = None
    assets: list[Transfer] = field(default_factory=list)
    external: list[str] = field(default_factory=list)
    error: str = ""

    @property
    def html_wire(self) -> int:
        return self.html.wire if self.html else 0

    @property
    def assets_wire(self) -> int:
        return sum(asset.wire for asset in self.assets)

    @property
    def total_wire(self) -> int:
        return self.html_wire + self.assets_wire

    @property
    def total_raw(self) -> int:
        return (self.html.raw if self.html else 0) + sum(asset.raw for asset in self.assets)

    @property
    def within_budget(self) -> bool:
        return not self.error and self.total_wire <= BUDGET_BYTES


def measure_page(browser: Browser, label: str, path: str, role: str) -> PageResult:
    """Fetch ``path`` and everything it references, as a first visit with an empty cache."""
    result = PageResult(label=label, path=path, role=role)
    page = browser.request(path)
    result.html = page
    if page.status != 200:
        where = f" to {page.location}" if page.location else ""
        result.error = f"HTTP {page.status}{where}"
        return result
    cache: set[str] = {page.url}  # this page's cache only: nothing carries over between pages
    pending = [(page.url, ref) for ref in page_resources(page.decoded.decode("utf-8"))]
    while pending:
        base, ref = pending.pop(0)
        if ref.startswith("data:"):
            continue  # inline, already counted in its parent
        url = urljoin(base, ref).split("#")[0]
        if not url.startswith(browser.origin + "/"):
            result.external.append(url)
            continue
        if url in cache:
            continue
        cache.add(url)
        asset = browser.request(url, referer=base)
        result.assets.append(asset)
        if asset.status != 200:
            result.error = f"{urlsplit(url).path}: HTTP {asset.status}"
        elif asset.content_type == "text/css":
            text = asset.decoded.decode("utf-8", "replace")
            pending.extend((url, nested) for nested in css_resources(text))
    return result


# --------------------------------------------------------------------------------------------
# The pages.
# --------------------------------------------------------------------------------------------


def page_plan(objects: DemoObjects) -> Iterator[tuple[str, str, str, str]]:
    """(account or "" for anonymous, label, path, device), grouped by account and device."""
    for username, label, path in desktop_plan(objects):
        yield username, label, path, DESKTOP
    # The request form and the case pages once more, as a phone asks for them.
    ask = f"/consultations/new/{objects.patient_uuid}/"
    yield "feldsher", "ask for a consultation (phone)", ask, PHONE
    concluded = f"/consultations/{objects.concluded_case_uuid}/"
    yield "feldsher", "case with conclusion (phone)", concluded, PHONE
    open_case = f"/consultations/{objects.open_case_uuid}/"
    yield objects.open_case_consultant, "open case (phone)", open_case, PHONE


def desktop_plan(objects: DemoObjects) -> Iterator[tuple[str, str, str]]:
    """(account or "" for anonymous, label, path), grouped by account."""
    patient = f"/patients/{objects.patient_uuid}/"
    facility = f"/network/facilities/{objects.facility_uuid}/"
    yield "", "login", "/accounts/login/"
    for username in ("feldsher", "doctor", "cardiologist", "coordinator", "trainer"):
        yield username, "home", "/"
    yield "feldsher", "patient search", "/patients/"
    yield "feldsher", "search results", f"/patients/?q={quote(SEARCH_FAMILY)}"
    yield "feldsher", "register patient", "/patients/register/"
    yield "feldsher", "patient record", patient
    yield "feldsher", "edit patient", f"{patient}edit/"
    yield "feldsher", "facilities", "/network/facilities/"
    yield "feldsher", "facility (Uelen)", facility
    yield "feldsher", "practitioners", "/network/practitioners/"
    yield "feldsher", "preferences", "/accounts/preferences/"
    yield "feldsher", "ask for a consultation", f"/consultations/new/{objects.patient_uuid}/"
    yield "feldsher", "my requests", "/consultations/"
    yield "feldsher", "case with conclusion", f"/consultations/{objects.concluded_case_uuid}/"
    yield "feldsher", "inbox", "/notifications/"
    yield "cardiologist", "queue", "/consultations/"
    yield objects.open_case_consultant, "open case", f"/consultations/{objects.open_case_uuid}/"
    yield "coordinator", "board", "/consultations/"
    yield "coordinator", "patient search", "/patients/"
    yield "cardiologist", "practitioners", "/network/practitioners/"
    yield "admin", "home", "/"
    yield "admin", "audit log", "/audit/"
    yield "admin", "emergency reviews", "/access/reviews/"
    yield "analyst", "home", "/"
    yield "patient", "home", "/"


# --------------------------------------------------------------------------------------------
# Report.
# --------------------------------------------------------------------------------------------


def short_path(path: str) -> str:
    return UUID_RE.sub("<uuid>", path).replace(quote(SEARCH_FAMILY), SEARCH_FAMILY)


def kb(size: int) -> str:
    return f"{size / 1024:.1f}"


def print_report(
    results: list[PageResult], objects: DemoObjects, favicon: Transfer, elapsed: float
) -> None:
    print(
        f"FarCare first-visit page weight: budget {BUDGET_BYTES:,} bytes "
        f"({BUDGET_BYTES / 1024:g} KB) per page, "
        f"Accept-Encoding: {ACCEPT_ENCODING}"
    )
    print(f"patient <uuid> = {objects.patient_uuid}, facility <uuid> = {objects.facility_uuid}")
    print("Bytes are on the wire: status line + response headers + body as sent.")
    print("'raw' is the same responses decoded (the uncompressed baseline).")
    print(
        "'(phone)' rows: fetched again by a phone's Chromium User-Agent, logged in anew. The server"
        " sends a 390x844 phone the same bytes\nas a desktop (its layout is media queries in the"
        " same stylesheet), so these are that phone's first visit too.\n"
    )
    header = (
        f"{'page':<30} {'path':<30} {'role':<12} {'html':>7} {'assets':>7} {'total':>7} "
        f"{'raw':>7} {'comp/raw':>8} {'of budget':>9}  ok"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        role = r.role or "anonymous"
        verdict = "yes" if r.within_budget else "NO"
        ratio = f"{r.total_wire / r.total_raw:.2f}" if r.total_raw else "-"
        print(
            f"{r.label:<30} {short_path(r.path):<30} {role:<12} {r.html_wire:>7,} "
            f"{r.assets_wire:>7,} {r.total_wire:>7,} {r.total_raw:>7,} {ratio:>8} "
            f"{r.total_wire / BUDGET_BYTES:>9.2f}  {verdict}"
        )
        if r.error:
            print(f"{'':<30} ^ could not be measured: {r.error}")
        for url in r.external:
            print(f"{'':<30} ^ references another origin, not counted: {url}")

    measured = [r for r in results if r.html and not r.error]
    print("\nAssets (fetched once per page; same on every page that uses them):")
    assets: dict[str, Transfer] = {}
    for r in measured:
        for asset in r.assets:
            assets.setdefault(urlsplit(asset.url).path, asset)
    for path, asset in sorted(assets.items()):
        flag = "" if asset.encoding != "identity" else "  <- served uncompressed"
        print(
            f"  {path:<48} {asset.encoding:<8} {asset.wire:>7,} of {asset.raw:>7,} raw "
            f"= {asset.wire / asset.raw:.2f}{flag}"
        )

    if measured:
        html_wire = sum(r.html_wire for r in measured)
        html_raw = sum(r.html.raw for r in measured if r.html)
        assets_wire = sum(r.assets_wire for r in measured)
        assets_raw = sum(r.total_raw - (r.html.raw if r.html else 0) for r in measured)
        gzipped = sum(1 for r in measured if r.html and r.html.encoding != "identity")
        heaviest = max(measured, key=lambda r: r.total_wire)
        lightest = min(measured, key=lambda r: r.total_wire)
        print("\nRatios over all measured pages:")
        print(
            f"  HTML   compressed/uncompressed = {html_wire / html_raw:.2f}"
            f" ({gzipped} of {len(measured)} pages compressed)"
        )
        print(f"  assets compressed/uncompressed = {assets_wire / assets_raw:.2f}")
        print(
            f"  assets share of a first visit  = {assets_wire / (html_wire + assets_wire):.2f}"
            f" (lightest page {lightest.assets_wire / lightest.total_wire:.2f},"
            f" heaviest {heaviest.assets_wire / heaviest.total_wire:.2f})"
        )
        print(
            f"  heaviest: {heaviest.label} ({heaviest.role or 'anonymous'}), "
            f"{heaviest.total_wire:,} bytes = {heaviest.total_wire / BUDGET_BYTES:.2f} of budget, "
            f"≈{heaviest.total_wire * 8 / LINK_BITS_PER_SECOND:.1f} s of pure transfer at "
            f"64 kbit/s (computed, not timed)"
        )

    print(
        f"\nNot in the totals: a browser's own GET /favicon.ico (no page names an icon) gets "
        f"HTTP {favicon.status}, {favicon.wire:,} bytes ({favicon.encoding}), once per site."
    )

    over = [r for r in results if not r.within_budget]
    print(f"\n{len(results)} pages measured in {elapsed:.1f} s.")
    if not over:
        print(f"VERDICT: PASS, every page is within {BUDGET_BYTES:,} bytes.")
        return
    print(f"VERDICT: FAIL, {len(over)} page(s) over budget or not measured:")
    for r in over:
        reason = r.error or f"{r.total_wire - BUDGET_BYTES:,} bytes over"
        print(f"  {r.label} {short_path(r.path)} ({r.role or 'anonymous'}): {reason}")


def main() -> int:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="farcare-bench-") as tmp:
        workdir = Path(tmp)
        setup_django(workdir, f"sqlite:///{workdir / 'bench.sqlite3'}", production_static=True)
        objects = demo_objects()
        server, port = start_server()
        try:
            browsers: dict[tuple[str, str], Browser] = {}
            results: list[PageResult] = []
            for username, label, path, device in page_plan(objects):
                browser = browsers.get((username, device))
                if browser is None:
                    agent = PHONE_USER_AGENT if device == PHONE else USER_AGENT
                    browser = browsers[username, device] = Browser(port, agent)
                    if username:
                        browser.log_in(username)
                results.append(measure_page(browser, label, path, username))
            favicon = browsers["", DESKTOP].request("/favicon.ico")
        finally:
            server.shutdown()
            server.server_close()
            from django.db import connections

            connections.close_all()
    print_report(results, objects, favicon, time.monotonic() - started)
    return 0 if all(r.within_budget for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
