"""Russians reckon time across the country from Moscow: "МСК+9" in Chukotka, beside the zone."""

import zoneinfo
from datetime import UTC, datetime

import pytest

from farcare.core.timezones import moscow_offset_label, zone_label

WINTER = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
SUMMER = datetime(2026, 7, 1, 9, 0, tzinfo=UTC)


def at(moment, zone):
    return moment.astimezone(zoneinfo.ZoneInfo(zone))


@pytest.mark.parametrize(
    ("zone", "label"),
    [
        ("Asia/Anadyr", "МСК+9"),
        ("Europe/Kaliningrad", "МСК−1"),
        ("Europe/Moscow", "МСК"),
        ("Asia/Yakutsk", "МСК+6"),
        ("Asia/Seoul", "МСК+6"),
        ("Europe/Samara", "МСК+1"),
        ("UTC", "МСК−3"),
        ("Asia/Kolkata", "МСК+2:30"),
    ],
)
def test_the_moscow_offset_of_a_zone(zone, label):
    assert moscow_offset_label(at(WINTER, zone)) == label


def test_the_moscow_offset_follows_summer_time_abroad():
    # Berlin keeps summer time, Moscow does not (since 2014): МСК−2 in winter, МСК−1 in summer.
    assert moscow_offset_label(at(WINTER, "Europe/Berlin")) == "МСК−2"
    assert moscow_offset_label(at(SUMMER, "Europe/Berlin")) == "МСК−1"


def test_the_moscow_offset_is_reckoned_from_moscows_offset_at_that_moment():
    # In 2013 Moscow kept UTC+4 all year: Anadyr (UTC+12) was then МСК+8.
    assert moscow_offset_label(at(datetime(2013, 1, 15, tzinfo=UTC), "Asia/Anadyr")) == "МСК+8"


def test_a_russian_reader_sees_the_moscow_offset_beside_the_zone_others_do_not():
    anadyr = zoneinfo.ZoneInfo("Asia/Anadyr")
    assert zone_label(WINTER, anadyr, language="ru") == "Asia/Anadyr, UTC+12, МСК+9"
    assert zone_label(WINTER, anadyr, language="en") == "Asia/Anadyr, UTC+12"
    assert zone_label(WINTER, anadyr, language="ko") == "Asia/Anadyr, UTC+12"
    seoul = zoneinfo.ZoneInfo("Asia/Seoul")
    assert zone_label(WINTER, seoul, language="ru") == "Asia/Seoul, UTC+9, МСК+6"
