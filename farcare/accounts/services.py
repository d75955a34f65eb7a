"""Logging in, locking out, second factors, and creating users."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from django_otp.plugins.otp_totp.models import TOTPDevice

from farcare.audit.models import AuditAction
from farcare.audit.services import Accessor, audit_record
from farcare.core.timezones import local_moment
from farcare.network.models import Facility

from .models import CLINICAL_ROLES, Role, User

# The ways in, as named in the audit trail's `channel`. On the site and the registry the second
# factor is asked on its own page once the password is right (the session stays unverified
# until then: SecondFactorRequiredMiddleware); a station's enrolment has no session to continue,
# so it brings the code with the password. "backend" is any code calling Django's
# `authenticate()` directly (accounts.signals counts its failures).
SESSION_CHANNELS = frozenset({"page", "admin"})
BACKEND_CHANNEL = "backend"
# Marks a call of Django's `authenticate()` made by authenticate_user, which counts its own
# failures (accounts.signals leaves those alone).
CHANNEL_CREDENTIAL = "farcare_channel"


class AuthenticationFailed(Exception):
    """A refused login; `message()` says why to the person, in the active language."""

    code = "wrong_credentials"

    def message(self) -> str:
        return _("The username or password is wrong.")


class AccountLocked(AuthenticationFailed):
    code = "locked"

    def __init__(self, until: datetime) -> None:
        super().__init__(str(until))
        self.until = until

    def message(self) -> str:
        return _("Too many failed attempts. The account is locked until %(time)s.") % {
            "time": local_moment(self.until)
        }


class SecondFactorRequired(AuthenticationFailed):
    """The password is right and the account has (or must have) a second factor: the code from
    the authenticator app must come with it."""

    code = "second_factor_required"

    def message(self) -> str:
        return _("Give the six-digit code from your authenticator app as well.")


class SecondFactorWrong(AuthenticationFailed):
    code = "second_factor_wrong"

    def message(self) -> str:
        return _("The code is wrong or has expired.")


class SecondFactorMissing(AuthenticationFailed):
    """The role must have a second factor and the user has not set one up yet."""

    code = "second_factor_not_set_up"

    def message(self) -> str:
        return _(
            "Your account must have a second factor. Log in to the website once, set one up, "
            "then try again."
        )


def second_factor_required(user: object) -> bool:
    """Whether the deployment requires a second factor of this user's role."""
    return bool(settings.FARCARE_REQUIRE_OTP and getattr(user, "role", "") in CLINICAL_ROLES)


def _ip(request: HttpRequest | None) -> str | None:
    return (request.META.get("REMOTE_ADDR") or None) if request is not None else None


def record_failed_login(
    *, username: str, ip: str | None, channel: str, why: str, count: bool = True
) -> datetime | None:
    """Count a failure towards the lockout (FARCARE_LOCKOUT_ATTEMPTS in a row lock the account
    for FARCARE_LOCKOUT_MINUTES) and audit it. Returns the end of the lock if the account is
    locked now. An attempt at an account already locked is audited, not counted; so is a refusal
    that is no guess (`count=False`)."""
    now = timezone.now()
    until: datetime | None = None
    with transaction.atomic():
        account = User.objects.select_for_update().filter(username=username).first()
        if account is not None and account.locked_until and account.locked_until > now:
            why, until = "locked", account.locked_until
        elif account is not None and count:
            account.failed_logins += 1
            if account.failed_logins >= settings.FARCARE_LOCKOUT_ATTEMPTS:
                account.failed_logins = 0
                account.locked_until = until = now + timedelta(
                    minutes=settings.FARCARE_LOCKOUT_MINUTES
                )
            account.save(update_fields=["failed_logins", "locked_until"])
        audit_record(
            accessor=Accessor(None, ip, channel),
            action=AuditAction.LOGIN_FAILED,
            details={"username": username, "why": why},
        )
    return until


def _verify_second_factor(*, user: User, token: str, ip: str | None, channel: str) -> TOTPDevice:
    for device in confirmed_devices(user):
        if device.verify_token(token.strip()):
            return device
    until = record_failed_login(username=user.username, ip=ip, channel=channel, why="second_factor")
    if until is not None:
        raise AccountLocked(until)
    raise SecondFactorWrong


def authenticate_user(
    *,
    request: HttpRequest | None,
    username: str,
    password: str,
    channel: str,
    otp_token: str | None = None,
) -> User:
    """The one way to prove who one is with a password: a locked account is refused even with
    the right password, a wrong password counts towards the lockout, the second factor is
    checked where the user has or must have one, and the outcome is audited with the channel.

    On a session channel (the site, the registry) a second factor still to be given is asked
    next by the session; elsewhere `otp_token` must come with the password."""
    ip = _ip(request)
    account = User.objects.filter(username=username).first()
    if account is not None and account.locked_until and account.locked_until > timezone.now():
        record_failed_login(username=username, ip=ip, channel=channel, why="locked")
        raise AccountLocked(account.locked_until)
    user = authenticate(
        request, username=username, password=password, **{CHANNEL_CREDENTIAL: channel}
    )
    if not isinstance(user, User):
        until = record_failed_login(username=username, ip=ip, channel=channel, why="password")
        if until is not None:
            raise AccountLocked(until)
        raise AuthenticationFailed
    has_device = bool(confirmed_devices(user))
    if channel in SESSION_CHANNELS and not otp_token:
        second_factor = "pending" if has_device or second_factor_required(user) else "none"
    elif has_device:
        if not otp_token:
            raise SecondFactorRequired
        _verify_second_factor(user=user, token=otp_token, ip=ip, channel=channel)
        second_factor = "verified"
    elif second_factor_required(user):
        record_failed_login(
            username=username, ip=ip, channel=channel, why="no_second_factor", count=False
        )
        raise SecondFactorMissing
    else:
        second_factor = "none"
    User.objects.filter(pk=user.pk).update(failed_logins=0, locked_until=None)
    audit_record(
        accessor=Accessor(user, ip, channel),
        action=AuditAction.LOGIN,
        details={"second_factor": second_factor},
    )
    return user


def second_factor_verify(*, request: HttpRequest, user: User, token: str) -> TOTPDevice:
    """The code a logged-in user gives on the site's second-factor page: a wrong one counts
    towards the lockout like a wrong password (a stolen password must not buy unlimited
    guesses; django-otp's own throttling slows them down as well)."""
    return _verify_second_factor(user=user, token=token, ip=_ip(request), channel="page")


class WrongPassword(AuthenticationFailed):
    code = "wrong_password"

    def message(self) -> str:
        return _("The password is wrong.")


def reauthentication_asks(user: User) -> str:
    """What a logged-in user gives again before a weighty act such as signing: "code", the
    six-digit code of their authenticator app when they have one (a session left open on a
    shared computer must not be enough, and the phone is what a thief lacks), else "password"."""
    return "code" if confirmed_devices(user) else "password"


def reauthenticate(*, request: HttpRequest | None, user: User, secret: str, purpose: str) -> None:
    """The logged-in user proves again that it is them (`reauthentication_asks`). A locked
    account is refused; a wrong password or code counts towards the lockout and is audited like
    a failed login; a right one is audited with the purpose ("sign conclusion")."""
    ip = _ip(request)
    if user.locked_until and user.locked_until > timezone.now():
        record_failed_login(username=user.username, ip=ip, channel="page", why="locked")
        raise AccountLocked(user.locked_until)
    if reauthentication_asks(user) == "code":
        _verify_second_factor(user=user, token=secret, ip=ip, channel="page")
        second_factor = "verified"
    else:
        if not user.check_password(secret):
            until = record_failed_login(
                username=user.username, ip=ip, channel="page", why=f"password: {purpose}"
            )
            if until is not None:
                raise AccountLocked(until)
            raise WrongPassword
        second_factor = "none"
    User.objects.filter(pk=user.pk).update(failed_logins=0)
    audit_record(
        accessor=Accessor(user, ip, "page"),
        action=AuditAction.LOGIN,
        details={"reauthenticated": purpose, "second_factor": second_factor},
    )


class WrongCurrentPassword(AuthenticationFailed):
    code = "wrong_current_password"

    def message(self) -> str:
        return _("Your current password is wrong.")


def password_change(
    *, request: HttpRequest, user: User, old_password: str, new_password: str
) -> None:
    """A logged-in user changes their own password. The current one is checked like a login
    (a wrong one counts towards the lockout: a session left open must not buy unlimited
    guesses); the new one must pass the password validators. The change ends the user's other
    sessions and personal tokens (accounts.signals.password_changed); the caller keeps the
    current session with `update_session_auth_hash`."""
    ip = _ip(request)
    if user.locked_until and user.locked_until > timezone.now():
        raise AccountLocked(user.locked_until)
    if not user.check_password(old_password):
        until = record_failed_login(
            username=user.username, ip=ip, channel="page", why="password_change"
        )
        if until is not None:
            raise AccountLocked(until)
        raise WrongCurrentPassword
    validate_password(new_password, user)
    with transaction.atomic():
        user.set_password(new_password)
        user.save(update_fields=["password"])
        audit_record(
            accessor=Accessor(user, ip, "page"),
            action=AuditAction.UPDATE,
            record=user,
            details={"what": "password", "change": "changed"},
        )


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


# What decides what an account may reach. Nobody changes these on their own account (an
# administrator could otherwise give itself a clinical role and so patients' records), and every
# change of them, by anyone and by any path, is a record in the audit trail.
PRIVILEGE_FIELDS = (
    "role",
    "facility",
    "is_active",
    "is_staff",
    "is_superuser",
    "groups",
    "user_permissions",
)
M2M_PRIVILEGES = ("groups", "user_permissions")


def _privilege(user: User, name: str, value: Any = None, *, stored: bool = True) -> Any:
    """A privilege field's value as the audit trail shows it (UUIDs, names: never row ids)."""
    if stored:
        value = getattr(user, name)
        if name in M2M_PRIVILEGES:
            value = value.all() if user.pk else []
    if name == "facility":
        return str(value.uuid) if value is not None else None
    if name == "groups":
        return sorted(group.name for group in value)
    if name == "user_permissions":
        return sorted(f"{perm.content_type.app_label}.{perm.codename}" for perm in value)
    return value


def _account_details(user: User) -> dict[str, Any]:
    return {
        "what": "account",
        "username": user.username,
        **{name: _privilege(user, name) for name in PRIVILEGE_FIELDS if name not in M2M_PRIVILEGES},
    }


def refuse_own_privilege_change(*, accessor: Accessor, user: User, fields: Iterable[str]) -> None:
    """PermissionDenied (audited) if `accessor` would change privileges of their own account."""
    touched = sorted(set(fields) & set(PRIVILEGE_FIELDS))
    actor = accessor.user
    if not touched or actor is None or actor.pk != user.pk:
        return
    audit_record(
        accessor=accessor,
        action=AuditAction.DENIED,
        record=user,
        outcome="denied",
        details={"what": "account", "refused": touched, "why": "own account"},
    )
    raise PermissionDenied(
        _(
            "You cannot change your own role, facility, active status or registry rights "
            "(%(fields)s). Ask another administrator."
        )
        % {"fields": ", ".join(touched)}
    )


def user_update(*, accessor: Accessor, user: User, data: dict[str, Any]) -> User:
    """Change the fields in `data` (model field names; groups and user_permissions as
    iterables) of `user`. A change of the user's own privileges is refused; each change of
    privileges is audited with the values before and after."""
    refuse_own_privilege_change(
        accessor=accessor,
        user=user,
        # Refused before the transaction, so that the refusal's audit record stays.
        fields=_privilege_changes(User.objects.get(pk=user.pk), user, data),
    )
    with transaction.atomic():
        changes = _privilege_changes(User.objects.select_for_update().get(pk=user.pk), user, data)
        refuse_own_privilege_change(accessor=accessor, user=user, fields=changes)
        for name, value in data.items():
            if name not in M2M_PRIVILEGES:
                setattr(user, name, value)
        user.full_clean(exclude=["password"], validate_unique=False)
        user.save()
        for name in M2M_PRIVILEGES:
            if name in data:
                getattr(user, name).set(data[name])
        if changes:
            audit_record(
                accessor=accessor,
                action=AuditAction.UPDATE,
                record=user,
                details={"what": "account", "changes": changes},
            )
    return user


def _privilege_changes(stored: User, user: User, data: dict[str, Any]) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for name in PRIVILEGE_FIELDS:
        if name not in data:
            continue
        before = _privilege(stored, name)
        after = _privilege(user, name, data[name], stored=False)
        if before != after:
            changes[name] = {"from": before, "to": after}
    return changes


def user_created(*, accessor: Accessor, user: User) -> None:
    """The audit record of a new account, with what it may reach."""
    audit_record(
        accessor=accessor, action=AuditAction.CREATE, record=user, details=_account_details(user)
    )


def user_create(
    *,
    accessor: Accessor,
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
    with transaction.atomic():
        user.save()
        user_created(accessor=accessor, user=user)
    return user
