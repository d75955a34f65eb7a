"""A per-address limit on lookups of the public certificate check, so codes cannot be tried
in bulk. The house has no rate limiter; this counts in Django's cache (shared between workers
when CACHES points at a shared backend, as farcare/fhir/oauth does for its replay guard)."""

from __future__ import annotations

from django.core.cache import cache

# Lookups per address per window: enough for a clerk checking a stack of certificates.
LIMIT = 30
WINDOW_SECONDS = 600


def allow(address: str | None, scope: str = "learning:verify") -> bool:
    """Count one lookup from `address`; False once the window's allowance is spent."""
    key = f"{scope}:{address or 'unknown'}"
    if cache.add(key, 1, timeout=WINDOW_SECONDS):
        return True
    try:
        count = cache.incr(key)
    except ValueError:
        # Expired between add and incr: this lookup opens a new window.
        cache.add(key, 1, timeout=WINDOW_SECONDS)
        return True
    return count <= LIMIT
