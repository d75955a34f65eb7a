"""The patient opens "My results" the day after the feldsher took her blood: the tests she is
waiting for are there (what was ordered, when, at which laboratory) with no value at all; once
the laboratory reports, the waiting line gives way to the result; a cancelled order is gone."""

from __future__ import annotations

import pytest
from django.urls import reverse

from farcare.audit.services import Accessor
from farcare.diagnostics.services.ordering import order_cancel
from farcare.diagnostics.services.results import report_receive

from ..conftest import logged_in
from .scene import make_scene

HL7 = Accessor(None, channel="hl7")


@pytest.fixture
def dx(chain):
    return make_scene(chain)


def my_results(dx) -> str:
    response = logged_in(dx.patient_user).get(reverse("my_results:list"))
    assert response.status_code == 200
    return response.content.decode()


def waiting_part(page: str) -> str:
    start = page.find('data-testid="my-waiting"')
    return page[start : page.find("</ul>", start)] if start >= 0 else ""


def test_a_test_still_at_the_laboratory_is_listed_without_values(dx):
    order = dx.order(["51990-0", "58410-2"])
    page = my_results(dx)
    waiting = waiting_part(page)
    assert f'data-order="{order.uuid}"' in waiting
    assert "Basic metabolic panel" in waiting and "Complete blood count" in waiting
    assert "Ordered on" in waiting and dx.chain.district.name in waiting
    assert "No result yet" in waiting
    assert "You have no results yet." not in page
    assert 'data-testid="my-results"' not in page

    # The metabolic panel comes back: only the blood count still waits.
    report_receive(accessor=HL7, report=dx.bmp(order, potassium="5.6"))
    page = my_results(dx)
    waiting = waiting_part(page)
    assert "Complete blood count" in waiting and "Basic metabolic panel" not in waiting
    assert "5.6" not in waiting and "5,6" not in waiting
    assert 'data-testid="my-results"' in page


def test_a_cancelled_order_is_not_waited_for(dx):
    order = dx.order(["58410-2"])
    order_cancel(
        accessor=Accessor(dx.feldsher), order=order, reason="Ordered twice", version=order.version
    )
    page = my_results(dx)
    assert 'data-testid="my-waiting"' not in page
    assert "You have no results yet." in page


def test_another_persons_orders_are_not_shown(dx, chain):
    from ..factories import PatientFactory

    other = PatientFactory(home_facility=chain.post)
    dx.order(["58410-2"], patient=other)
    assert 'data-testid="my-waiting"' not in my_results(dx)
