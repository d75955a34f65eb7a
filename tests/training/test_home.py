"""The trainer's home page carries their programmes and next sessions; the clinicians' and
consultants' home pages lead to "My training"."""

from __future__ import annotations

import pytest
from django.urls import reverse

from farcare.accounts.models import Role

from ..conftest import logged_in, make_user
from .conftest import Course

pytestmark = pytest.mark.django_db


def test_the_trainer_s_home_lists_their_programmes_and_next_sessions(course: Course):
    page = logged_in(course.trainer).get(reverse("core:home")).text
    assert 'data-testid="trainer-programmes"' in page
    assert course.programme.title in page
    assert page.count('data-testid="session-time"') == 4


def test_the_feldsher_s_home_leads_to_my_training_with_the_next_session(course: Course):
    page = logged_in(course.feldsher).get(reverse("core:home")).text
    assert 'data-testid="my-training"' in page and reverse("training:mine") in page
    assert course.sessions[0].title in page


def test_a_consultant_s_home_leads_to_my_training(chain):
    consultant = make_user(Role.CONSULTANT, chain.hub)
    page = logged_in(consultant).get(reverse("core:home")).text
    assert 'data-testid="my-training"' in page
