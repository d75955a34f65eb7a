"""A refused request's query is audited as it came: a NUL byte or a lone surrogate in it must
not turn the refusal into a 500 (PostgreSQL's jsonb refuses NUL; no UTF-8 encoder takes a lone
surrogate). Such characters are kept as U+FFFD, and the chain still verifies."""

from farcare.audit.models import AuditAction, AuditEvent
from farcare.audit.services import Accessor, audit_record, audit_verify


def test_a_query_with_a_nul_and_a_lone_surrogate_is_audited_readably(db):
    event = audit_record(
        accessor=Accessor(None),
        action=AuditAction.DENIED,
        details={"query": {"month": "2026-03\x00", "key\x00": ["a\ud800b"]}},
    )
    stored = AuditEvent.objects.get(pk=event.pk).details
    assert stored == {"query": {"month": "2026-03\ufffd", "key\ufffd": ["a\ufffdb"]}}
    assert audit_verify() is None
