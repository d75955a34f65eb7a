"""The facility and practitioner directories."""

import pytest

from farcare.accounts.models import Role, User
from farcare.network.models import Facility

from ..conftest import logged_in, make_user


@pytest.fixture
def demo(demo_network):
    pass


def test_facility_page_shows_its_chain_and_its_local_time_with_the_zone(demo):
    user = make_user(Role.ANALYST)
    uelen = Facility.objects.get(settlement__name_en="Uelen")
    html = logged_in(user).get(f"/network/facilities/{uelen.uuid}/").content.decode()
    assert "Asia/Anadyr, UTC+12" in html
    assert "Anadyr regional hospital" in html
    assert "National Medical Research Centre, Moscow" in html


def test_facility_list_filters_by_region_and_kind(demo):
    client = logged_in(make_user(Role.ANALYST))
    response = client.get("/network/facilities/", {"region": "Kamchatka", "kind": "feldsher_post"})
    names = {facility.settlement.name_en for facility in response.context["facilities"]}
    assert names == {"Esso", "Ossora", "Tilichiki", "Nikolskoye"}


def test_practitioner_directory_filters_by_specialty_and_language(demo):
    client = logged_in(make_user(Role.TRAINER, Facility.objects.first()))
    response = client.get("/network/practitioners/", {"specialty": "cardiology", "language": "ko"})
    usernames = {p.user.username for p in response.context["practitioners"]}
    assert usernames == {"cardiologist", "bundang_cardio"}
    every_cardiologist = client.get("/network/practitioners/", {"specialty": "cardiology"})
    assert len(every_cardiologist.context["practitioners"]) > len(usernames)


def test_pages_need_a_login(db):
    response = logged_in(make_user(Role.ANALYST)).get("/network/facilities/")
    assert response.status_code == 200
    from django.test import Client

    assert Client().get("/network/facilities/").status_code == 302
    assert User.objects.count() == 1
