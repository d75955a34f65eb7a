"""A value sent with a comparator ("<0.01") is not that number: kept as written, never read as
exact by the range, the critical limits or the troponin rule."""

from __future__ import annotations

from farcare.diagnostics.models import CriticalAlert, ResultObservation

from .test_diagnostics_results import dx, report_json  # noqa: F401


def test_a_value_below_the_measurable_range_is_kept_as_written(dx, fhir_as):  # noqa: F811
    order = dx.order(["51990-0"])
    resource = report_json(dx, order, potassium=1.0)
    potassium = resource["contained"][3]
    potassium["valueQuantity"]["comparator"] = "<"
    created = fhir_as(dx.district_lab).post("DiagnosticReport", resource)
    assert created.status_code == 201, created.json()
    kept = ResultObservation.objects.get(code="2823-3", report__order=order)
    assert kept.value_number is None and kept.value_text == "<1.0"
    # Whatever it is exactly, below 1.0 mmol/L is below the critical limit (2.8): the orderer
    # is told as for any critical value.
    assert kept.interpretation == "LL"
    assert CriticalAlert.objects.filter(observation=kept).exists()


def test_a_bound_says_only_what_is_certain():
    from decimal import Decimal

    from farcare.diagnostics.interpretation import Range, interpret_bound, parse_bound

    reference, critical = (
        Range(Decimal("3.5"), Decimal("5.1")),
        Range(Decimal("2.8"), Decimal("6.2")),
    )
    assert parse_bound("< 1,0") == ("<", Decimal("1.0"))
    assert parse_bound("≥50") == (">=", Decimal("50"))
    assert parse_bound("5.0") is None
    assert interpret_bound("<", Decimal("1.0"), reference, critical) == "LL"
    assert interpret_bound("<", Decimal("2.8"), reference, critical) == "LL"
    assert interpret_bound("<=", Decimal("2.8"), reference, critical) == "L"
    assert interpret_bound("<", Decimal("5.0"), reference, critical) == ""
    assert interpret_bound(">", Decimal("7"), reference, critical) == "HH"
    assert interpret_bound(">", Decimal("5.1"), reference, critical) == "H"
