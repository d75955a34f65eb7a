"""What a laboratory or a page may send that the database cannot hold, or that is not the
number it looks like: refused with a reason, never stored to fail later."""

from __future__ import annotations

from decimal import Decimal

import pytest

from farcare.audit.services import Accessor
from farcare.diagnostics.inbound import ReportRefused
from farcare.diagnostics.models import DiagnosticReport
from farcare.diagnostics.pages.forms import parse_value
from farcare.diagnostics.services.results import report_receive

from .scene import make_scene

HL7 = Accessor(None, channel="hl7")


@pytest.fixture
def dx(chain):
    return make_scene(chain)


def test_a_value_too_large_for_a_result_is_refused_and_nothing_is_stored(dx):
    order = dx.order(["51990-0"])
    with pytest.raises(ReportRefused) as refused:
        report_receive(accessor=HL7, report=dx.bmp(order, potassium="123456789012"))
    assert refused.value.field.endswith(".value")
    assert not DiagnosticReport.objects.filter(order=order).exists()
    # The largest the column holds is still a result.
    outcome = report_receive(accessor=HL7, report=dx.bmp(order, potassium="9999999999"))
    assert outcome.created


def test_a_typed_value_is_digits_and_one_decimal_mark():
    assert parse_value("5,1") == Decimal("5.1")
    assert parse_value(" 1 200 ") == Decimal("1200")
    assert parse_value("6e0") is None
    assert parse_value("Infinity") is None
    assert parse_value("NaN") is None
