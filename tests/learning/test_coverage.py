"""Analysts see training coverage per facility and region: counts under 5 read "<5", the
hours of fewer than five learners are hidden, no names; nobody else sees the page."""

from __future__ import annotations

import pytest
from django.urls import reverse

from farcare.accounts.models import Role
from tests.conftest import Chain, logged_in, make_user

from .conftest import Course, attend, enrol


def cell_values(html: str, facility: str) -> list[str]:
    row = html.split(f"<td>{facility}</td>")[1].split("</tr>")[0]
    return [part.split(">", 1)[1].split("<")[0] for part in row.split("<td")[1:]]


@pytest.fixture
def coverage(course: Course, chain: Chain) -> None:
    # Six at the hub, all enrolled and attending; two at the post, one of them attending.
    for _ in range(6):
        learner = enrol(course, make_user(Role.CLINICIAN, chain.hub, last_name="Хабов"))
        attend(course, course.sessions[0], learner, minutes=90)
    for index in range(2):
        learner = enrol(course, make_user(Role.CLINICIAN, chain.post, last_name="Постов"))
        if index == 0:
            attend(course, course.sessions[0], learner, minutes=90)


def test_an_analyst_sees_counts_with_small_ones_suppressed(coverage, chain) -> None:
    analyst = make_user(Role.ANALYST)
    home = logged_in(analyst).get(reverse("core:home"))
    assert reverse("learning:coverage") in home.text

    page = logged_in(analyst).get(reverse("learning:coverage"))

    assert page.status_code == 200
    assert cell_values(page.text, "Anadyr regional hospital") == ["6", "6", "9.0"]
    assert cell_values(page.text, "Uelen post") == ["&lt;5", "&lt;5", "&lt;5"]
    total = page.text.split('data-region="Chukotka"')[1].split('data-testid="coverage-total"')[1]
    assert '<td data-testid="enrolled">8</td>' in total
    assert '<td data-testid="hours">10.5</td>' in total
    assert "Хабов" not in page.text and "Постов" not in page.text


@pytest.mark.parametrize("role", [Role.CLINICIAN, Role.TRAINER, Role.CONSULTANT])
def test_the_page_is_forbidden_to_everyone_but_analysts(coverage, chain, role) -> None:
    user = make_user(role, chain.hub)
    assert logged_in(user).get(reverse("learning:coverage")).status_code == 403
