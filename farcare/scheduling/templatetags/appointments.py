"""Calls drawn inside other apps' pages: a consultation's calls on its page, and "Upcoming
calls" on the home pages (in the page itself: another round trip costs a post on a satellite
link more than these few rows)."""

from __future__ import annotations

from typing import Any

from django import template

from farcare.accounts.models import Role, User
from farcare.audit.models import AuditAction
from farcare.audit.services import Accessor, audit_record
from farcare.consults.models import Consultation
from farcare.consults.workflow import Side

from ..access import booking_refusal
from ..rows import call_rows
from ..selectors import case_appointments, upcoming_for

register = template.Library()


def _viewer(context: dict[str, Any]) -> User | None:
    request = context.get("request")
    user = getattr(request, "user", None)
    return user if isinstance(user, User) and user.is_authenticated else None


@register.inclusion_tag("scheduling/_case_appointment.html", takes_context=True)
def case_appointments_panel(context: dict[str, Any], consultation: Consultation) -> dict[str, Any]:
    """The consultation's calls, newest first, with what the viewer may do; the case page has
    authorised and audited the viewer already."""
    viewer = _viewer(context)
    if viewer is None:
        return {"rows": []}
    rows = call_rows(case_appointments(consultation), viewer=viewer)
    may_book = not booking_refusal(viewer, consultation)
    return {
        "c": consultation,
        "rows": rows,
        "may_book": may_book,
        "has_upcoming": any(row.appointment.is_upcoming for row in rows),
        "live_mode": consultation.mode in ("realtime", "consilium"),
        "csrf_token": context.get("csrf_token"),
        "requester": Side.REQUESTER,
        "user": viewer,
    }


@register.inclusion_tag("scheduling/_upcoming_calls.html", takes_context=True)
def upcoming_calls(context: dict[str, Any]) -> dict[str, Any]:
    viewer = _viewer(context)
    if viewer is None:
        return {"rows": []}
    rows = call_rows(upcoming_for(viewer)[:10], viewer=viewer)
    consultant = viewer.role == Role.CONSULTANT
    if rows:
        # The list names (or codes) patients: a disclosure on each one's "who looked".
        audit_record(
            accessor=Accessor.from_request(context["request"]),
            action=AuditAction.SEARCH,
            details={"page": "upcoming calls"},
            patients=[row.patient_uuid for row in rows],
        )
    return {"rows": rows, "consultant": consultant, "user": viewer}
