from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone, translation

from farcare.core.timezones import zone_for_user

from .services import second_factor_required

SUPPORTED_LANGUAGES = {code for code, _name in settings.LANGUAGES}


class UserPreferencesMiddleware:
    """The interface language and time zone the user chose; the browser's language otherwise."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        apply_preferences(request)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


def apply_preferences(request: HttpRequest) -> None:
    """Activate the signed-in user's language and zone for the rest of this request (again
    after logging in, when the page after the login is drawn in the login's own answer)."""
    user = request.user
    language = getattr(user, "language", "") if user.is_authenticated else ""
    if language in SUPPORTED_LANGUAGES:
        translation.activate(language)
        request.LANGUAGE_CODE = language
    timezone.activate(zone_for_user(user))


OTP_EXEMPT_PREFIXES = (
    "/accounts/login",
    "/accounts/logout",
    "/accounts/otp/",
    "/static/",
    "/i18n/",
    "/health",
)


class SecondFactorRequiredMiddleware:
    """A user with a second factor enrolled must have used it this session; under production
    settings clinical roles must enrol one before they see anything."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(OTP_EXEMPT_PREFIXES):
            pending = second_factor_pending(request, request.path)
            if pending:
                return redirect(pending)
        return self.get_response(request)


def second_factor_pending(request: HttpRequest, path: str) -> str:
    """Where a signed-in user must go before `path`: the second factor's check (enrolled), or
    its enrolment (required by the deployment); "" when nothing is pending."""
    user = request.user
    # django-otp's middleware gives the request's user `is_verified`; a user who has just
    # logged in (set on the request by login()) has given no second factor yet.
    verified = getattr(user, "is_verified", lambda: False)
    if not user.is_authenticated or verified():
        return ""
    if request.session.get("otp_enrolled"):
        return f"{reverse('accounts:otp_verify')}?next={path}"
    if second_factor_required(user):
        return reverse("accounts:otp_setup")
    return ""
