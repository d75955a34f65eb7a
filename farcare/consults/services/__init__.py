"""Writes of consultations. Each: ask the access policy (a refusal is audited before any
transaction), then in one transaction lock the row, move the state machine, write the audit
record, and queue the alerts to send after commit.

By stage of the request: `requesting` (the request, its draft, submission and routing),
`handling` (accept, decline, reassign, messages, cancel, other moves, files marked checked),
`concluding` (the signed conclusion and its acknowledgement); `_common` holds what they share.
Callers import from here."""

from __future__ import annotations

from ._common import IDENTITY_KINDS, identity_problem, length_problem
from .concluding import ConclusionData, conclusion_draft, conclusion_sign, consult_acknowledge
from .handling import (
    TEXT_TYPES,
    attachment_mark_checked,
    consult_accept,
    consult_cancel,
    consult_decline,
    consult_reassign,
    consult_transition,
    message_post,
)
from .requesting import CONSILIUM_SIZES, RequestData, consult_save_draft, consult_submit

__all__ = [
    "CONSILIUM_SIZES",
    "IDENTITY_KINDS",
    "TEXT_TYPES",
    "ConclusionData",
    "RequestData",
    "attachment_mark_checked",
    "conclusion_draft",
    "conclusion_sign",
    "consult_accept",
    "consult_acknowledge",
    "consult_cancel",
    "consult_decline",
    "consult_reassign",
    "consult_save_draft",
    "consult_submit",
    "consult_transition",
    "identity_problem",
    "length_problem",
    "message_post",
]
