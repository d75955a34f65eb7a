"""The analyst's home page shows the network by region with its registered patients: a region
with fewer than five reads "×", zeros read 0, the others exactly. The page shows no total of
patients across regions, so nothing can be subtracted and no second region is hidden."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from farcare.accounts.models import Role
from tests.conftest import Chain, logged_in, make_user
from tests.factories import PatientFactory


def patients_by_region(html: str) -> dict[str, str]:
    section = html.split("The network by region")[1].split("</table>")[0]
    rows = re.findall(r"<tr><td>(.*?)</td>.*?<td>([^<]*)</td></tr>", section, re.S)
    return {region: patients for region, patients in rows}


@pytest.mark.parametrize("role", [Role.ANALYST, Role.ADMINISTRATOR])
def test_a_region_with_three_patients_is_hidden_and_the_others_are_shown(
    chain: Chain, role: str
) -> None:
    for _ in range(3):
        PatientFactory(home_facility=chain.other_region_post)  # Sakha
    for _ in range(7):
        PatientFactory(home_facility=chain.post)  # Chukotka

    page = logged_in(make_user(role)).get(reverse("core:home"))

    assert page.status_code == 200
    shown = patients_by_region(page.content.decode())
    assert shown["Sakha (Yakutia)"] == "×"
    assert (
        "× — hidden: fewer than 5, or hidden with such a figure so that it cannot be found by "
        "subtraction." in page.content.decode()
    )
    assert shown["Chukotka"] == "7"
    assert shown["Moscow"] == "0"
