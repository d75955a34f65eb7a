"""Times are stored in UTC and shown in the viewer's zone, always with the zone named."""

from __future__ import annotations

import zoneinfo
from datetime import datetime, timedelta, tzinfo

from django.conf import settings
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _

# Russia reckons its eleven zones from Moscow ("МСК+9" in Chukotka): timetables, broadcasts and
# orders state times that way, so Russian readers get it beside the UTC offset.
MOSCOW = zoneinfo.ZoneInfo("Europe/Moscow")
UTC = zoneinfo.ZoneInfo("UTC")


def facility_zone_name(user: object) -> str:
    """The zone a user's times default to: their facility's, or a patient's home facility's."""
    facility = getattr(user, "facility", None)
    if facility is not None:
        return str(facility.time_zone)
    if getattr(user, "role", "") == "patient":
        # A patient lives where their home facility is.
        record = getattr(user, "patient_record", None)
        return str(record.home_facility.time_zone) if record is not None else ""
    return ""


def zone_for_user(user: object) -> zoneinfo.ZoneInfo:
    name = ""
    if getattr(user, "is_authenticated", False):
        name = getattr(user, "time_zone", "") or facility_zone_name(user)
    try:
        return zoneinfo.ZoneInfo(name or settings.TIME_ZONE)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def _signed(minutes: int) -> str:
    sign = "+" if minutes >= 0 else "−"
    hours, rest = divmod(abs(minutes), 60)
    return f"{sign}{hours}" + (f":{rest:02d}" if rest else "")


def utc_offset_label(moment: datetime) -> str:
    offset = moment.utcoffset()
    if offset is None:
        return "UTC"
    return f"UTC{_signed(int(offset.total_seconds() // 60))}"


def moscow_offset_label(moment: datetime) -> str:
    """'МСК+9', 'МСК−1', 'МСК': the zone's offset at that moment less Moscow's at the same
    moment (Moscow's is looked up, not assumed: it kept UTC+4 from 2011 to 2014)."""
    offset = moment.utcoffset() or timedelta(0)
    moscow = moment.astimezone(MOSCOW).utcoffset() or timedelta(0)
    minutes = int((offset - moscow).total_seconds() // 60)
    return "МСК" + (_signed(minutes) if minutes else "")


def reads_moscow_time(language: str | None = None) -> bool:
    """Only the Russian interface adds the Moscow offset; ko and en keep IANA name and UTC."""
    return (language or translation.get_language() or "")[:2] == "ru"


def offset_labels(moment: datetime, *, language: str | None = None) -> str:
    """'UTC+12, МСК+9' for a Russian reader, 'UTC+12' for the others."""
    label = utc_offset_label(moment)
    if reads_moscow_time(language):
        label += f", {moscow_offset_label(moment)}"
    return label


def zone_label(moment: datetime, zone: tzinfo, *, language: str | None = None) -> str:
    """'Asia/Anadyr, UTC+12': the IANA name a colleague can look up, and the offset to reckon
    (and 'МСК+9' after it for a Russian reader)."""
    local = moment.astimezone(zone)
    return f"{getattr(zone, 'key', str(zone))}, {offset_labels(local, language=language)}"


def now_in(zone_name: str) -> datetime:
    return timezone.now().astimezone(zoneinfo.ZoneInfo(zone_name))


def local_moment(moment: datetime) -> str:
    """A moment as plain text in the active zone, with the zone named (for messages)."""
    zone = timezone.get_current_timezone()
    local = moment.astimezone(zone)
    return f"{formats.date_format(local, 'SHORT_DATETIME_FORMAT')} ({zone_label(local, zone)})"


def wall_clock_exists(naive: datetime, zone: tzinfo) -> bool:
    """Whether a clock in `zone` ever shows `naive`: the hour skipped when clocks move forward
    never does (Python would quietly read 02:30 of that night as 03:30)."""
    there = naive.replace(tzinfo=zone)
    return there.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == naive


def local_to_utc(naive: datetime, zone: tzinfo) -> datetime:
    """A time read on the clock of `zone`, in UTC. Raises ValueError for a time that clock
    skips; a time it shows twice (clocks moved back) is its first showing. Raises OverflowError
    for a date so near year 1 or 9999 that UTC falls outside the calendar."""
    if not wall_clock_exists(naive, zone):
        raise ValueError("This local time does not exist.")
    return naive.replace(tzinfo=zone).astimezone(UTC)


def skipped_time_message(zone_name: str) -> str:
    """What a person reads who typed a time their clock skips that day."""
    return _("This time does not exist in %(zone)s that day (clocks move forward).") % {
        "zone": zone_name
    }
