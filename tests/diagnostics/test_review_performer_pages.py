"""Laboratory staff open the orders their laboratory performs and the reports it wrote, not
another laboratory's, and not a patient's whole history of results."""

from __future__ import annotations

import pytest
from django.urls import reverse

from farcare.audit.models import AuditEvent
from farcare.audit.services import Accessor
from farcare.diagnostics.models import DiagnosticReport
from farcare.diagnostics.services.results import report_receive

from ..conftest import logged_in
from .scene import make_scene


@pytest.fixture
def dx(chain):
    return make_scene(chain)


def _denied(user) -> int:
    return AuditEvent.objects.filter(actor_uuid=user.uuid, outcome="denied").count()


def test_a_laboratory_opens_only_its_own_orders_and_reports(dx):
    order = dx.order(["51990-0"])  # performed at the district hospital
    report_receive(accessor=Accessor(dx.district_lab), report=dx.bmp(order))
    report = DiagnosticReport.objects.get()
    order_page = reverse("diagnostics:order", args=[order.uuid])
    report_page = reverse("diagnostics:report", args=[report.uuid])

    own = logged_in(dx.district_lab)
    assert own.get(order_page).status_code == 200
    assert own.get(report_page).status_code == 200

    other = logged_in(dx.hub_lab)
    assert other.get(order_page).status_code == 403
    assert other.get(report_page).status_code == 403
    assert _denied(dx.hub_lab) == 2


def test_a_laboratory_does_not_browse_a_patients_results(dx):
    order = dx.order(["51990-0"])
    report_receive(accessor=Accessor(dx.district_lab), report=dx.bmp(order))
    page = reverse("diagnostics:patient", args=[dx.patient.uuid])
    assert logged_in(dx.district_doctor).get(page).status_code == 200
    assert logged_in(dx.district_lab).get(page).status_code == 403
    assert _denied(dx.district_lab) == 1
