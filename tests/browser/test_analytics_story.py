"""Issue 18's story in a browser. Two residents of Uelen asked for help this month; the nightly
computation ran. The analyst opens the analytics from the home page, switches to the
settlements of Chukotka, and reads each settlement's distance from the regional hospital beside
its figures, with Uelen's two requests hidden as "×"."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import expect

from farcare.accounts.models import User
from farcare.analytics.compute import refresh
from farcare.audit.services import Accessor
from farcare.consults.services import RequestData, consult_submit
from farcare.network.models import Specialty
from farcare.patients.models import Consent, ConsentKind
from tests.factories import PatientFactory

from .conftest import log_in

pytestmark = pytest.mark.browser


def two_requests_from_uelen() -> None:
    feldsher = User.objects.get(username="feldsher")
    cardiology = Specialty.objects.get(code="cardiology")
    for _n in range(2):
        patient = PatientFactory(home_facility=feldsher.facility)
        Consent.objects.create(
            patient=patient, kind=ConsentKind.TELECONSULTATION, scope="all", recorded_by=feldsher
        )
        consult_submit(
            accessor=Accessor(feldsher, "127.0.0.1"),
            patient=patient,
            client_token=uuid.uuid4(),
            data=RequestData(
                specialty=cardiology, form="planned", question="Stable angina: adjust treatment?"
            ),
        )


def test_the_analyst_reads_chukotkas_settlements_beside_their_distance(demo, new_context):
    two_requests_from_uelen()
    refresh()

    page = log_in(new_context(), "analyst")
    page.get_by_test_id("analytics-link").click()
    expect(page.get_by_test_id("analytics-table")).to_be_visible()

    page.get_by_label("By").select_option("settlement")
    page.get_by_label("Region").select_option("Chukotka")
    page.get_by_role("button", name="Show").click()

    table = page.get_by_test_id("analytics-table")
    expect(table).to_have_attribute("data-dimension", "settlement")
    expect(
        table.get_by_role("columnheader", name="Distance to the regional hub, km")
    ).to_be_visible()
    uelen = table.get_by_role("row").filter(has_text="Uelen")
    # Uelen is some 600 km from Anadyr across the antimeridian.
    expect(uelen.get_by_test_id("distance")).to_have_text(re.compile(r"^\d{3}$"))
    expect(uelen.get_by_test_id("hidden-cell").first).to_have_text("×")
    expect(page.get_by_test_id("suppression-note")).to_contain_text(
        "× — hidden: fewer than 5, or hidden with such a figure"
    )
