"""What a list of cases says of each one: who the patient is (family name and initials, or the
case's pseudonym for a reader abroad), sex, age, the first words of the question, the form,
the specialty and the deadline. The same row in the consultant's queue, the facility's
requests, the coordinator's board, the home pages and the inbox, so that three emergencies in
cardiology read as three people and not as "экстренная · Кардиология" three times.

A list shows patients, so its page audits them: `patient_uuids(rows)` is what its audit record
links. `case_rows` reads only what the list's query joined (patient, specialty, facility), never
a query per row. A reader abroad never gets an identity from here: no name, no birth date (the
age is computed and the date left behind), no SNILS."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext

from farcare.access.policy import is_abroad, visible_consultations
from farcare.accounts.models import User
from farcare.patients.models import Sex

from .alerts import linked_case
from .models import Consultation
from .selectors import remaining_of, risk_of

# About a line of a phone's card: enough to tell two questions apart, little enough that a queue
# of 50 stays a few kilobytes.
QUESTION_CHARS = 80
TRIM = " ,;:.-–—"


# --- pure: the words of a row ---------------------------------------------------------------


def short_name(family: str, given: str, middle: str = "") -> str:
    """'Тынетегин С. К.': the family name and initials, as a Russian list names a patient."""
    initials = " ".join(f"{part.strip()[0]}." for part in (given, middle) if part.strip())
    return f"{family.strip()} {initials}".strip()


def first_words(text: str, limit: int = QUESTION_CHARS) -> str:
    """The text on one line, cut at a word before `limit` characters with an ellipsis."""
    words = " ".join(text.split())
    if len(words) <= limit:
        return words
    cut = words[: limit + 1]
    space = cut.rfind(" ")
    # A single very long word (a pasted link, a run of digits) is cut inside it.
    head = cut[:space] if space > limit // 2 else words[:limit]
    return head.rstrip(TRIM) + "…"


def months_old(born: date, today: date) -> int:
    months = (today.year - born.year) * 12 + today.month - born.month
    if today.day < born.day:
        months -= 1
    return max(months, 0)


def age_words(born: date, today: date) -> str:
    """'65 years', or '5 months' under a year: an infant of 0 years says nothing."""
    months = months_old(born, today)
    if months < 12:
        return ngettext("%(n)s month", "%(n)s months", months) % {"n": months}
    years = months // 12
    return ngettext("%(n)s year", "%(n)s years", years) % {"n": years}


def sex_word(sex: str) -> str:
    """Short, as a row has room for ('муж.', '남'); never the stored code."""
    words: dict[str, str] = {
        Sex.FEMALE: pgettext("a patient in a list", "female"),
        Sex.MALE: pgettext("a patient in a list", "male"),
        Sex.OTHER: pgettext("a patient in a list", "sex other"),
        Sex.UNKNOWN: pgettext("a patient in a list", "sex unknown"),
    }
    return words.get(sex, words[Sex.UNKNOWN])


def pseudonym(consultation_uuid: uuid.UUID) -> str:
    """The case's name for a reader abroad, as its page and documents give it."""
    return _("Case %(code)s") % {"code": consultation_uuid.hex[:8].upper()}


# --- rows -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CaseRow:
    c: Consultation
    patient: str  # "Тынетегин С. К.", or "Case 1A2B3C4D" abroad
    pseudonymised: bool
    sex: str
    age: str
    question: str
    risk: str  # selectors.Risk
    left: str  # "1 h 12 min left", "late by 20 min", "" when no clock runs
    patient_uuid: uuid.UUID  # for the audit record; never shown


def case_row(c: Consultation, *, pseudonymised: bool, today: date, now: datetime) -> CaseRow:
    patient = c.patient
    return CaseRow(
        c=c,
        patient=pseudonym(c.uuid)
        if pseudonymised
        else short_name(patient.family, patient.given, patient.middle),
        pseudonymised=pseudonymised,
        sex=sex_word(patient.sex),
        age=age_words(patient.birth_date, today),
        question=first_words(c.question),
        risk=risk_of(
            status=c.status,
            received_at=c.received_at,
            deadline_at=c.deadline_at,
            paused_at=c.paused_at,
            now=now,
        ),
        left=remaining_of(
            status=c.status, deadline_at=c.deadline_at, paused_at=c.paused_at, now=now
        ),
        patient_uuid=patient.uuid,
    )


def case_rows(
    consultations: Iterable[Consultation], *, viewer: User, today: date, now: datetime
) -> list[CaseRow]:
    """The rows of a list for `viewer`; pseudonymised abroad (access.policy.is_abroad), as
    the case page is."""
    abroad = is_abroad(viewer)
    return [case_row(c, pseudonymised=abroad, today=today, now=now) for c in consultations]


def patient_uuids(rows: Sequence[CaseRow]) -> list[uuid.UUID]:
    """Every patient the rows show, for the list's audit record."""
    return [row.patient_uuid for row in rows]


@dataclass(frozen=True)
class AnswerNeeded:
    """A request waiting for the requester's answer to a consultant's question."""

    row: CaseRow
    asked: str  # the first words of the consultant's question
    asked_at: datetime | None


def answers_needed(
    consultations: Iterable[Consultation], *, viewer: User, today: date, now: datetime
) -> list[AnswerNeeded]:
    """Rows of `selectors.awaiting_answer` (annotated with `asked` and `asked_at`)."""
    return [
        AnswerNeeded(
            row=row,
            asked=first_words(getattr(row.c, "asked", "") or ""),
            asked_at=getattr(row.c, "asked_at", None),
        )
        for row in case_rows(consultations, viewer=viewer, today=today, now=now)
    ]


def cases_linked(
    links: Iterable[str], *, viewer: User, today: date, now: datetime
) -> dict[str, CaseRow]:
    """The case each notification link opens (`alerts.case_link`) as a row for `viewer`, keyed
    by the link: one query for a page of the inbox. A case the viewer may no longer open (an
    assignment ended, a request re-routed) is left out: its notification keeps its own text."""
    wanted = {link: found for link in set(links) if (found := linked_case(link))}
    if not wanted:
        return {}
    consultations = visible_consultations(viewer).filter(uuid__in=set(wanted.values()))
    rows = {
        row.c.uuid: row
        for row in case_rows(
            consultations.select_related("patient", "specialty", "requesting_facility"),
            viewer=viewer,
            today=today,
            now=now,
        )
    }
    return {link: rows[found] for link, found in wanted.items() if found in rows}
