"""Signals of the accounts app: failures of Django's `authenticate()` called from anywhere are
counted and audited; a changed password is announced (`password_changed`) so that what trusted
the old one ends: other sessions here, personal tokens in the FHIR app (which connects its own
receiver, so that accounts never imports a delivery layer)."""

from __future__ import annotations

from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.signals import user_login_failed
from django.dispatch import Signal, receiver
from django.http import HttpRequest

# Sent after a user's new password is saved, with `user`.
password_changed = Signal()


@receiver(user_login_failed)
def count_failed_login(
    sender: object, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    """A failure of Django's `authenticate()` called by code other than authenticate_user (which
    counts its own): counted towards the lockout and audited, channel "backend"."""
    from .services import BACKEND_CHANNEL, CHANNEL_CREDENTIAL, record_failed_login

    username = credentials.get("username")
    if CHANNEL_CREDENTIAL in credentials or not isinstance(username, str) or not username:
        return
    record_failed_login(
        username=username,
        ip=(request.META.get("REMOTE_ADDR") or None) if request is not None else None,
        channel=BACKEND_CHANNEL,
        why="password",
    )


@receiver(password_changed)
def end_other_sessions(sender: object, user: Any, **kwargs: Any) -> None:
    """Every session of the user ends with the old password. The view in which the user changed
    their own password keeps them logged in (`update_session_auth_hash` carries the session over
    to a new key). With a session engine that cannot be listed (the plain cache), Django's check
    of the password hash stored in each session ends them at their next request instead."""
    engine = import_module(settings.SESSION_ENGINE)
    if settings.SESSION_ENGINE not in (
        "django.contrib.sessions.backends.db",
        "django.contrib.sessions.backends.cached_db",
    ):
        return
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    # Sessions expire after 30 idle minutes, so the live ones are few; each is decoded.
    for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
        if session.get_decoded().get(SESSION_KEY) == str(user.pk):
            engine.SessionStore(session.session_key).delete()
