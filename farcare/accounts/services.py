"""Logging in, locking out, second factors, and creating users."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from django_otp.plugins.otp_totp.models import TOTPDevice

from farcare.audit.models import AuditAction
from farcare.audit.services import Accessor, audit_record
from farcare.network.models import Facility

from .models import Role, User


class AccountLocked(Exception):
    def __init__(self, until: datetime) -> None:
        super().__init__(str(until))
        self.until = until


def login_check(*, request: HttpRequest, username: str, password: str) -> User | None:
    """The user if the password is right and the account is not locked. Failures count towards
    a lockout of FARCARE_LOCKOUT_MINUTES after FARCARE_LOCKOUT_ATTEMPTS in a row."""
    accessor = Accessor(None, request.META.get("REMOTE_ADDR") or None)
    now = timezone.now()
    account = User.objects.filter(username=username).first()
    if account is not None and account.locked_until and account.locked_until > now:
        audit_record(
            accessor=accessor,
            action=AuditAction.LOGIN_FAILED,
            details={"username": username, "why": "locked"},
        )
        raise AccountLocked(account.locked_until)
    user = authenticate(request, username=username, password=password)
    if user is not None:
        User.objects.filter(pk=user.pk).update(failed_logins=0, locked_until=None)
        return user
    if account is not None:
        with transaction.atomic():
            account = User.objects.select_for_update().get(pk=account.pk)
            account.failed_logins += 1
            locked = account.failed_logins >= settings.FARCARE_LOCKOUT_ATTEMPTS
            if locked:
                account.failed_logins = 0
                account.locked_until = now + timedelta(minutes=settings.FARCARE_LOCKOUT_MINUTES)
            account.save(update_fields=["failed_logins", "locked_until"])
    audit_record(
        accessor=accessor,
        action=AuditAction.LOGIN_FAILED,
        details={"username": username, "why": "password"},
    )
    if account is not None and account.locked_until and account.locked_until > now:
        raise AccountLocked(account.locked_until)
    return None


def confirmed_devices(user: User) -> list[TOTPDevice]:
    return list(TOTPDevice.objects.filter(user=user, confirmed=True))


def otp_start_enrolment(*, user: User) -> TOTPDevice:
    """A fresh unconfirmed device; it counts only after the user proves it with a token."""
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    return TOTPDevice.objects.create(user=user, name=_("Authenticator app"), confirmed=False)


def otp_confirm_enrolment(*, user: User, token: str) -> TOTPDevice | None:
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None or not device.verify_token(token.strip()):
        return None
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user, confirmed=True).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
    return device


def user_create(
    *,
    username: str,
    password: str,
    role: str,
    facility: Facility | None = None,
    first_name: str = "",
    last_name: str = "",
    language: str = "",
    email: str = "",
) -> User:
    if role not in Role.values:
        raise ValidationError(
            _("Unknown role %(role)s; choose one of: %(roles)s")
            % {"role": role, "roles": ", ".join(Role.values)}
        )
    if role in (Role.CLINICIAN, Role.COORDINATOR, Role.CONSULTANT, Role.TRAINER) and not facility:
        raise ValidationError(_("A %(role)s must belong to a facility.") % {"role": role})
    if User.objects.filter(username=username).exists():
        raise ValidationError(_("The username %(username)s is taken.") % {"username": username})
    user = User(
        username=username,
        role=role,
        facility=facility,
        first_name=first_name,
        last_name=last_name,
        language=language,
        email=email,
        is_staff=role == Role.ADMINISTRATOR,
        is_superuser=role == Role.ADMINISTRATOR,
    )
    validate_password(password, user)
    user.set_password(password)
    user.save()
    return user
