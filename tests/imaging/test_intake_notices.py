"""The hub's radiologists are told when a study arrives on their worklist (at once and urgent
for stat and asap, never naming the patient); a radiologist of another region is not. When the
report is signed the orderer is told, and the report page shows the findings, the impression
and a link to the images."""

from __future__ import annotations

import pytest

from farcare.accounts.models import Role
from farcare.notifications.models import Notification
from tests.conftest import logged_in, make_user
from tests.imaging.test_intake_page import _order
from tests.imaging.test_reading_report import read_and_sign

pytestmark = pytest.mark.django_db


def test_a_stat_study_tells_the_hubs_radiologists_urgently(
    reading, django_capture_on_commit_callbacks
):
    colleague = make_user(Role.RADIOLOGIST, reading.chain.hub)
    with django_capture_on_commit_callbacks(execute=True):
        study = reading.store_ct(seed=51, order=_order(reading, priority="stat"))

    told = Notification.objects.filter(event="imaging.study_waiting")
    assert {n.recipient for n in told} == {reading.radiologist, colleague}
    assert all(n.urgent for n in told)
    first = told.get(recipient=reading.radiologist)  # reads English
    assert "CT CHEST" in first.subject and "stat" in first.subject
    assert first.link == f"/imaging/studies/{study.uuid}/"
    assert "Тынетегин" not in first.subject + first.body
    assert not Notification.objects.filter(recipient=reading.other_radiologist).exists()


def test_a_routine_study_is_not_urgent_and_more_images_of_it_tell_nobody_again(
    reading, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        reading.store_ct(seed=52, slices=2)
    with django_capture_on_commit_callbacks(execute=True):
        reading.store_ct(seed=52, slices=4)  # the rest of the series arrives later
    (told,) = Notification.objects.filter(event="imaging.study_waiting")
    assert not told.urgent


def test_the_orderer_is_told_of_the_signed_report_and_reads_it_with_the_images(
    reading, django_capture_on_commit_callbacks
):
    order = _order(reading)
    study = reading.store_ct(seed=53, order=order)
    with django_capture_on_commit_callbacks(execute=True):
        report = read_and_sign(reading, study)

    (told,) = Notification.objects.filter(event="imaging.report_signed")
    assert told.recipient == reading.district_doctor
    assert order.placer_number in told.subject
    assert told.link == f"/diagnostics/reports/{report.uuid}/"

    page = logged_in(reading.district_doctor).get(told.link)
    html = page.content.decode()
    assert page.status_code == 200
    assert "пневмония" in html and "Инфильтрация" in html
    assert f'href="/imaging/studies/{study.uuid}/"' in html
    assert "No values." not in html
