from django import template
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from farcare.sync.outbox import is_station, pending

register = template.Library()


@register.simple_tag
def station_link(oob: bool = False) -> SafeString | str:
    """The outbox in the menu, with what waits, at a station only. `oob`: for the Outbox panel's
    refresh, which swaps the menu's count too (htmx out-of-band swap)."""
    if not is_station():
        return ""
    return format_html(
        '<a id="outbox-link" href="{}" data-testid="outbox"{}>{} ({})</a>',
        reverse("sync:overview"),
        mark_safe(' hx-swap-oob="true"') if oob else "",
        _("Outbox"),
        pending().count(),
    )
