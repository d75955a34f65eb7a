"""What every analytics page writes to the audit trail: the page and the query it answered,
or the refusal with what was asked. No patient is linked: no analytics page shows one."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from farcare.audit.models import AuditAction
from farcare.audit.services import Accessor, audit_record


def asked(request: HttpRequest, fields: Iterable[str]) -> dict[str, str]:
    """The known fields of a query as it came, cut short (it is untrusted)."""
    return {name: request.GET.get(name, "")[:80] for name in fields if name in request.GET}


def viewed(request: HttpRequest, page: str, query: Mapping[str, object], **more: object) -> None:
    audit_record(
        accessor=Accessor.from_request(request),
        action=AuditAction.VIEW,
        details={"analytics": page, **query, **more},
    )


def refused(
    request: HttpRequest, page: str, fields: Iterable[str], message: str
) -> PermissionDenied:
    """The refusal, audited before it is raised (the caller raises what this returns)."""
    audit_record(
        accessor=Accessor.from_request(request),
        action=AuditAction.DENIED,
        outcome="denied",
        details={"analytics": page, **asked(request, fields)},
    )
    return PermissionDenied(message)
