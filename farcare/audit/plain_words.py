"""'Who looked at my record' in plain words: each audit record about a patient as the sentence
the patient reads ("Ivanov Ivan (Requesting clinician, Uelen post) opened your record."), and
the kind of access it was, for the page's filter. Pure: no ORM, no request."""

from __future__ import annotations

from enum import StrEnum

from django.db.models import TextChoices
from django.utils.translation import gettext, gettext_lazy, pgettext_lazy

from .models import AuditAction, Purpose


class AccessKind(TextChoices):
    """What the patient filters by. Each record is of one kind; emergency access comes first,
    whatever was done with it, since that is what the patient most needs to find."""

    VIEWED = "viewed", pgettext_lazy("kind of access", "viewed")
    CHANGED = "changed", pgettext_lazy("kind of access", "changed")
    REFUSED = "refused", pgettext_lazy("kind of access", "refused")
    BREAK_GLASS = "break_glass", pgettext_lazy("kind of access", "emergency access")


READ_ACTIONS = (AuditAction.VIEW, AuditAction.SEARCH, AuditAction.EXPORT)
WRITE_ACTIONS = (AuditAction.CREATE, AuditAction.UPDATE, AuditAction.DELETE)
# The policy's actions that change a record (access.policy.Action), as a refusal records them.
_WANTED_CHANGE = frozenset({"update", "manage_consent", "revoke_consent"})


def kind_of(action: str, purpose: str) -> AccessKind | None:
    """The kind of an audit record; None for records the page does not list (reviews)."""
    if purpose == Purpose.BREAK_GLASS or action == AuditAction.BREAK_GLASS:
        return AccessKind.BREAK_GLASS
    if action == AuditAction.DENIED:
        return AccessKind.REFUSED
    if action in WRITE_ACTIONS:
        return AccessKind.CHANGED
    if action in READ_ACTIONS:
        return AccessKind.VIEWED
    return None


class _Verb(StrEnum):
    OPENED_RECORD = "opened_record"
    OPENED_LOG = "opened_log"
    OPENED_CASE = "opened_case"
    LOOKED = "looked"
    LISTED = "listed"
    REGISTERED = "registered"
    ADDED = "added"
    CHANGED = "changed"
    REMOVED = "removed"
    EXPORTED = "exported"
    BROKE_GLASS = "broke_glass"
    REFUSED_OPEN = "refused_open"
    REFUSED_CHANGE = "refused_change"


# (what someone else did, what the patient did themself). Whole sentences, not pieces: in
# Russian the verb agrees with its subject, so "you" cannot stand where a name does.
_SENTENCES = {
    _Verb.OPENED_RECORD: (
        gettext_lazy("%(who)s opened your record."),
        gettext_lazy("You opened your record."),
    ),
    _Verb.OPENED_LOG: (
        gettext_lazy("%(who)s opened the list of who looked at your record."),
        gettext_lazy("You opened the list of who looked at your record."),
    ),
    _Verb.OPENED_CASE: (
        gettext_lazy("%(who)s opened a consultation about you."),
        gettext_lazy("You opened one of your consultations."),
    ),
    _Verb.LOOKED: (
        gettext_lazy("%(who)s looked at information about you."),
        gettext_lazy("You looked at information about you."),
    ),
    _Verb.LISTED: (
        gettext_lazy("%(who)s saw your name in a search or a list."),
        gettext_lazy("Your name was shown to you in a search or a list."),
    ),
    _Verb.REGISTERED: (
        gettext_lazy("%(who)s registered you."),
        gettext_lazy("You registered yourself."),
    ),
    _Verb.ADDED: (
        gettext_lazy("%(who)s added to your record."),
        gettext_lazy("You added to your record."),
    ),
    _Verb.CHANGED: (
        gettext_lazy("%(who)s changed your record."),
        gettext_lazy("You changed your record."),
    ),
    _Verb.REMOVED: (
        gettext_lazy("%(who)s removed something from your record."),
        gettext_lazy("You removed something from your record."),
    ),
    _Verb.EXPORTED: (
        gettext_lazy("%(who)s exported your record."),
        gettext_lazy("You exported your record."),
    ),
    _Verb.BROKE_GLASS: (
        gettext_lazy(
            "%(who)s used emergency access to your record. Every emergency access is reviewed."
        ),
        gettext_lazy("You used emergency access to your record."),
    ),
    _Verb.REFUSED_OPEN: (
        gettext_lazy("Someone tried to open your record and was refused."),
        gettext_lazy("You tried to open your record and were refused."),
    ),
    _Verb.REFUSED_CHANGE: (
        gettext_lazy("Someone tried to change your record and was refused."),
        gettext_lazy("You tried to change your record and were refused."),
    ),
}


def _verb(action: str, record_type: str, wanted: str, page: str) -> _Verb:
    if action == AuditAction.DENIED:
        return _Verb.REFUSED_CHANGE if wanted in _WANTED_CHANGE else _Verb.REFUSED_OPEN
    if action == AuditAction.BREAK_GLASS:
        return _Verb.BROKE_GLASS
    if action == AuditAction.SEARCH:
        return _Verb.LISTED
    if action == AuditAction.EXPORT:
        return _Verb.EXPORTED
    if action == AuditAction.CREATE:
        return _Verb.REGISTERED if record_type == "Patient" else _Verb.ADDED
    if action == AuditAction.UPDATE:
        return _Verb.CHANGED
    if action == AuditAction.DELETE:
        return _Verb.REMOVED
    if record_type == "Patient":
        return _Verb.OPENED_LOG if page == "access_log" else _Verb.OPENED_RECORD
    if record_type == "Consultation":
        return _Verb.OPENED_CASE
    return _Verb.LOOKED


def who_text(*, name: str, role: str, place: str, automatic: bool = False) -> str:
    """'Ivanov Ivan (Requesting clinician, Uelen post)': who, and where they work. Brackets, not
    commas, so the sentence around it reads the same in every language. Nobody named: FarCare
    itself (`automatic`), or someone who was not logged in."""
    if not name:
        if automatic:
            return gettext("FarCare (automatically)")
        return gettext("someone who was not logged in")
    about = ", ".join(part for part in (role, place) if part)
    return f"{name} ({about})" if about else name


def sentence(
    *,
    action: str,
    purpose: str,
    record_type: str,
    wanted: str = "",
    page: str = "",
    who: str,
    by_the_patient: bool,
) -> str:
    """The record as one or two sentences to the patient. A refusal names nobody in its first
    sentence (it may have been a mistyped link), then says who it was, as any access does."""
    verb = _verb(action, record_type, wanted, page)
    other, own = _SENTENCES[verb]
    if by_the_patient:
        text = str(own)
    elif verb in (_Verb.REFUSED_OPEN, _Verb.REFUSED_CHANGE):
        text = f"{other} " + gettext("Who: %(who)s.") % {"who": who}
    else:
        text = str(other) % {"who": who}
    if purpose == Purpose.BREAK_GLASS and verb is not _Verb.BROKE_GLASS:
        text += " " + gettext("This was emergency access; it is reviewed.")
    return text
