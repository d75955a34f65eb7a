"""A released report as its person reads it (`plain_words.ResultSheet`): what the person's
results page, its PDF and FHIR's presentedForm show, from one place (the pages import it from
here; other layers may not import the pages)."""

from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet
from django.utils import timezone, translation

from farcare.core.timezones import local_moment
from farcare.patients.models import Patient

from .interpretation import Range, reference_for
from .models import DiagnosticReport, ObservationStatus, ResultObservation
from .plain_words import ResultLine, ResultSheet, name_of, result_line, whose_range_of
from .release import shown_values

__all__ = ["HIDDEN_VALUES", "is_released", "result_sheet"]

HIDDEN_VALUES = (ObservationStatus.CANCELLED, ObservationStatus.ENTERED_IN_ERROR)


def is_released(report: DiagnosticReport) -> bool:
    """The person may see it: released at once, after review, or once the delay has passed
    (`diagnostics.release`); or held for a review of values added since, with the values
    released before still shown."""
    return (
        report.released_at is not None
        or report.observations.filter(released_at__isnull=False).exists()
    )


def _current_values(report: DiagnosticReport) -> QuerySet[ResultObservation]:
    """The report's values as the person may see them: a corrected value replaces the one it
    corrects once released (`release.shown_values`)."""
    return shown_values(report).exclude(status__in=HIDDEN_VALUES).order_by("sequence", "created_at")


def _reference(observation: ResultObservation, patient: Patient, age: int | None) -> Range | None:
    """The range the laboratory sent with the value; else the table's for the person."""
    if observation.reference_low is not None or observation.reference_high is not None:
        return Range(observation.reference_low, observation.reference_high)
    if observation.reference_text:
        return None
    return reference_for(observation.code, patient.sex, age)


def _age(patient: Patient, moment: datetime) -> int:
    return patient.age_on(timezone.localdate(moment))


def _line(observation: ResultObservation, patient: Patient, language: str) -> ResultLine:
    age = _age(patient, observation.effective_at)
    return result_line(
        code=observation.code,
        sent_name=observation.display,
        value=observation.value_number,
        text=observation.value_text,
        unit=observation.unit,
        reference=_reference(observation, patient, age),
        reference_text=observation.reference_text,
        interpretation=observation.interpretation,
        whose=whose_range_of(observation.code, sex=patient.sex, age_years=age),
        corrected=observation.status == ObservationStatus.CORRECTED,
        language=language,
    )


def result_sheet(report: DiagnosticReport, language: str) -> ResultSheet:
    """The released report in plain words (times in the active zone)."""
    patient = report.patient
    values = list(_current_values(report))
    with translation.override(language):
        taken = report.effective_at or (values[0].effective_at if values else report.issued_at)
        return ResultSheet(
            title=name_of(report.code, language, report.display),
            person=patient.full_name,
            laboratory=report.performer.name if report.performer else "",
            collected=local_moment(taken),
            issued=local_moment(report.issued_at),
            lines=tuple(_line(value, patient, language) for value in values),
            conclusion="\n\n".join(p for p in (report.findings, report.conclusion) if p.strip()),
            language=language,
        )
