"""Reminders before a call, with the clock moved: a day before and a quarter of an hour before,
to both sides, each once, in each one's own zone, never naming the patient."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

from django.core.management import call_command
from django.test import override_settings

from farcare.audit.services import Accessor
from farcare.notifications.models import Notification
from farcare.scheduling.models import Reminder
from farcare.scheduling.reminders import send_due_reminders
from farcare.scheduling.services import appointment_book, appointment_cancel


def reminders_to(user):
    return list(
        Notification.objects.filter(recipient=user, event="appointment.reminder").order_by("pk")
    )


def booked_on_wednesday(live):
    # Wednesday 4 March, 10:00 in Seoul = 01:00 UTC = 13:00 in Anadyr.
    slot = next(s for s in live.slots if s.starts_at.day == 4 and s.starts_at.hour == 1)
    return appointment_book(
        accessor=Accessor(live.feldsher), consultation=live.consultation, slot=slot
    )


def test_both_sides_are_reminded_a_day_and_a_quarter_hour_before_each_once(live, clock):
    appointment = booked_on_wednesday(live)
    start = appointment.starts_at

    clock.move_to(start - timedelta(hours=25))
    assert send_due_reminders().sent == []

    clock.move_to(start - timedelta(hours=24) + timedelta(minutes=1))
    out = StringIO()
    call_command("appointments", "remind", stdout=out)
    assert out.getvalue().count("reminded:") == 2
    assert len(reminders_to(live.feldsher)) == 1 and len(reminders_to(live.consultant)) == 1

    call_command("appointments", "remind", stdout=StringIO())  # again: nothing more
    clock.move_to(start - timedelta(hours=2))
    assert send_due_reminders().sent == []

    clock.move_to(start - timedelta(minutes=14))
    assert len(send_due_reminders().sent) == 2
    assert send_due_reminders().sent == []
    assert Reminder.objects.filter(appointment=appointment).count() == 4

    to_feldsher = reminders_to(live.feldsher)[-1]
    to_consultant = reminders_to(live.consultant)[-1]
    # Each reads the time on their own clock.
    assert "Asia/Anadyr" in to_feldsher.texts["en"][1]
    assert "13:00" in to_feldsher.texts["ru"][1]
    assert "Asia/Seoul" in to_consultant.texts["ko"][1]
    assert "10:00" in to_consultant.texts["ru"][1]
    for note in (to_feldsher, to_consultant):
        assert {"ru", "ko", "en"} <= set(note.texts)
        assert len({note.texts[code][1] for code in ("ru", "ko", "en")}) == 3
        for subject, body in note.texts.values():
            assert "Тынетегин" not in subject + body and "Семён" not in subject + body
            assert "chest" not in (subject + body).lower()
        assert note.link == f"/consultations/{live.consultation.uuid}/"


def test_a_call_booked_an_hour_ahead_gets_only_the_nearest_reminder(live, clock):
    appointment = booked_on_wednesday(live)
    clock.move_to(appointment.starts_at - timedelta(minutes=10))
    assert len(send_due_reminders().sent) == 2
    assert set(Reminder.objects.values_list("minutes_before", flat=True)) == {15}


def test_a_cancelled_call_is_not_reminded(live, clock):
    appointment = booked_on_wednesday(live)
    appointment_cancel(
        accessor=Accessor(live.feldsher), appointment=appointment, reason="Patient evacuated"
    )
    clock.move_to(appointment.starts_at - timedelta(minutes=10))
    assert send_due_reminders().sent == []


@override_settings(FARCARE_APPOINTMENT_REMINDERS_MINUTES=[60])
def test_the_lead_times_are_a_setting(live, clock):
    appointment = booked_on_wednesday(live)
    clock.move_to(appointment.starts_at - timedelta(minutes=59))
    assert len(send_due_reminders().sent) == 2
    assert set(Reminder.objects.values_list("minutes_before", flat=True)) == {60}
