"""What a list of orders says of each one, as the consultations' lists do (`consults.case_rows`):
the patient (family name and initials), sex, age, the reason's first words, priority, due time,
status, and the results so far — abnormal and critical ones marked. Reads only what the list's
query joined and prefetched."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from django.db.models import QuerySet

from farcare.consults.case_rows import age_words, first_words, sex_word, short_name

from ..models import DiagnosticOrder, Interpretation, SpecimenStatus

ABNORMAL = frozenset({Interpretation.LOW, Interpretation.HIGH, Interpretation.ABNORMAL})
CRITICAL = frozenset(
    {Interpretation.CRITICAL_LOW, Interpretation.CRITICAL_HIGH, Interpretation.CRITICAL_ABNORMAL}
)


def flag_of(codes: Iterable[str]) -> str:
    """ "critical" if any value is beyond a critical limit, "abnormal" if any is outside its
    range, else "" (what a row and a report are marked with)."""
    seen = set(codes)
    if seen & CRITICAL:
        return "critical"
    if seen & ABNORMAL:
        return "abnormal"
    return ""


@dataclass(frozen=True)
class OrderRow:
    order: DiagnosticOrder
    patient: str
    sex: str
    age: str
    reason: str
    tests: str
    results: int
    flag: str
    rejected: int


def order_rows(orders: Sequence[DiagnosticOrder], today: date) -> list[OrderRow]:
    rows = []
    for order in orders:
        patient = order.patient
        current = [
            obs.interpretation
            for report in order.reports.all()
            for obs in report.observations.all()
            if obs.superseded_by_id is None
        ]
        rows.append(
            OrderRow(
                order=order,
                patient=short_name(patient.family, patient.given, patient.middle),
                sex=sex_word(patient.sex),
                age=age_words(patient.birth_date, today),
                reason=first_words(order.reason, 60),
                tests=", ".join(test.display for test in order.tests.all()),
                results=len(order.reports.all()),
                flag=flag_of(current),
                rejected=sum(
                    1 for s in order.specimens.all() if s.status == SpecimenStatus.REJECTED
                ),
            )
        )
    return rows


def prefetched(orders: QuerySet[DiagnosticOrder], limit: int = 200) -> list[DiagnosticOrder]:
    """The first `limit` orders with what a row reads, in a fixed number of queries."""
    return list(
        orders.select_related(
            "patient", "performer", "ordering_facility", "orderer"
        ).prefetch_related("tests", "specimens", "reports__observations")[:limit]
    )
