"""Remote monitoring in a browser (issue 17). The Uelen feldsher enrols a patient with high blood
pressure after a visit, from the patient's page, and types a pressure of 210/125 at the post. The
district doctor opens the monitoring list: the patient is at the top, with the alert; from the
alert one button opens a teleconsultation request whose question already holds the trend."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from farcare.accounts.models import Role, User
from farcare.demo.loader import DEMO_PASSWORD
from farcare.monitoring.models import Enrolment, MonitoringAlert
from farcare.network.selectors import facilities_above

from ..factories import PatientFactory
from .conftest import log_in

pytestmark = pytest.mark.browser


def _district_doctor(feldsher: User) -> User:
    assert feldsher.facility is not None
    above = facilities_above(feldsher.facility.pk) - {feldsher.facility.pk}
    doctor = (
        User.objects.filter(role=Role.CLINICIAN, is_active=True, facility_id__in=above)
        .order_by("pk")
        .first()
    )
    if doctor is None:
        doctor = User.objects.create_user(
            username="district_doctor",
            password=DEMO_PASSWORD,
            role=Role.CLINICIAN,
            facility_id=min(above),
        )
    return doctor


def test_a_high_pressure_at_the_post_reaches_the_doctor_and_a_teleconsultation(demo, new_context):
    feldsher = User.objects.get(username="feldsher")
    doctor = _district_doctor(feldsher)
    # Someone new at the post: the demo already follows some of its people.
    patient = PatientFactory(
        home_facility=feldsher.facility, family="Вуквутагин", given="Николай", sex="male"
    )

    # The feldsher enrols the patient from the patient's page.
    post = log_in(new_context(), "feldsher")
    post.goto(f"/patients/{patient.uuid}/")
    post.get_by_test_id("enrol-in-monitoring").click()
    post.get_by_label("Programme").select_option("hypertension")
    post.get_by_role("button", name="Next").click()
    form = post.get_by_test_id("enrol-form")
    form.get_by_label("Responsible doctor").select_option(str(doctor.pk))
    visit = timezone.localdate() - timedelta(days=1)
    form.get_by_label("In-person visit on").fill(visit.isoformat())
    post.get_by_test_id("enrol").click()
    expect(post.get_by_test_id("flash")).to_contain_text("enrolled")
    enrolment = Enrolment.objects.get(patient=patient, status="active")
    assert enrolment.responsible_doctor == doctor

    # A pressure of 210/125 at the post.
    reading = post.get_by_test_id("add-reading")
    reading.get_by_label("Pressure, upper number").fill("210")
    reading.get_by_label("Pressure, lower number").fill("125")
    post.get_by_test_id("save-reading").click()
    expect(post.get_by_test_id("flash")).to_contain_text("alert")
    expect(post.get_by_test_id("chart-85354-9").locator("svg")).to_be_visible()
    alert = MonitoringAlert.objects.get(enrolment=enrolment)

    # The district doctor: the patient heads the risk list, the alert waits.
    desk = log_in(new_context(), doctor.username)
    desk.goto("/monitoring/")
    desk.get_by_label("Programme").select_option("hypertension")
    desk.get_by_role("button", name="Show").click()
    first = desk.get_by_test_id("risk-list").locator("tbody tr").first
    expect(first).to_contain_text(patient.family)
    expect(first).to_contain_text("210/125")
    desk.get_by_test_id("my-alerts").click()
    desk.get_by_test_id(f"alert-{alert.uuid}").get_by_role("link").click()
    expect(desk.get_by_test_id("triggering")).to_contain_text("210/125")
    expect(desk.get_by_test_id("trend").locator("svg")).to_be_visible()

    # One button: the request form, the trend already in the question, no name in it.
    desk.get_by_test_id("request-consultation").click()
    desk.wait_for_url(lambda url: "draft=" in url)
    question = desk.locator("textarea[name='question']")
    expect(question).to_contain_text("210")
    assert patient.family not in question.input_value()
