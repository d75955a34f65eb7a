"""A patient's editable fields as plain JSON values: what an edit is compared against, and what
crosses between a station and its hub."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from farcare.network.models import Facility, Settlement

from .models import PATIENT_FIELDS, Patient


def plain(value: Any) -> Any:
    """A field's value as JSON: places by UUID, dates in ISO 8601."""
    if isinstance(value, Settlement | Facility):
        return str(value.uuid)
    if isinstance(value, date | datetime):
        return value.isoformat()
    return value


def patient_fields(patient: Patient) -> dict[str, Any]:
    """The editable fields of a patient as plain JSON values (references by UUID)."""
    return {name: plain(getattr(patient, name)) for name in PATIENT_FIELDS}
