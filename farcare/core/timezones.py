"""Times are stored in UTC and shown in the viewer's zone, always with the zone named."""

from __future__ import annotations

import zoneinfo
from datetime import datetime, tzinfo

from django.conf import settings
from django.utils import formats, timezone


def zone_for_user(user: object) -> zoneinfo.ZoneInfo:
    name = ""
    if getattr(user, "is_authenticated", False):
        name = getattr(user, "time_zone", "") or ""
        facility = getattr(user, "facility", None)
        if not name and facility is not None:
            name = facility.time_zone
        if not name and getattr(user, "role", "") == "patient":
            # A patient lives where their home facility is.
            record = getattr(user, "patient_record", None)
            name = record.home_facility.time_zone if record is not None else ""
    try:
        return zoneinfo.ZoneInfo(name or settings.TIME_ZONE)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def utc_offset_label(moment: datetime) -> str:
    offset = moment.utcoffset()
    if offset is None:
        return "UTC"
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "−"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")


def zone_label(moment: datetime, zone: tzinfo) -> str:
    """'Asia/Anadyr, UTC+12': the IANA name a colleague can look up, and the offset to reckon."""
    local = moment.astimezone(zone)
    return f"{getattr(zone, 'key', str(zone))}, {utc_offset_label(local)}"


def now_in(zone_name: str) -> datetime:
    return timezone.now().astimezone(zoneinfo.ZoneInfo(zone_name))


def local_moment(moment: datetime) -> str:
    """A moment as plain text in the active zone, with the zone named (for messages)."""
    zone = timezone.get_current_timezone()
    local = moment.astimezone(zone)
    return f"{formats.date_format(local, 'SHORT_DATETIME_FORMAT')} ({zone_label(local, zone)})"
