"""Feldshers enrol, attend in the room or online, and find the sessions in their history."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from farcare.accounts.models import Role
from farcare.audit.services import Accessor
from farcare.training.models import Attendance, Enrolment
from farcare.training.selectors import attended_minutes, programme_for_learner, sessions_of
from farcare.training.services import (
    attendance_record,
    enrol_self,
    programme_create,
)

from ..conftest import logged_in, make_user
from .conftest import Course

pytestmark = pytest.mark.django_db


def test_a_feldsher_enrols_in_an_open_programme_and_sees_its_schedule(course: Course, chain):
    lorino = make_user(Role.CLINICIAN, chain.sibling_post)
    client = logged_in(lorino)
    mine = client.get(reverse("training:mine"))
    assert course.programme.title in mine.text  # open for enrolment
    client.post(reverse("training:enrol", args=[course.programme.uuid]))
    assert list(programme_for_learner(lorino)) == [course.programme]
    schedule = client.get(reverse("training:mine")).text
    assert schedule.count('data-testid="session-time"') == 4


def test_a_draft_programme_takes_no_self_enrolment_but_a_trainer_may_enrol_someone(
    course: Course, chain
):
    draft = programme_create(accessor=Accessor(course.trainer), title="Ultrasound in pregnancy")
    lorino = make_user(Role.CLINICIAN, chain.sibling_post)
    with pytest.raises(ValidationError):
        enrol_self(accessor=Accessor(lorino), programme=draft)
    assert (
        logged_in(lorino).get(reverse("training:programme", args=[draft.uuid])).status_code == 403
    )
    logged_in(course.trainer).post(
        reverse("training:enrol_learner", args=[draft.uuid]), {"person": lorino.uuid}
    )
    assert Enrolment.objects.filter(programme=draft, learner=lorino).exists()
    assert (
        logged_in(lorino).get(reverse("training:programme", args=[draft.uuid])).status_code == 200
    )


def test_the_trainer_ticks_who_was_in_the_room(course: Course):
    session = course.sessions[0]
    client = logged_in(course.trainer)
    response = client.post(
        reverse("training:attendance_tick", args=[session.uuid, course.feldsher.uuid]),
        {"present": "1"},
    )
    assert response.status_code == 302
    row = Attendance.objects.get(session=session, learner=course.feldsher)
    assert row.how == "in_person" and row.minutes == 90 and row.recorded_by == course.trainer
    page = client.get(reverse("training:session", args=[session.uuid]))
    assert 'data-testid="untick"' in page.text
    history = logged_in(course.feldsher).get(reverse("training:mine")).text
    assert "In all: 90 minutes." in history

    client.post(
        reverse("training:attendance_tick", args=[session.uuid, course.feldsher.uuid]),
        {"present": "0"},
    )
    assert attended_minutes(session, course.feldsher) == 0


def test_a_learner_cannot_tick_themselves_present_in_the_room(course: Course):
    session = course.sessions[0]
    response = logged_in(course.feldsher).post(
        reverse("training:attendance_tick", args=[session.uuid, course.feldsher.uuid]),
        {"present": "1"},
    )
    assert response.status_code == 403
    assert not Attendance.objects.exists()


def test_online_join_and_leave_become_minutes_and_a_second_visit_widens_the_span(course: Course):
    session = sessions_of(course.programme)[0]
    me = Accessor(course.feldsher)
    start = session.starts_at
    attendance_record(
        accessor=me,
        session=session,
        learner=course.feldsher,
        how="online",
        joined_at=start - timedelta(minutes=5),  # early: counts from the start
        left_at=start + timedelta(minutes=40),
    )
    assert attended_minutes(session, course.feldsher) == 40
    attendance_record(
        accessor=me,
        session=session,
        learner=course.feldsher,
        how="online",
        joined_at=start + timedelta(minutes=50),
        left_at=start + timedelta(minutes=120),  # lingered: counts to the end
    )
    assert attended_minutes(session, course.feldsher) == 90
