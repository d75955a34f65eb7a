"""Reads of patients, always through the access policy's scope."""

from __future__ import annotations

import re
from datetime import date, datetime

from django.db.models import Q, QuerySet

from farcare.access.policy import visible_patients
from farcare.accounts.models import User

from .identifiers import digits, normalise_text
from .models import Patient

_DATE_FORMATS = ("%d.%m.%Y", "%Y-%m-%d", "%d/%m/%Y", "%Y.%m.%d")
_SNILS_LIKE = re.compile(r"^[\d\s-]{11,14}$")


def parse_date(text: str) -> date | None:
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text.strip(), fmt).date()
        except ValueError:
            continue
    return None


def patient_search(*, user: User | None, query: str, limit: int = 50) -> list[Patient]:
    """Find by name (any script, any case, ё as е), by SNILS, or by birth date."""
    query = query.strip()
    if not query:
        return []
    patients: QuerySet[Patient] = visible_patients(user).select_related(
        "home_facility", "home_settlement"
    )
    birth_date = parse_date(query)
    if birth_date is not None:
        patients = patients.filter(birth_date=birth_date)
    elif _SNILS_LIKE.match(query) and len(digits(query)) == 11:
        patients = patients.filter(snils=digits(query))
    else:
        condition = Q()
        for token in normalise_text(query).split(" "):
            condition &= Q(search_name__contains=token)
        patients = patients.filter(condition)
    return list(patients.order_by("family", "given", "birth_date")[:limit])


def duplicates_of(
    *, snils: str, family: str, given: str, birth_date: date | None, exclude_pk: int | None = None
) -> tuple[Patient | None, list[Patient]]:
    """The patient already holding this SNILS, and patients with the same name and birth date.
    Looks at every patient: the caller decides what the user may be told about them."""
    others = Patient.objects.exclude(pk=exclude_pk) if exclude_pk else Patient.objects.all()
    same_snils = others.filter(snils=snils).first() if snils else None
    same_person: list[Patient] = []
    if family and given and birth_date:
        key = normalise_text(f"{family} {given}")
        candidates = others.filter(birth_date=birth_date, search_name__startswith=key)
        if same_snils is not None:
            candidates = candidates.exclude(pk=same_snils.pk)
        same_person = list(candidates[:5])
    return same_snils, same_person
