"""The demo's published times: weekday mornings for the next two weeks, in each consultant's own
zone, for the cardiologist in Khabarovsk and the partner's consultant in Korea; and a call booked
for a real-time demo consultation when the demo has one. Running it again adds nothing."""

from __future__ import annotations

from datetime import time, timedelta

from django.utils import timezone

from farcare.accounts.models import User
from farcare.audit.services import Accessor
from farcare.consults.models import OPEN_STATUSES, Consultation, ConsultMode
from farcare.core.timezones import zone_for_user
from farcare.scheduling.models import Appointment
from farcare.scheduling.selectors import bookable_consultants, free_slots
from farcare.scheduling.services import Weekly, appointment_book, slots_publish_weekly

PUBLISHING = ("cardiologist", "consultant_kr")


def load_scheduling() -> None:
    for username in PUBLISHING:
        consultant = User.objects.filter(username=username).first()
        if consultant is None:
            continue
        zone = zone_for_user(consultant)
        slots_publish_weekly(
            accessor=Accessor(consultant, None, "demo"),
            consultant=consultant,
            pattern=Weekly(
                weekdays=frozenset({0, 1, 2, 3, 4}),
                start=time(9, 0),
                end=time(12, 0),
                minutes=30,
                first_day=timezone.now().astimezone(zone).date() + timedelta(days=1),
                weeks=2,
                zone=zone.key,
            ),
        )
    live = (
        Consultation.objects.filter(mode=ConsultMode.REALTIME, status__in=OPEN_STATUSES)
        .exclude(appointments__isnull=False)
        .select_related("requester", "patient", "requesting_facility", "specialty")
        .first()
    )
    if live is None or Appointment.objects.exists():
        return
    slot = free_slots(bookable_consultants(live)).first()
    if slot is not None:
        appointment_book(
            accessor=Accessor(live.requester, None, "demo"), consultation=live, slot=slot
        )
