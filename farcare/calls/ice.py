"""The ICE servers a browser gets for a call: the configured STUN/TURN list, plus TURN with
time-limited credentials when a TURN secret is set (coturn's REST API scheme, `use-auth-secret`):
username "<expiry unix time>:<user uuid>", credential base64(HMAC-SHA1(secret, username)). The
page never carries a lasting password; what it carries stops working at the expiry."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any

from django.conf import settings

from farcare.accounts.models import User


def turn_credentials(user: User, *, now: float | None = None) -> tuple[str, str]:
    expiry = int(now if now is not None else time.time()) + settings.FARCARE_TURN_TTL_SECONDS
    username = f"{expiry}:{user.uuid}"
    digest = hmac.new(
        settings.FARCARE_TURN_SECRET.encode(), username.encode(), hashlib.sha1
    ).digest()
    return username, base64.b64encode(digest).decode("ascii")


def ice_servers_for(user: User) -> list[dict[str, Any]]:
    servers: list[dict[str, Any]] = [dict(server) for server in settings.FARCARE_ICE_SERVERS]
    if settings.FARCARE_TURN_SECRET and settings.FARCARE_TURN_URLS:
        username, credential = turn_credentials(user)
        servers.append(
            {
                "urls": list(settings.FARCARE_TURN_URLS),
                "username": username,
                "credential": credential,
            }
        )
    return servers
