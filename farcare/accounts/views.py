from __future__ import annotations

import base64

import segno
from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from farcare.audit.models import AuditAction
from farcare.audit.services import Accessor, audit_record
from farcare.core.timezones import local_moment

from .forms import LoginForm, PreferencesForm, TokenForm
from .models import User
from .services import (
    AccountLocked,
    confirmed_devices,
    login_check,
    otp_confirm_enrolment,
    otp_start_enrolment,
)


def _safe_next(request: HttpRequest, default: str = "core:home") -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(candidate, {request.get_host()}):
        return candidate
    return reverse(default)


def login_view(request: HttpRequest) -> HttpResponse:
    form = LoginForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = login_check(
                request=request,
                username=form.cleaned_data["username"],
                password=form.cleaned_data["password"],
            )
        except AccountLocked as locked:
            form.add_error(
                None,
                _("Too many failed attempts. The account is locked until %(time)s.")
                % {"time": local_moment(locked.until)},
            )
        else:
            if user is None:
                form.add_error(None, _("The username or password is wrong."))
            else:
                login(request, user)
                request.session["otp_enrolled"] = bool(confirmed_devices(user))
                audit_record(accessor=Accessor.from_request(request), action=AuditAction.LOGIN)
                return redirect(_safe_next(request))
    return render(request, "accounts/login.html", {"form": form, "next": _safe_next(request)})


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
        for device in confirmed_devices(user):
            if device.verify_token(form.cleaned_data["token"].strip()):
                otp_login(request, device)
                return redirect(_safe_next(request))
        form.add_error("token", _("The code is wrong or has expired."))
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
    return render(
        request,
        "accounts/preferences.html",
        {"form": form, "has_device": bool(confirmed_devices(request.user))},  # type: ignore[arg-type]
    )
