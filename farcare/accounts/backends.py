"""The only authentication backend: Django's ModelBackend that also refuses a locked account.

FarCare's own ways in (the site's login, the registry's login, a station's enrolment) go through
`accounts.services.authenticate_user`, which checks the lock first. This backend is the guard
for any code that calls Django's `authenticate()` directly (the test client, a third-party
view): it cannot skip the lockout either, and its failures are counted and audited by
`accounts.signals.count_failed_login` like every other."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.utils import timezone


class LockoutModelBackend(ModelBackend):
    def user_can_authenticate(self, user: Any) -> bool:
        locked_until = getattr(user, "locked_until", None)
        if locked_until is not None and locked_until > timezone.now():
            return False
        return super().user_can_authenticate(user)
