"""Browser tests: Debian's Chromium, driven by Playwright, against pytest-django's live server
(WSGI), or against farcare.asgi under uvicorn where a page needs WebSockets.

Nothing is downloaded and nothing leaves the machine: the browser is /usr/bin/chromium, and every
request for a host other than the loopback one is aborted (and reported as a failure, since a
page of a medical record has no business calling anyone else).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any
from urllib.parse import urlsplit

import pytest

from farcare.demo.loader import DEMO_PASSWORD
from farcare.testing.chromium import CHROMIUM, CHROMIUM_ARGS, CHROMIUM_MEDIA_ARGS

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
TIMEOUT_MS = 10_000

# What the interface says, per language, for the words the tests click or look for.
# Taken from farcare/locale/*/LC_MESSAGES/django.po.
WORDS: dict[str, dict[str, str]] = {
    "en": {
        "Username": "Username",
        "Password": "Password",
        "Log in": "Log in",
        "Log out": "Log out",
    },
    "ru": {
        "Username": "Имя пользователя",
        "Password": "Пароль",
        "Log in": "Войти",
        "Log out": "Выйти",
    },
    "ko": {
        "Username": "사용자 이름",
        "Password": "비밀번호",
        "Log in": "로그인",
        "Log out": "로그아웃",
    },
}


def _require_chromium() -> None:
    """Skip without a browser, unless the run says a browser is required."""
    problem = ""
    if not CHROMIUM.exists():
        problem = f"{CHROMIUM} is missing (apt-get install chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            problem = "the playwright package is not installed (pip install -e '.[dev]')"
    if not problem:
        return
    if os.environ.get("FARCARE_REQUIRE_BROWSER") == "1":
        pytest.fail(f"browser tests required (FARCARE_REQUIRE_BROWSER=1), but {problem}")
    pytest.skip(f"browser tests need Chromium: {problem}")


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    _require_chromium()
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an asyncio loop running in this thread while it is started,
    # and Django refuses ORM calls in a thread with a running loop. The tests' own ORM calls
    # (copying the demo network in, the database flush after each test) are plain synchronous
    # code, so allow them for exactly as long as Playwright runs; the package scope stops it
    # before other tests.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(
                executable_path=str(CHROMIUM),
                headless=True,
                args=[*CHROMIUM_ARGS, *CHROMIUM_MEDIA_ARGS],
            )
            try:
                yield chromium
            finally:
                chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def demo(live_server: Any, demo_network: None) -> Any:
    """The demo network in the live server's database (live_server implies transactional_db,
    so it is flushed again after the test)."""
    return live_server


@pytest.fixture
def new_context(browser: Any, live_server: Any) -> Iterator[Callable[..., Any]]:
    """Fresh browser contexts (own cookies, own language) that may only reach the live server."""
    with _contexts(browser, live_server.url) as make:
        yield make


@contextmanager
def _contexts(browser: Any, base_url: str) -> Iterator[Callable[..., Any]]:
    contexts: list[Any] = []
    blocked: list[str] = []
    page_errors: list[str] = []
    csp_violations: list[str] = []

    def loopback_only(route: Any) -> None:
        if urlsplit(route.request.url).hostname in LOOPBACK_HOSTS:
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort("blockedbyclient")

    def watch(page: Any) -> None:
        page.on("pageerror", lambda e: page_errors.append(str(e)))
        # A Content-Security-Policy violation is reported in the console, not as a page error:
        # whatever it blocked (a script, a style, a socket) is missing from the page.
        page.on(
            "console",
            lambda message: (
                csp_violations.append(f"{page.url}: {message.text}")
                if message.type == "error" and "Content Security Policy" in message.text
                else None
            ),
        )

    def make(locale: str = "en-US") -> Any:
        context = browser.new_context(locale=locale, base_url=base_url)
        context.set_default_timeout(TIMEOUT_MS)
        context.route("**/*", loopback_only)
        context.on("page", watch)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()
    assert not blocked, f"pages tried to reach other hosts: {blocked}"
    assert not page_errors, f"JavaScript errors on the pages: {page_errors}"
    assert not csp_violations, f"Content-Security-Policy violations: {csp_violations}"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def asgi_server(transactional_db: None) -> Iterator[str]:
    """farcare.asgi under uvicorn, in a thread of this process: HTTP and the live worklists'
    WebSockets, as in production. live_server is WSGI and has no WebSockets.

    transactional_db, so that what a test writes is committed and the server's threads see it
    (and it is flushed after the test). The in-memory channel layer belongs to this process, so
    what the server's request handlers publish reaches the server's WebSocket consumers."""
    import uvicorn

    port = _free_port()
    config = uvicorn.Config(
        "farcare.asgi:application",
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="asgi-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive():
            pytest.fail("the ASGI server stopped while starting (see the log above)")
        if time.monotonic() > deadline:
            server.should_exit = True
            pytest.fail("the ASGI server did not start within 15 s")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@pytest.fixture
def asgi_demo(asgi_server: str, demo_network: None) -> str:
    """The demo network in the database the ASGI server reads; its base URL."""
    return asgi_server


@pytest.fixture
def new_asgi_context(browser: Any, asgi_server: str) -> Iterator[Callable[..., Any]]:
    """Like new_context, against the ASGI server (contexts close before the server stops)."""
    with _contexts(browser, asgi_server) as make:
        yield make


@pytest.fixture
def new_asgi_browser_context(browser: Any, asgi_server: str) -> Iterator[Callable[..., Any]]:
    """Like new_asgi_context, but each context in a Chromium of its own (another browser
    process, as two people's machines are), with the same loopback-only routing and checks:
    what a call must carry between browsers cannot pass inside one."""
    launched: list[Any] = []
    with ExitStack() as stack:

        def make(locale: str = "en-US") -> Any:
            chromium = browser.browser_type.launch(
                executable_path=str(CHROMIUM),
                headless=True,
                args=[*CHROMIUM_ARGS, *CHROMIUM_MEDIA_ARGS],
            )
            launched.append(chromium)
            contexts = stack.enter_context(_contexts(chromium, asgi_server))
            return contexts(locale)

        try:
            yield make
        finally:
            # The contexts close (and are checked) first, then their browsers.
            stack.close()
            for chromium in launched:
                chromium.close()


def log_in(context: Any, username: str, language: str = "en") -> Any:
    """Log in through the form, as a person would; returns the page, on the home page."""
    words = WORDS[language]
    page = context.new_page()
    page.goto("/accounts/login/")
    page.get_by_label(words["Username"]).fill(username)
    page.get_by_label(words["Password"]).fill(DEMO_PASSWORD)
    # The home page comes by a redirect, or in the login's own answer once HTMX has loaded.
    with page.expect_response(
        lambda r: urlsplit(r.url).path == "/accounts/login/" and r.request.method == "POST"
    ) as home:
        page.get_by_role("button", name=words["Log in"], exact=True).click()
    response = home.value
    assert response.status in (200, 302), f"{username}: logging in answered {response.status}"
    page.wait_for_url(lambda url: urlsplit(url).path == "/")
    page.wait_for_load_state()
    return page
