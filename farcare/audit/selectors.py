from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from farcare.accounts.models import Role, User

from .models import NEWEST_FIRST, AuditAction, AuditEvent, AuditEventPatient, Purpose
from .plain_words import READ_ACTIONS, WRITE_ACTIONS, AccessKind, kind_of, sentence, who_text
from .services import seal_quietly


def audit_events(
    *, actor: str = "", patient: str = "", action: str = "", purpose: str = ""
) -> QuerySet[AuditEvent]:
    """The trail, newest first, for its reader: sealed first, so that the list shows each
    record's place in the chain (what was appended meanwhile is listed first, unnumbered)."""
    seal_quietly()
    events = AuditEvent.objects.all()
    if actor:
        events = events.filter(actor_username=actor)
    if patient:
        try:
            events = events.filter(_concerning(UUID(patient)))
        except ValueError:
            return AuditEvent.objects.none()
    if action:
        events = events.filter(action=action)
    if purpose:
        events = events.filter(purpose=purpose)
    return events.order_by(*NEWEST_FIRST)


def _concerning(patient_uuid: UUID) -> Q:
    """Records about the patient, and records of searches and lists that showed them."""
    linked = AuditEventPatient.objects.filter(patient_uuid=patient_uuid).values("event_id")
    return Q(patient_uuid=patient_uuid) | Q(pk__in=linked)


# Channels through which FarCare acts by itself, with nobody logged in: the deadline watcher,
# a station replaying its outbox, a command on the server.
AUTOMATIC_CHANNELS = frozenset({"system", "sync", "cli"})

# Periods the patient may pick on "who looked at my record", in days ("" for all time).
PERIODS = {"7": 7, "30": 30, "365": 365}

_BREAK_GLASS = Q(purpose=Purpose.BREAK_GLASS) | Q(action=AuditAction.BREAK_GLASS)
_KIND_FILTERS: dict[str, Q] = {
    AccessKind.BREAK_GLASS: _BREAK_GLASS,
    AccessKind.REFUSED: Q(action=AuditAction.DENIED) & ~_BREAK_GLASS,
    AccessKind.CHANGED: Q(action__in=WRITE_ACTIONS) & ~_BREAK_GLASS,
    AccessKind.VIEWED: Q(action__in=READ_ACTIONS) & ~_BREAK_GLASS,
}
# What the page lists: every kind (so not the reviews of emergency access, nor log-ins).
_LISTED = (
    _KIND_FILTERS[AccessKind.BREAK_GLASS]
    | _KIND_FILTERS[AccessKind.REFUSED]
    | _KIND_FILTERS[AccessKind.CHANGED]
    | _KIND_FILTERS[AccessKind.VIEWED]
)


def access_log(
    patient_uuid: UUID, *, kind: str = "", since: datetime | None = None
) -> QuerySet[AuditEvent]:
    """The audit records a patient is shown, newest first; of one kind (plain_words.AccessKind,
    the same split as `kind_of`) and since a moment when asked. Records not sealed yet are
    among them (sealed first when the database allows, as for `audit_events`)."""
    seal_quietly()
    events = AuditEvent.objects.filter(_concerning(patient_uuid)).filter(_LISTED)
    if kind in _KIND_FILTERS:
        events = events.filter(_KIND_FILTERS[kind])
    if since is not None:
        events = events.filter(created_at__gte=since)
    return events.order_by(*NEWEST_FIRST)


@dataclass(frozen=True)
class AccessEntry:
    """One record of "who looked at my record" as the patient reads it."""

    when: datetime
    kind: str
    kind_label: str
    sentence: str
    channel: str  # how, when not through the site's pages


def _channel_label(channel: str) -> str:
    labels = {
        "fhir": _("through a connected medical information system"),
        "sync": _("through a remote station's link"),
        "cli": _("by a command on the server"),
        "admin": _("through the administration site"),
    }
    return str(labels.get(channel, ""))


def access_entries(events: Iterable[AuditEvent], *, patient_user: UUID | None) -> list[AccessEntry]:
    """The records as the patient reads them; `patient_user` is the patient's own account, whose
    actions read as "you"."""
    events = list(events)
    users = _actors(events)
    lines = []
    for event in events:
        user = users.get(event.actor_uuid) if event.actor_uuid else None
        if user is not None:
            who = who_text(
                name=str(user),
                role=user.get_role_display(),
                place=user.facility.name if user.facility else "",
            )
        else:
            # An account since removed: its name and role as the record kept them.
            role = Role(event.actor_role).label if event.actor_role in Role.values else ""
            who = who_text(
                name=event.actor_username,
                role=str(role),
                place="",
                automatic=event.channel in AUTOMATIC_CHANNELS,
            )
        kind = kind_of(event.action, event.purpose) or AccessKind.VIEWED
        details = event.details if isinstance(event.details, dict) else {}
        lines.append(
            AccessEntry(
                when=event.created_at,
                kind=str(kind),
                kind_label=str(kind.label),
                sentence=sentence(
                    action=event.action,
                    purpose=event.purpose,
                    record_type=event.record_type,
                    wanted=str(details.get("wanted", "")),
                    page=str(details.get("page", "")),
                    who=who,
                    by_the_patient=patient_user is not None and event.actor_uuid == patient_user,
                ),
                channel=_channel_label(event.channel),
            )
        )
    return lines


def _actors(events: list[AuditEvent]) -> dict[UUID, User]:
    return {
        user.uuid: user
        for user in User.objects.filter(
            uuid__in={event.actor_uuid for event in events if event.actor_uuid}
        ).select_related("facility")
    }


@dataclass(frozen=True)
class AccessLine:
    when: datetime
    who: str
    role: str
    facility: str
    action: str
    purpose: str
    channel: str


def who_accessed(patient_uuid: UUID) -> list[AccessLine]:
    """Who looked at or changed a patient's record, field by field (the newest 500)."""
    events = list(access_log(patient_uuid)[:500])
    users = _actors(events)
    lines = []
    for event in events:
        user = users.get(event.actor_uuid) if event.actor_uuid else None
        lines.append(
            AccessLine(
                when=event.created_at,
                who=str(user) if user else event.actor_username,
                role=user.get_role_display() if user else event.actor_role,
                facility=str(user.facility) if user and user.facility else "",
                action=event.get_action_display(),
                purpose=event.get_purpose_display(),
                channel=event.channel,
            )
        )
    return lines
