"""Once a patient leaves a clinician's care (moved to another region), the clinician's list
of orders placed and of open critical alerts no longer shows them."""

from __future__ import annotations

import pytest

from farcare.audit.services import Accessor
from farcare.diagnostics.selectors import open_alerts, orders_placed
from farcare.diagnostics.services.results import report_receive

from .scene import make_scene

HL7 = Accessor(None, channel="hl7")


@pytest.fixture
def dx(chain):
    return make_scene(chain)


def test_a_patient_who_moved_away_leaves_the_orderers_lists(dx):
    order = dx.order(["51990-0"])
    report_receive(accessor=HL7, report=dx.bmp(order, potassium="7.4"))
    assert list(orders_placed(dx.feldsher)) == [order]
    assert [alert.patient for alert in open_alerts(dx.feldsher)] == [dx.patient]

    dx.patient.home_facility = dx.chain.other_region_post
    dx.patient.save()
    assert list(orders_placed(dx.feldsher)) == []
    assert list(open_alerts(dx.feldsher)) == []
