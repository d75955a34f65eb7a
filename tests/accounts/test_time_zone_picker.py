"""A Russian reader reads times as 'МСК+9' beside the zone; the preferences page offers the
network's zones first, each with the time there, and finds any other by a few letters."""

import re

import pytest

from farcare.accounts.models import Role
from farcare.patients.models import Patient

from ..conftest import logged_in, make_user
from ..factories import FacilityFactory, PatientFactory, SettlementFactory

PREFERENCES = "/accounts/preferences/"
SHOWN_ZONE = re.compile(r"<time [^>]*>[^<]*<small>\(([^)]*)\)</small></time>")
RADIO_VALUES = re.compile(
    r'<input type="radio" form="preferences" name="time_zone" value="([^"]*)"'
)


def registered_at_half_past_midnight_utc(chain):
    patient = PatientFactory(home_facility=chain.post)
    # 12:30 in Anadyr, 09:30 in Yakutsk.
    Patient.objects.filter(pk=patient.pk).update(registered_at="2026-11-27T00:30:00Z")
    return f"/patients/{patient.uuid}/"


def zones_shown(client, path):
    return set(SHOWN_ZONE.findall(client.get(path).content.decode()))


@pytest.mark.parametrize(
    ("language", "shown"),
    [
        ("ru", "Asia/Anadyr, UTC+12, МСК+9"),
        ("ko", "Asia/Anadyr, UTC+12"),
        ("en", "Asia/Anadyr, UTC+12"),
    ],
)
def test_a_chukotka_time_carries_the_moscow_offset_for_russian_readers_only(chain, language, shown):
    feldsher = make_user(Role.CLINICIAN, chain.post)
    client = logged_in(feldsher, language=language)
    assert zones_shown(client, registered_at_half_past_midnight_utc(chain)) == {shown}


def test_the_header_names_the_zone_with_the_moscow_offset_in_russian(chain):
    moscow = make_user(Role.CLINICIAN, chain.federal)
    html = logged_in(moscow, language="ru").get("/").content.decode()
    assert re.search(r'data-testid="zone">Europe/Moscow, UTC\+3, МСК<', html)


def test_the_picker_offers_the_networks_zones_first_west_to_east_with_the_time_there(chain):
    feldsher = make_user(Role.CLINICIAN, chain.post)
    response = logged_in(feldsher, language="ru").get(PREFERENCES)
    html = response.content.decode()
    # "My facility's zone", then the three zones of the chain, and none of the ~600 others.
    assert RADIO_VALUES.findall(html) == ["", "Europe/Moscow", "Asia/Yakutsk", "Asia/Anadyr"]
    assert "Часовой пояс моего учреждения" in html
    assert "(UTC+9, МСК+6) · сейчас" in html
    assert 'value="" id="tz-1" checked' in html
    assert len(response.content) < 30_000


def test_a_zone_outside_the_network_once_chosen_is_offered_checked(chain):
    traveller = make_user(Role.CLINICIAN, chain.post, time_zone="Europe/Kaliningrad")
    html = logged_in(traveller, language="ru").get(PREFERENCES).content.decode()
    assert RADIO_VALUES.findall(html)[:2] == ["", "Europe/Kaliningrad"]
    assert 'value="Europe/Kaliningrad" id="tz-2" checked' in html
    assert "(UTC+2, МСК−1)" in html


def search(client, query):
    return client.get(PREFERENCES, {"zone_q": query}, HTTP_HX_REQUEST="true").content.decode()


def test_any_zone_is_found_by_its_name_a_place_of_the_network_or_its_offset(chain):
    FacilityFactory(
        region="Sakha",
        time_zone="Asia/Yakutsk",
        settlement=SettlementFactory(
            name_en="Yakutsk", name_ru="Якутск", region="Sakha", time_zone="Asia/Yakutsk"
        ),
    )
    client = logged_in(make_user(Role.CLINICIAN, chain.post), language="ru")
    by_name = search(client, "yakut")
    # Yakutat, Alaska, matches too: the network's zone comes first.
    assert RADIO_VALUES.findall(by_name) == ["Asia/Yakutsk", "America/Yakutat"]
    assert "<html" not in by_name  # only the list, swapped in under the search box
    by_russian_place = search(client, "Якут")
    assert RADIO_VALUES.findall(by_russian_place) == ["Asia/Yakutsk"]
    assert "Якутск" in by_russian_place
    assert RADIO_VALUES.findall(search(client, "new york")) == ["America/New_York"]
    by_offset = RADIO_VALUES.findall(search(client, "мск+6"))
    assert by_offset[0] == "Asia/Yakutsk"  # the network's zone before the world's
    assert "Asia/Seoul" in by_offset
    assert "Нет часового пояса" in search(client, "Atlantis")


def test_the_search_works_without_javascript_too(chain):
    client = logged_in(make_user(Role.CLINICIAN, chain.post), language="en")
    html = client.get(PREFERENCES, {"zone_q": "Kaliningrad"}).content.decode()
    assert '<form method="post" id="preferences"' in html
    assert (
        '<input type="radio" form="preferences" name="time_zone" value="Europe/Kaliningrad"' in html
    )


def test_the_saved_zone_changes_the_times_shown(chain):
    feldsher = make_user(Role.CLINICIAN, chain.post)
    client = logged_in(feldsher, language="ru")
    page = registered_at_half_past_midnight_utc(chain)
    assert "12:30" in client.get(page).content.decode()
    response = client.post(
        PREFERENCES, {"language": "", "time_zone": "Asia/Yakutsk", "email": ""}, follow=True
    )
    assert "Настройки сохранены" in response.content.decode()
    html = client.get(page).content.decode()
    assert "09:30" in html
    assert set(SHOWN_ZONE.findall(html)) == {"Asia/Yakutsk, UTC+9, МСК+6"}
    client.post(PREFERENCES, {"language": "", "time_zone": "", "email": ""})
    assert zones_shown(client, page) == {"Asia/Anadyr, UTC+12, МСК+9"}
