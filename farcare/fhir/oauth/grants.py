"""Which SMART scopes a client may ask for and be granted (v1 and v2 syntax)."""

from __future__ import annotations

from collections.abc import Iterable

from ..scopes import READ_INTERACTIONS, WRITE_INTERACTIONS, Scope

V1_PERMISSIONS = frozenset({"read", "write", "*"})
V2_ORDER = "cruds"
_PROBE_TYPE = "Patient"  # any concrete type: used to compare what two scopes allow


def valid_scope(text: str) -> Scope | None:
    """The scope if it is a well-formed SMART v1 or v2 scope (`system/*.read`,
    `user/Patient.rs`), else None. v2 letters must come in the order c, r, u, d, s."""
    scope = Scope.parse(text)
    if scope is None:
        return None
    if not (scope.resource == "*" or scope.resource.isalpha()):
        return None
    permissions = scope.permissions
    if permissions in V1_PERMISSIONS:
        return scope
    letters = [V2_ORDER.find(letter) for letter in permissions]
    if -1 in letters or letters != sorted(set(letters)):
        return None
    return scope


def _covered(requested: Scope, registered: Iterable[Scope]) -> bool:
    """Whether every interaction `requested` allows is allowed by one of the `registered` scopes
    of the same context that cover its resource type (`system/*.read` covers
    `system/Patient.rs`; `system/Patient.read` and `system/Patient.write` together cover
    `system/Patient.cruds`)."""
    candidates = [
        own
        for own in registered
        if own.context == requested.context and own.resource in ("*", requested.resource)
    ]
    resource_type = _PROBE_TYPE if requested.resource == "*" else requested.resource
    return bool(candidates) and all(
        any(own.allows(resource_type, interaction) for own in candidates)
        for interaction in READ_INTERACTIONS | WRITE_INTERACTIONS
        if requested.allows(resource_type, interaction)
    )


def grantable_scopes(requested: str, registered: str) -> list[str]:
    """The requested scopes that fall within the registered ones, in the order asked. Unknown or
    malformed scopes, and scopes beyond the registration, are left out (RFC 6749 §3.3)."""
    allowed = [scope for part in registered.split() if (scope := valid_scope(part))]
    granted: list[str] = []
    for part in requested.split():
        scope = valid_scope(part)
        if scope is None or str(scope) in granted:
            continue
        if _covered(scope, allowed):
            granted.append(str(scope))
    return granted
