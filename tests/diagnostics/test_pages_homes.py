"""The laboratory technician and the radiologist log in and land on a home page of their own
that leads to their worklist (it was a server error before: no home page for these roles)."""

from __future__ import annotations

from django.urls import reverse

from farcare.accounts.models import Role

from ..conftest import logged_in, make_user


def test_the_laboratorys_home_leads_to_its_worklist(chain):
    page = logged_in(make_user(Role.LABORATORY, chain.hub)).get("/")
    assert page.status_code == 200
    assert reverse("diagnostics:worklist") in page.content.decode()


def test_the_radiologists_home_leads_to_the_images_to_read(chain):
    page = logged_in(make_user(Role.RADIOLOGIST, chain.hub)).get("/")
    assert page.status_code == 200
    assert reverse("imaging:worklist") in page.content.decode()
