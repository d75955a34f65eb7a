"""The pages: the Seoul consultant publishes and sees their times on their own clock; the
Anadyr feldsher books one from the consultation's page on theirs, with the consultant's time
beside it; both see the call on their home page; the consultant abroad never reads the name."""

from __future__ import annotations

import zoneinfo
from datetime import datetime

import pytest
from django.utils import formats, translation

from farcare.audit.services import Accessor
from farcare.scheduling.models import Appointment, AppointmentStatus, SlotStatus
from farcare.scheduling.services import appointment_book

from ..conftest import logged_in

SEOUL = zoneinfo.ZoneInfo("Asia/Seoul")
ANADYR = zoneinfo.ZoneInfo("Asia/Anadyr")


def shown(moment: datetime, zone: zoneinfo.ZoneInfo, language: str) -> str:
    with translation.override(language):
        return formats.date_format(moment.astimezone(zone), "SHORT_DATETIME_FORMAT")


def first_slot(live):
    return live.slots[0]  # Monday 09:00 Seoul = 00:00 UTC = 12:00 Anadyr


@pytest.mark.parametrize("language", ["ru", "ko", "en"])
def test_seoul_and_anadyr_see_the_same_slot_each_on_their_own_clock(live, language):
    slot = first_slot(live)
    for user in (live.consultant, live.feldsher):
        user.language = language
        user.save(update_fields=["language"])
    consultant_page = logged_in(live.consultant, language).get("/appointments/availability/")
    assert consultant_page.status_code == 200
    page = consultant_page.content.decode()
    assert shown(slot.starts_at, SEOUL, language) in page
    assert "Asia/Seoul" in page

    book_page = logged_in(live.feldsher, language).get(
        f"/appointments/book/{live.consultation.uuid}/"
    )
    assert book_page.status_code == 200
    page = book_page.content.decode()
    assert shown(slot.starts_at, ANADYR, language) in page  # the feldsher's 12:00
    assert shown(slot.starts_at, SEOUL, language) in page  # beside it, Seoul's 09:00
    assert "Asia/Anadyr" in page and "Asia/Seoul" in page
    assert 'datetime="2026-03-02T00:00:00+00:00"' in page


def test_the_feldsher_books_from_the_case_page_and_both_home_pages_show_the_call(live):
    feldsher = logged_in(live.feldsher)
    case = feldsher.get(f"/consultations/{live.consultation.uuid}/").content.decode()
    assert 'data-testid="book-call"' in case
    slot = first_slot(live)
    response = feldsher.post(
        f"/appointments/book/{live.consultation.uuid}/", {"slot": str(slot.uuid)}
    )
    assert response.status_code == 302
    appointment = Appointment.objects.get(consultation=live.consultation)
    case = feldsher.get(f"/consultations/{live.consultation.uuid}/").content.decode()
    assert f'data-appointment="{appointment.uuid}"' in case
    assert 'data-testid="book-call"' not in case  # one call at a time

    home = feldsher.get("/").content.decode()
    assert 'data-testid="upcoming-calls"' in home and shown(slot.starts_at, ANADYR, "en") in home

    consultant_home = logged_in(live.consultant, "ko").get("/").content.decode()
    assert shown(slot.starts_at, SEOUL, "ko") in consultant_home
    code = live.consultation.uuid.hex[:8].upper()
    assert code in consultant_home
    for page in (
        consultant_home,
        logged_in(live.consultant).get("/appointments/availability/").content.decode(),
    ):
        assert "Тынетегин" not in page and "Семён" not in page


def test_a_time_not_chosen_is_a_clear_error_in_the_users_language(live):
    response = logged_in(live.feldsher, "ru").post(
        f"/appointments/book/{live.consultation.uuid}/", {"slot": ""}
    )
    assert response.status_code == 422
    assert 'data-testid="error-summary"' in response.content.decode()
    assert not Appointment.objects.exists()


def test_someone_elses_consultation_cannot_be_booked(live):
    response = logged_in(live.consultant).get(f"/appointments/book/{live.consultation.uuid}/")
    assert response.status_code == 403


def test_the_consultant_cancels_with_a_reason_and_the_slot_is_free_again(live):
    appointment = appointment_book(
        accessor=Accessor(live.feldsher), consultation=live.consultation, slot=first_slot(live)
    )
    consultant = logged_in(live.consultant)
    response = consultant.post(f"/appointments/{appointment.uuid}/cancel/", {"reason": ""})
    assert response.status_code == 302
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.BOOKED  # no reason: nothing changed
    consultant.post(f"/appointments/{appointment.uuid}/cancel/", {"reason": "On call in theatre"})
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.CANCELLED
    assert appointment.slot.status == SlotStatus.FREE


def test_the_feldsher_moves_the_call_to_another_time(live):
    appointment = appointment_book(
        accessor=Accessor(live.feldsher), consultation=live.consultation, slot=first_slot(live)
    )
    feldsher = logged_in(live.feldsher)
    page = feldsher.get(f"/appointments/book/{live.consultation.uuid}/?replaces={appointment.uuid}")
    assert 'data-testid="replaces"' in page.content.decode()
    feldsher.post(
        f"/appointments/book/{live.consultation.uuid}/",
        {"slot": str(live.slots[2].uuid), "replaces": str(appointment.uuid)},
    )
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.RESCHEDULED
    assert appointment.replaced_by.slot == live.slots[2]


def test_the_consultant_publishes_a_week_on_the_page(live):
    response = logged_in(live.consultant).post(
        f"/appointments/availability/{live.consultant.uuid}/weekly/",
        {
            "weekdays": ["0", "2"],
            "start": "14:00",
            "end": "16:00",
            "minutes": "60",
            "first_day": "2026-03-09",
            "weeks": "1",
            "zone": "Asia/Seoul",
        },
    )
    assert response.status_code == 302
    bad = logged_in(live.consultant, "ru").post(
        f"/appointments/availability/{live.consultant.uuid}/weekly/",
        {
            "weekdays": ["0"],
            "start": "16:00",
            "end": "14:00",
            "minutes": "60",
            "first_day": "2026-03-09",
            "weeks": "1",
            "zone": "Mars/Olympus",
        },
    )
    assert bad.status_code == 422
    assert 'data-testid="error-summary"' in bad.content.decode()
