from django import template
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from farcare.sync.outbox import is_station, pending

register = template.Library()


@register.simple_tag
def station_link() -> SafeString | str:
    """The outbox in the menu, with what waits, at a station only."""
    if not is_station():
        return ""
    return format_html(
        '<a href="{}" data-testid="outbox">{} ({})</a>',
        reverse("sync:overview"),
        _("Outbox"),
        pending().count(),
    )
