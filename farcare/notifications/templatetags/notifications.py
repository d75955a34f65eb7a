from __future__ import annotations

from typing import Any

from django import template

from farcare.notifications.services import unread_count

register = template.Library()


@register.simple_tag(takes_context=True)
def unread_notifications(context: dict[str, Any]) -> int:
    """`{% load notifications %}{% unread_notifications %}`: the viewer's unread count."""
    request = context.get("request")
    user = getattr(request, "user", None) or context.get("user")
    return unread_count(user) if user is not None else 0
