from __future__ import annotations

import zoneinfo
from datetime import datetime

from django import template
from django.utils import formats, timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

from farcare.core import values
from farcare.core.durations import duration_text
from farcare.core.timezones import now_in, zone_label

register = template.Library()


def _time_element(moment: datetime, shown: str) -> SafeString:
    return format_html(
        '<time datetime="{}">{} <small>({})</small></time>',
        moment.astimezone(zoneinfo.ZoneInfo("UTC")).isoformat(timespec="seconds"),
        shown,
        zone_label(moment, moment.tzinfo),  # type: ignore[arg-type]
    )


@register.filter
def when(value: datetime | None, zone_name: str = "") -> SafeString | str:
    """A moment in the viewer's zone (or the named zone), with that zone spelled out."""
    if not value:
        return ""
    zone = zoneinfo.ZoneInfo(zone_name) if zone_name else timezone.get_current_timezone()
    local = value.astimezone(zone)
    return _time_element(local, formats.date_format(local, "SHORT_DATETIME_FORMAT"))


@register.simple_tag
def local_time(zone_name: str) -> SafeString:
    """The time now where a facility is."""
    moment = now_in(zone_name)
    return _time_element(moment, formats.time_format(moment, "TIME_FORMAT"))


@register.simple_tag
def querystring_with(request: object, **kwargs: object) -> str:
    query = request.GET.copy()  # type: ignore[attr-defined]
    for key, value in kwargs.items():
        query[key] = value
    return "?" + query.urlencode()


@register.filter
def span(seconds: float | None) -> str:
    """A length of time as a person says it: '45 s', '13 min', '1 h 5 min', '2 d 3 h'."""
    if seconds is None:
        return ""
    return duration_text(round(seconds))


@register.filter
def shown(value: object, kind: str) -> str:
    """A coded value as the reader says it, in their language and format (core.values):
    `{{ facility.region|shown:"region" }}`, `{{ level|shown:"acvpu" }}`, `{{ d|shown:"date" }}`."""
    return values.show(kind, value)


@register.simple_tag
def news2(total: int | None, band: str) -> str:
    """A NEWS2 score with its risk band in words: `{% news2 c.news2_total c.news2_band %}`."""
    return values.news2(total, band)
