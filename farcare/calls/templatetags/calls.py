"""`{% call_link consultation %}`: the way into a consultation's call from its page, shown to
those who may join it (farcare.calls.access) and to nobody else. A consultation asked for as a
consilium leads to the consilium page (three to five people through Janus); one asked for in
real time, to the call of two."""

from __future__ import annotations

from typing import Any

from django import template

from farcare.consults.models import Consultation, ConsultMode

from ..access import may_join
from ..models import CallKind
from ..selectors import open_call

register = template.Library()


@register.inclusion_tag("calls/_link.html", takes_context=True)
def call_link(context: dict[str, Any], consultation: Consultation) -> dict[str, Any]:
    request = context.get("request")
    user = getattr(request, "user", None)
    if not may_join(user, consultation):
        return {"show": False}
    consilium = consultation.mode == ConsultMode.CONSILIUM
    return {
        "show": True,
        "c": consultation,
        "consilium": consilium,
        "call": open_call(consultation, CallKind.CONSILIUM if consilium else CallKind.PAIR),
    }
