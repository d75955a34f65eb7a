from __future__ import annotations

import zoneinfo
from datetime import datetime

from django import template
from django.utils import formats, timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

from farcare.core.timezones import now_in, zone_label

register = template.Library()


@register.filter
def when(value: datetime | None, zone_name: str = "") -> SafeString | str:
    """A moment in the viewer's zone (or the named zone), with that zone spelled out."""
    if not value:
        return ""
    zone = zoneinfo.ZoneInfo(zone_name) if zone_name else timezone.get_current_timezone()
    local = value.astimezone(zone)
    return format_html(
        '<time datetime="{}">{} <small>({})</small></time>',
        value.astimezone(zoneinfo.ZoneInfo("UTC")).isoformat(timespec="seconds"),
        formats.date_format(local, "SHORT_DATETIME_FORMAT"),
        zone_label(local, zone),
    )


@register.simple_tag
def local_time(zone_name: str) -> SafeString:
    """The time now where a facility is."""
    moment = now_in(zone_name)
    return format_html(
        '<time datetime="{}">{} <small>({})</small></time>',
        moment.isoformat(timespec="seconds"),
        formats.time_format(moment, "TIME_FORMAT"),
        zone_label(moment, moment.tzinfo),  # type: ignore[arg-type]
    )


@register.simple_tag
def querystring_with(request: object, **kwargs: object) -> str:
    query = request.GET.copy()  # type: ignore[attr-defined]
    for key, value in kwargs.items():
        query[key] = value
    return "?" + query.urlencode()
