"""What the monitoring pages share: who is asking, in which language, and how a service's
refusal becomes the page's message (issue 17)."""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError
from django.http import HttpRequest
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from farcare.access.policy import is_abroad
from farcare.accounts.models import Role, User
from farcare.core.page_forms import errors_to_form as errors_to_form  # for the pages
from farcare.core.ports import replication

from . import plans
from .forms import ReadingForm
from .models import (
    AlertStatus,
)
from .services.readings import ReadingIn

PAGE_SIZE = 30
OPEN = (AlertStatus.OPEN, AlertStatus.ESCALATED)
STAFF_ROLES = (Role.CLINICIAN, Role.COORDINATOR, Role.CONSULTANT)


def signed_in_user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def language_code() -> str:
    return (get_language() or "ru").split("-")[0]


def refusal_message(error: ValidationError | IntegrityError | plans.PlanError) -> str:
    if isinstance(error, ValidationError):
        return " ".join(error.messages)
    if isinstance(error, plans.PlanError):
        return error.message
    return _("Someone changed this at the same moment. Reload the page and try again.")


def staff_only(request: HttpRequest) -> User:
    """The monitoring pages of staff: clinicians, coordinators and consultants in Russia. A
    consultant abroad works on pseudonymised cases only (domain.md §3): no list of names."""
    user = signed_in_user(request)
    if user.role not in STAFF_ROLES:
        raise PermissionDenied(_("These pages are for the clinicians who follow monitored people."))
    if is_abroad(user):
        raise PermissionDenied(_("Monitored people are shown only to clinicians in Russia."))
    return user


def at_station() -> bool:
    return replication().is_station()


def reading_ins(form: ReadingForm) -> list[ReadingIn]:
    taken_at: datetime | None = form.cleaned_data.get("taken_at")
    return [
        ReadingIn(
            code=typed.code.value,
            value=typed.value,
            value_2=typed.value_2,
            taken_at=taken_at,
            note=form.cleaned_data.get("note", ""),
        )
        for typed in form.cleaned_data["readings"]
    ]
