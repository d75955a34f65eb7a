"""The critical-results banner drawn inside the home pages themselves: fetching it after the
page (hx-get on load) would cost a post on a satellite link another round trip."""

from __future__ import annotations

from typing import Any

from django import template

from farcare.diagnostics.pages.alerts import banner_rows

register = template.Library()


@register.inclusion_tag("diagnostics/_alert_banner.html", takes_context=True)
def critical_alert_banner(context: dict[str, Any]) -> dict[str, Any]:
    request = context.get("request")
    if request is None or not request.user.is_authenticated:
        return {"rows": []}
    return {"rows": banner_rows(request)}
