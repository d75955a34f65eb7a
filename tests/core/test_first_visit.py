"""A post behind a 64 kbit/s satellite link with 600 ms round trips: the login page shows after
one request (its stylesheet inline, allowed by its hash alone, no script to wait for), and the
files every later page uses are fingerprinted and cached for a year once collected, so they
cross once per release. bench/first_visit.py measures it in Chromium through the link."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

from django.core.management import call_command
from django.templatetags.static import static
from django.test import Client

from farcare.accounts.models import Role

from ..conftest import logged_in, make_user
from .test_security_headers import policy


def test_the_login_page_needs_no_other_request_before_it_shows(db):
    response = Client().get("/accounts/login/")
    html = response.content.decode()
    head = html[: html.index("</head>")]
    style = re.search(r"<style>(.*?)</style>", head, re.S)
    assert style, "the stylesheet is not inline"
    assert ".card" in style.group(1)
    # Nothing in the head holds the page back: no blocking stylesheet, no script.
    blocking = [
        link
        for link in re.findall(r"<link [^>]*>", head)
        if 'rel="stylesheet"' in link and 'media="print"' not in link
    ]
    assert blocking == []
    scripts = re.findall(r"<script[^>]*>", head)
    assert all(" defer" in script for script in scripts), scripts
    # The policy allows this exact text inline, and nothing else.
    digest = base64.b64encode(hashlib.sha256(style.group(1).encode()).digest()).decode()
    sources = policy(response)["style-src"]
    assert f"'sha256-{digest}'" in sources
    assert "'unsafe-inline'" not in sources
    # The files the next pages link are fetched after it shows, into the cache.
    assert static("farcare/farcare.css") in html and static("farcare/htmx.min.js") in html


def test_other_pages_link_the_cached_stylesheet_and_a_deferred_script(db):
    page = logged_in(make_user(Role.ANALYST)).get("/").content.decode()
    head = page[: page.index("</head>")]
    assert "<style>" not in head
    assert f'<link rel="stylesheet" href="{static("farcare/farcare.css")}">' in head
    assert f'<script src="{static("farcare/htmx.min.js")}" defer></script>' in head


def test_collected_files_are_fingerprinted_compressed_and_cached_for_a_year(
    db, settings, tmp_path: Path
):
    settings.STATIC_ROOT = tmp_path / "static"
    call_command("collectstatic", "--noinput", verbosity=0)
    url = static("farcare/htmx.min.js")
    assert re.fullmatch(r"/static/farcare/htmx\.min\.[0-9a-f]{12}\.js", url)
    assert (settings.STATIC_ROOT / (url.removeprefix("/static/") + ".gz")).exists()

    response = Client().get(url, HTTP_ACCEPT_ENCODING="gzip")
    assert response.status_code == 200
    assert response["Content-Encoding"] == "gzip"
    assert "immutable" in response["Cache-Control"]
    assert "max-age=315360000" in response["Cache-Control"]


def test_before_collectstatic_the_apps_files_serve_under_their_own_names(db, settings, tmp_path):
    settings.STATIC_ROOT = tmp_path / "never-collected"
    settings.STATIC_ROOT.mkdir()  # as farcare.settings.dev leaves it: an empty folder
    url = static("farcare/farcare.css")
    assert url == "/static/farcare/farcare.css"
    assert Client().get(url).status_code == 200
