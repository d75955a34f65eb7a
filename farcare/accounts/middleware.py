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
        user = request.user
        language = getattr(user, "language", "") if user.is_authenticated else ""
        if language in SUPPORTED_LANGUAGES:
            translation.activate(language)
            request.LANGUAGE_CODE = language
        timezone.activate(zone_for_user(user))
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


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
        user = request.user
        if (
            user.is_authenticated
            and not request.path.startswith(OTP_EXEMPT_PREFIXES)
            and not user.is_verified()  # type: ignore[attr-defined]
        ):
            if request.session.get("otp_enrolled"):
                return redirect(f"{reverse('accounts:otp_verify')}?next={request.path}")
            if second_factor_required(user):
                return redirect(reverse("accounts:otp_setup"))
        return self.get_response(request)
