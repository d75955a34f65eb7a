from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_POST
from django.views.i18n import set_language as django_set_language

from farcare.accounts.models import User
from farcare.audit.models import AuditAction
from farcare.audit.services import Accessor, audit_record

from . import selectors


@login_required
def home(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    context = selectors.home_context(user)
    if context["patients_shown"]:
        # The home page lists cases by their patients: audited like any list that names them.
        audit_record(
            accessor=Accessor.from_request(request),
            action=AuditAction.SEARCH,
            details={"worklist": "home"},
            patients=context["patients_shown"],
        )
    return render(request, f"core/home_{user.role or 'administrator'}.html", context)


@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    """The language switcher: remembered on the account as well as in the cookie."""
    language = request.POST.get("language", "")
    if request.user.is_authenticated and language in dict(settings.LANGUAGES):
        User.objects.filter(pk=request.user.pk).update(language=language)
    return django_set_language(request)


def health(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"status": "ok"})
