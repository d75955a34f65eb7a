"""The feldsher in Uelen (Asia/Anadyr, UTC+12) books a call with the cardiologist in
Khabarovsk (UTC+10) from the consultation's page, choosing a time shown on the post's clock
with the cardiologist's beside it; the cardiologist finds the call on their home page on
their own clock."""

from __future__ import annotations

import uuid
import zoneinfo

import pytest
from django.utils import formats, translation
from playwright.sync_api import expect

from farcare.accounts.models import User
from farcare.audit.services import Accessor
from farcare.consults.models import ConsultMode
from farcare.consults.services import RequestData, consult_submit
from farcare.network.models import Specialty
from farcare.patients.models import Patient
from farcare.scheduling.models import Appointment

from .conftest import log_in

pytestmark = pytest.mark.browser


def local(moment, zone: str, language: str = "en") -> str:
    with translation.override(language):
        return formats.date_format(
            moment.astimezone(zoneinfo.ZoneInfo(zone)), "SHORT_DATETIME_FORMAT"
        )


def test_the_feldsher_books_a_time_and_the_cardiologist_sees_it_on_their_clock(demo, new_context):
    feldsher = User.objects.get(username="feldsher")
    consultation = consult_submit(
        accessor=Accessor(feldsher),
        patient=Patient.objects.filter(home_facility=feldsher.facility).first(),
        client_token=uuid.uuid4(),
        data=RequestData(
            specialty=Specialty.objects.get(code="cardiology"),
            form="planned",
            mode=ConsultMode.REALTIME,
            question="Atrial fibrillation on the ECG. Start anticoagulation before transfer?",
        ),
    )
    consultant = consultation.assignments.get(ended_at__isnull=True).consultant

    page = log_in(new_context(), "feldsher")
    page.goto(f"/consultations/{consultation.uuid}/")
    page.get_by_test_id("book-call").click()
    first = page.get_by_test_id("slot").first
    expect(first).to_contain_text("Asia/Anadyr")
    expect(first.get_by_test_id("their-time")).to_contain_text("Asia/Vladivostok")
    first.locator("input").check()
    page.get_by_test_id("book").click()
    expect(page.get_by_test_id("case-calls")).to_be_visible()

    appointment = Appointment.objects.get(consultation=consultation)
    assert appointment.consultant == consultant
    expect(page.get_by_test_id("case-calls")).to_contain_text(
        local(appointment.starts_at, "Asia/Anadyr")
    )

    other = log_in(new_context(), consultant.username)
    calls = other.get_by_test_id("upcoming-calls")
    expect(calls).to_contain_text(local(appointment.starts_at, "Asia/Vladivostok"))
    expect(calls).to_contain_text("Asia/Vladivostok")
    expect(calls.get_by_test_id("their-time")).to_contain_text("Asia/Anadyr")
