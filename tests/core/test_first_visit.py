"""A post behind a 64 kbit/s satellite link with 600 ms round trips: the login page shows after
one request (its stylesheet inline, allowed by its hash alone, no script to wait for), fetches
the files every later page uses only once it has shown, and, once HTMX is there, gets the home
page in the login's own answer (no redirect's round trip). The files are fingerprinted and
cached for a year once collected, so they cross once per release. bench/first_visit.py
measures it in Chromium through the link."""

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
from ..factories import PASSWORD
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
    assert re.findall(r"<script [^>]*src=", head) == []
    # The policy allows these exact texts inline, and nothing else.
    digest = base64.b64encode(hashlib.sha256(style.group(1).encode()).digest()).decode()
    sources = policy(response)["style-src"]
    assert f"'sha256-{digest}'" in sources
    assert "'unsafe-inline'" not in sources
    script = re.search(r"<script>(.*?)</script>", head, re.S)
    assert script and 'addEventListener("load"' in script.group(1)
    digest = base64.b64encode(hashlib.sha256(script.group(1).encode()).digest()).decode()
    assert f"'sha256-{digest}'" in policy(response)["script-src"]
    # The files the next pages link are fetched after it shows, into the cache.
    warm = re.search(r'<meta name="farcare-warm" content="([^"]*)">', head)
    assert warm
    for path in ("farcare/farcare.css", "farcare/htmx.min.js", "consults/request_form.js"):
        assert static(path) in warm.group(1).split()


def test_a_login_sent_by_htmx_gets_the_home_page_in_its_answer(db):
    user = make_user(Role.CLINICIAN, language="ru")
    client = Client(enforce_csrf_checks=True)
    login_page = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login_page)
    assert csrf
    response = client.post(
        "/accounts/login/",
        {
            "username": user.username,
            "password": PASSWORD,
            "next": "/",
            "csrfmiddlewaretoken": csrf.group(1),
        },
        HTTP_HX_REQUEST="true",
        HTTP_HX_BOOSTED="true",
        HTTP_ACCEPT_LANGUAGE="ru",
    )
    assert response.status_code == 200
    assert response["HX-Push-Url"] == "/"
    page = response.content.decode()
    assert "Выйти" in page  # the home page, signed in, in the user's language
    # HTMX requests from the new page carry the token of the new session, not the login's.
    token = re.search(r"<main hx-headers='\{\"X-CSRFToken\": \"([^\"]+)\"\}'>", page)
    assert token
    assert token.group(1) != csrf.group(1)
    follow = client.post("/notifications/preferences/", HTTP_X_CSRFTOKEN=token.group(1))
    assert follow.status_code != 403
    stale = client.post("/notifications/preferences/", HTTP_X_CSRFTOKEN=csrf.group(1))
    assert stale.status_code == 403
    # A reload asks for the home page itself, signed in.
    assert client.get("/").status_code == 200


def test_a_login_sent_by_htmx_elsewhere_or_in_another_language_navigates(db):
    user = make_user(Role.CLINICIAN, language="ko")
    client = Client()
    response = client.post(
        "/accounts/login/",
        {"username": user.username, "password": PASSWORD, "next": "/"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_BOOSTED="true",
        HTTP_ACCEPT_LANGUAGE="ru",
    )
    # The page's <html lang> would stay Russian under a Korean page: a full navigation instead.
    assert response["HX-Redirect"] == "/"
    other = make_user(Role.CLINICIAN)
    response = Client().post(
        "/accounts/login/",
        {"username": other.username, "password": PASSWORD, "next": "/patients/"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_BOOSTED="true",
    )
    assert response["HX-Redirect"] == "/patients/"


def test_a_login_sent_by_htmx_with_a_second_factor_to_give_goes_to_it(db):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    user = make_user(Role.CLINICIAN)
    TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    response = Client().post(
        "/accounts/login/",
        {"username": user.username, "password": PASSWORD, "next": "/"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_BOOSTED="true",
    )
    assert response["HX-Redirect"] == "/"
    assert "hx-headers" not in response.content.decode()


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
