"""The way into the analytics from a home page: the dashboard for those who see every figure,
the partner's view for those abroad (who see cross-border figures only), nothing for others."""

from __future__ import annotations

from django import template
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from farcare.access.policy import AnalyticsScope, analytics_scope
from farcare.accounts.models import User

register = template.Library()


@register.simple_tag
def analytics_link(user: User | None) -> SafeString | str:
    scope = analytics_scope(user)
    if scope is None:
        return ""
    if scope == AnalyticsScope.CROSS_BORDER:
        url, text = reverse("analytics:partner"), _("Cross-border consultations: figures")
    else:
        url, text = reverse("analytics:dashboard"), _("Analytics: access to care and deadlines")
    return format_html(
        '<p><a class="button" href="{}" data-testid="analytics-link">{}</a></p>', url, text
    )
