"""Analysts see training coverage per facility and region: counts under 5 read "×", the
hours of fewer than five learners are hidden, and because each region's total is shown beside
its facilities, a small facility's count takes another with it so that it cannot be found by
subtraction; no names; nobody else sees the page."""

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


def region_total(html: str, region: str) -> str:
    return html.split(f'data-region="{region}"')[1].split('data-testid="coverage-total"')[1]


def test_an_analyst_sees_counts_with_small_ones_suppressed(coverage, chain) -> None:
    analyst = make_user(Role.ANALYST)
    home = logged_in(analyst).get(reverse("core:home"))
    assert reverse("learning:coverage") in home.text

    page = logged_in(analyst).get(reverse("learning:coverage"))

    assert page.status_code == 200
    assert cell_values(page.text, "Uelen post") == ["×", "×", "×"]
    # Chukotka's 8 enrolled are shown: with the hub's 6 beside them the post's 2 would be 8 - 6,
    # so the hub's counts (and its hours, 10.5 - 9.0 would be the post's) are hidden as well.
    assert cell_values(page.text, "Anadyr regional hospital") == ["×", "×", "×"]
    # One mark for the small count and for the one hidden beside it, and a note that says so.
    assert (
        "× — hidden: fewer than 5, or hidden with such a figure so that it cannot be found by "
        "subtraction." in page.text
    )
    total = region_total(page.text, "Chukotka")
    assert '<td data-testid="enrolled">8</td>' in total
    assert '<td data-testid="attending">7</td>' in total
    assert '<td data-testid="hours">10.5</td>' in total
    assert "Хабов" not in page.text and "Постов" not in page.text


def test_the_next_smallest_facility_is_hidden_not_the_largest(course: Course, chain) -> None:
    # Uelen post: 2 enrolled. Lorino post: 5. The hub: 9. The region's 16 is shown, so Lorino
    # (the smallest shown) goes with Uelen and the hub, the one most worth reading, stays.
    for facility, learners in ((chain.post, 2), (chain.sibling_post, 5), (chain.hub, 9)):
        for _ in range(learners):
            enrol(course, make_user(Role.CLINICIAN, facility))

    page = logged_in(make_user(Role.ANALYST)).get(reverse("learning:coverage"))

    assert cell_values(page.text, "Uelen post")[0] == "×"
    assert cell_values(page.text, "Lorino post")[0] == "×"
    assert cell_values(page.text, "Anadyr regional hospital")[0] == "9"
    assert '<td data-testid="enrolled">16</td>' in region_total(page.text, "Chukotka")
    # Nobody attended: zeros reveal nobody and are shown everywhere.
    assert cell_values(page.text, "Anadyr regional hospital")[1:] == ["0", "0.0"]


def test_a_region_of_one_small_facility_hides_its_total_too(course: Course, chain) -> None:
    # Sakha's enrolled learners: three at one post, one of them attending. The hub's learner
    # enrolled in nothing, so the region's total would be the post's own count: it reads "×"
    # too, while the hub's zeros, which reveal nobody, stay 0.
    for index in range(3):
        learner = enrol(course, make_user(Role.CLINICIAN, chain.other_region_post))
        if index == 0:
            attend(course, course.sessions[0], learner, minutes=90)
    make_user(Role.CLINICIAN, chain.other_region_hub)  # a learner who enrolled in nothing

    page = logged_in(make_user(Role.ANALYST)).get(reverse("learning:coverage"))

    total = region_total(page.text, "Sakha")
    assert '<td data-testid="enrolled">×</td>' in total
    assert '<td data-testid="attending">×</td>' in total
    assert '<td data-testid="hours">×</td>' in total
    hub = str(chain.other_region_hub)
    assert cell_values(page.text, hub) == ["0", "0", "0.0"]


@pytest.mark.parametrize("role", [Role.CLINICIAN, Role.TRAINER, Role.CONSULTANT])
def test_the_page_is_forbidden_to_everyone_but_analysts(coverage, chain, role) -> None:
    user = make_user(role, chain.hub)
    assert logged_in(user).get(reverse("learning:coverage")).status_code == 403
