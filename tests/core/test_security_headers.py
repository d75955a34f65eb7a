"""Every response carries a strict Content-Security-Policy and a Permissions-Policy: a script
that found its way into a page (an injected name, a hostile upload's file name) does not run,
and the page cannot reach the camera, microphone or location. The browser tests check that the
pages work under it (no violation is reported in the console)."""

from __future__ import annotations

import pytest
from django.test import Client

from ..conftest import logged_in


def policy(response) -> dict[str, list[str]]:
    directives: dict[str, list[str]] = {}
    for part in response["Content-Security-Policy"].split(";"):
        name, *sources = part.split()
        directives[name] = sources
    return directives


@pytest.mark.parametrize(
    "path", ["/accounts/login/", "/health", "/does-not-exist/", "/admin/login/", "/fhir/metadata"]
)
def test_every_response_carries_the_policies(db, path):
    response = Client().get(path)
    assert "Content-Security-Policy" in response
    assert "camera=()" in response["Permissions-Policy"]
    assert "geolocation=()" in response["Permissions-Policy"]


def test_the_content_security_policy_is_strict(db, settings):
    settings.ALLOWED_HOSTS = ["hub.example.org"]
    csp = policy(Client().get("/accounts/login/", HTTP_HOST="hub.example.org"))
    assert csp["default-src"] == ["'self'"]
    # No eval, and nothing inline but the login page's own warm-up script, by its hash.
    assert csp["script-src"][0] == "'self'"
    assert [source for source in csp["script-src"][1:] if not source.startswith("'sha256-")] == []
    assert len(csp["script-src"]) == 2
    assert "'unsafe-inline'" not in csp.get("style-src", [])
    assert csp["object-src"] == ["'none'"]
    assert csp["base-uri"] == ["'none'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["form-action"] == ["'self'"]
    assert set(csp["img-src"]) == {"'self'", "data:", "blob:"}
    # The live worklists' WebSocket to this host, and nowhere else.
    assert set(csp["connect-src"]) == {"'self'", "ws://hub.example.org", "wss://hub.example.org"}


def test_pages_have_no_inline_script_and_tell_htmx_not_to_inject_styles(feldsher):
    client = logged_in(feldsher)
    html = client.get("/consultations/").content.decode()
    assert "<script>" not in html
    assert "includeIndicatorStyles" in html
