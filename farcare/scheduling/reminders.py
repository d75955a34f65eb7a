"""Reminders before a call (run by `farcare appointments remind`): each participant is told
`FARCARE_APPOINTMENT_REMINDERS_MINUTES` before it starts (24 hours and 15 minutes by default),
in-app, by SMS and e-mail as they chose, with the time in their own zone.

Each reminder is sent once: a `Reminder` row per appointment, person and lead time is written
in the same transaction as the notification, and a unique constraint refuses a second one even
when two workers run at once. When several lead times are due together (a call booked an hour
before it starts) only the nearest is sent: a "tomorrow" message an hour before would mislead."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from . import notices
from .models import Appointment, AppointmentStatus, Reminder


@dataclass
class RemindReport:
    sent: list[str] = field(default_factory=list)


def lead_times() -> list[int]:
    return sorted({int(m) for m in settings.FARCARE_APPOINTMENT_REMINDERS_MINUTES if int(m) > 0})


def _nearest_due(starts_at: datetime, now: datetime, leads: list[int]) -> int | None:
    due = [m for m in leads if starts_at - timedelta(minutes=m) <= now]
    return min(due) if due else None


def send_due_reminders(now: datetime | None = None) -> RemindReport:
    now = now or timezone.now()
    leads = lead_times()
    report = RemindReport()
    if not leads:
        return report
    horizon = now + timedelta(minutes=max(leads))
    due = Appointment.objects.filter(
        status=AppointmentStatus.BOOKED, starts_at__gt=now, starts_at__lte=horizon
    ).select_related(
        "consultation__requester", "consultation__specialty", "consultant", "consultation"
    )
    for appointment in due:
        minutes = _nearest_due(appointment.starts_at, now, leads)
        if minutes is None:
            continue
        for person in notices.participants(appointment):
            if Reminder.objects.filter(
                appointment=appointment, recipient=person, minutes_before=minutes
            ).exists():
                continue
            try:
                with transaction.atomic():
                    Reminder.objects.create(
                        appointment=appointment,
                        recipient=person,
                        minutes_before=minutes,
                        sent_at=now,
                    )
                    notices.remind(appointment, person)
            except IntegrityError:
                continue  # another worker sent it in the same instant
            report.sent.append(f"{appointment.uuid} → {person.username} ({minutes} min)")
    return report
