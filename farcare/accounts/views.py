from __future__ import annotations

import base64

import segno
from django.contrib import messages
from django.contrib.auth import login, logout, update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import resolve, reverse
from django.utils import timezone, translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from farcare.audit.models import AuditAction
from farcare.audit.services import Accessor, audit_record

from .forms import LoginForm, PasswordChangeForm, PreferencesForm, TokenForm
from .middleware import apply_preferences, second_factor_pending
from .models import User
from .services import (
    AccountLocked,
    AuthenticationFailed,
    authenticate_user,
    confirmed_devices,
    otp_confirm_enrolment,
    otp_start_enrolment,
    password_change,
    second_factor_verify,
)
from .zone_choices import find_zones, picker_options


def _safe_next(request: HttpRequest, default: str = "core:home") -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(candidate, {request.get_host()}):
        return candidate
    return reverse(default)


def login_page(request: HttpRequest, *, channel: str, default_next: str) -> HttpResponse:
    """The login form of the site (channel "page") and of the registry ("admin"): one form, one
    service (`authenticate_user`), the audit trail naming where it was used."""
    form = LoginForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = authenticate_user(
                request=request,
                username=form.cleaned_data["username"],
                password=form.cleaned_data["password"],
                channel=channel,
            )
        except AuthenticationFailed as refused:
            form.add_error(None, refused.message())
        else:
            login(request, user)
            request.session["otp_enrolled"] = bool(confirmed_devices(user))
            target = _safe_next(request, default_next)
            if request.headers.get("HX-Boosted") and channel == "page":
                return _page_after_login(request, target)
            return redirect(target)
    return render(
        request,
        "accounts/login.html",
        {"form": form, "next": _safe_next(request, default_next), "action": request.path},
    )


def _page_after_login(request: HttpRequest, target: str) -> HttpResponse:
    """The answer to a login sent by HTMX (the form is boosted once HTMX has loaded): the home
    page itself, drawn in this answer and put in the address bar, so a satellite link pays no
    round trip for a redirect; a reload then asks for the home page, never the password again.
    Any other destination, a second factor still to give, or a language other than the login
    page's (its <html lang> stays) is a full navigation instead (HX-Redirect)."""
    home = reverse("core:home")
    before = translation.get_language()
    apply_preferences(request)
    if (
        target != home
        or second_factor_pending(request, target)
        or translation.get_language() != before
    ):
        return HttpResponse(headers={"HX-Redirect": target})
    # The page is drawn by the view its address resolves to, as a GET of that address.
    request.method = "GET"
    request.path = request.path_info = home
    response = resolve(home).func(request)
    response["HX-Push-Url"] = home
    return response


def login_view(request: HttpRequest) -> HttpResponse:
    return login_page(request, channel="page", default_next="core:home")


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        audit_record(accessor=Accessor.from_request(request), action=AuditAction.LOGOUT)
    logout(request)
    return redirect("accounts:login")


@login_required
def otp_verify(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            device = second_factor_verify(
                request=request, user=user, token=form.cleaned_data["token"]
            )
        except AccountLocked as locked:
            # Too many wrong codes: the half-open session ends with the lock.
            logout(request)
            messages.error(request, locked.message())
            return redirect("accounts:login")
        except AuthenticationFailed as refused:
            form.add_error("token", refused.message())
        else:
            otp_login(request, device)
            return redirect(_safe_next(request))
    return render(request, "accounts/otp_verify.html", {"form": form, "next": _safe_next(request)})


@login_required
def otp_setup(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = otp_confirm_enrolment(user=user, token=form.cleaned_data["token"])
        if device is not None:
            otp_login(request, device)
            request.session["otp_enrolled"] = True
            messages.success(request, _("Your second factor is set up."))
            return redirect("core:home")
        form.add_error("token", _("The code is wrong or has expired."))
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if request.method == "GET" or device is None:
        device = otp_start_enrolment(user=user)
    qr_svg = segno.make(device.config_url, error="m").svg_inline(scale=4)
    return render(
        request,
        "accounts/otp_setup.html",
        {"form": form, "qr_svg": qr_svg, "secret": base64.b32encode(device.bin_key).decode()},
    )


@login_required
def preferences(request: HttpRequest) -> HttpResponse:
    form = PreferencesForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Your preferences are saved."))
        return redirect("accounts:preferences")
    now = timezone.now()
    query = request.GET.get("zone_q", "")[:60]
    found = find_zones(query, now=now)
    if request.headers.get("HX-Request"):
        return render(request, "accounts/_zone_results.html", {"found": found, "zone_q": query})
    chosen = form["time_zone"].value() or ""
    return render(
        request,
        "accounts/preferences.html",
        {
            "form": form,
            "has_device": bool(confirmed_devices(request.user)),  # type: ignore[arg-type]
            "zone_options": picker_options(user=request.user, chosen=chosen, now=now),
            "chosen_zone": chosen,
            "found": found,
            "zone_q": query,
        },
    )


@login_required
def password_change_view(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    form = PasswordChangeForm(user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            password_change(
                request=request,
                user=user,
                old_password=form.cleaned_data["old_password"],
                new_password=form.cleaned_data["new_password1"],
            )
        except AccountLocked as locked:
            logout(request)
            messages.error(request, locked.message())
            return redirect("accounts:login")
        except AuthenticationFailed as refused:
            form.add_error("old_password", refused.message())
        else:
            # This session carries on under the new password; every other one has ended.
            update_session_auth_hash(request, user)
            messages.success(
                request,
                _(
                    "Your password is changed. You are logged out everywhere else, and your "
                    "personal access tokens no longer work."
                ),
            )
            return redirect("accounts:preferences")
    return render(request, "accounts/password_change.html", {"form": form})
