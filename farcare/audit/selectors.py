from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from django.db.models import Q, QuerySet

from farcare.accounts.models import User

from .models import AuditAction, AuditEvent, AuditEventPatient


def audit_events(
    *, actor: str = "", patient: str = "", action: str = "", purpose: str = ""
) -> QuerySet[AuditEvent]:
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
    return events.order_by("-seq")


def _concerning(patient_uuid: UUID) -> Q:
    """Records about the patient, and records of searches and lists that showed them."""
    linked = AuditEventPatient.objects.filter(patient_uuid=patient_uuid).values("event_id")
    return Q(patient_uuid=patient_uuid) | Q(pk__in=linked)


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
    """Who looked at or changed a patient's record: what the patient is shown."""
    events = list(
        AuditEvent.objects.filter(_concerning(patient_uuid))
        .exclude(action=AuditAction.REVIEW)
        .order_by("-seq")[:500]
    )
    users = {
        user.uuid: user
        for user in User.objects.filter(
            uuid__in={event.actor_uuid for event in events if event.actor_uuid}
        ).select_related("facility")
    }
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
