"""A closed consultation as a teaching case with nothing that identifies the patient or the
clinicians: the rules, on plain data (no ORM; `sources.py` reads the database into `CaseSource`).

- names of the patient and of every clinician involved → role markers ([patient],
  [clinician A]…), in Cyrillic, Latin and Hangul, transliterated, declined, with initials;
- SNILS, OMS policy, phone numbers, e-mail → markers;
- every date and time shifted by the case's secret offset (intervals kept), in the data and in
  the text (ru, ko and en formats); the birth date → a marker; the age over 89 → "90+";
- the settlement → its region when fewer than 1,000 people live there; facilities → their kind
  and the place so generalised ("a feldsher post in Chukotka");
- the thread's authors → their part in the case (requester, consultant A…).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from .scrub import Person, Place, Scrubber, age_label

SMALL_SETTLEMENT = 1000  # fewer people than this: the settlement is named by its region only
TEXT_FIELDS = ("question", "summary", "findings", "recommendations", "follow_up")


@dataclass(frozen=True)
class Setting:
    """A place of the case as the data has it: generalised by `generalise`."""

    kind: str  # a facility kind code, or "" for a settlement
    settlement: str  # in the case's language
    region: str  # a region code
    population: int


@dataclass(frozen=True)
class Event:
    at: datetime
    what: str
    who: str = ""  # the part in the case: "requester", "consultant A", "system"
    text: str = ""


@dataclass(frozen=True)
class Vital:
    key: str
    loinc: str
    value: str
    unit: str
    at: datetime


@dataclass(frozen=True)
class CaseSource:
    language: str
    sex: str
    birth_date: date
    day: date  # when the consultation was made: the age is counted on it
    people: tuple[Person, ...]
    numbers: tuple[tuple[str, str], ...]
    places: tuple[Place, ...]
    texts: dict[str, str]
    home: Setting
    requesting: Setting
    consulting: tuple[Setting, ...] = ()
    specialty: str = ""
    form: str = ""
    diagnoses: tuple[str, ...] = ()
    evacuation: str = ""
    outcome: str = ""
    helped: str = ""
    vitals: tuple[Vital, ...] = ()
    thread: tuple[Event, ...] = ()
    timeline: tuple[Event, ...] = ()


@dataclass
class DeidentifiedCase:
    texts: dict[str, str]
    content: dict[str, Any]
    replaced: Counter[str] = field(default_factory=Counter)


def generalise(setting: Setting) -> dict[str, str]:
    """The place as a case may name it: the settlement when 1,000 people or more live there,
    else only its region; a facility only by its kind."""
    small = setting.population < SMALL_SETTLEMENT
    return {
        "kind": setting.kind,
        "settlement": "" if small else setting.settlement,
        "region": setting.region,
    }


def _shift(moment: datetime, shift: timedelta) -> str:
    return (moment + shift).isoformat()


def make_scrubber(source: CaseSource, shift: timedelta) -> Scrubber:
    return Scrubber(
        language=source.language,
        people=source.people,
        places=source.places,
        numbers=source.numbers,
        shift=shift,
        reference_year=source.day.year,
        birth_date=source.birth_date,
    )


def deidentify_case(source: CaseSource, shift: timedelta) -> DeidentifiedCase:
    scrubber = make_scrubber(source, shift)
    replaced: Counter[str] = Counter()

    def clean(text: str) -> str:
        result, counts = scrubber.scrub(text)
        replaced.update(counts)
        return result

    texts = {name: clean(source.texts.get(name, "")) for name in TEXT_FIELDS}
    age = source.day.year - source.birth_date.year
    if (source.day.month, source.day.day) < (source.birth_date.month, source.birth_date.day):
        age -= 1
    replaced["birth_date"] += 1  # the recorded birth date itself becomes an age
    places = [source.home, source.requesting, *source.consulting]
    replaced["place"] += sum(1 for s in places if s.population < SMALL_SETTLEMENT)
    content: dict[str, Any] = {
        "patient": {"sex": source.sex, "age": age_label(age), "home": generalise(source.home)},
        "requesting": generalise(source.requesting),
        "consulting": [generalise(s) for s in source.consulting],
        "specialty": source.specialty,
        "form": source.form,
        "diagnoses": list(source.diagnoses),
        "evacuation": source.evacuation,
        "outcome": source.outcome,
        "helped": source.helped,
        "vitals": [
            {
                "key": v.key,
                "loinc": v.loinc,
                "value": v.value,
                "unit": v.unit,
                "at": _shift(v.at, shift),
            }
            for v in source.vitals
        ],
        "thread": [
            {"at": _shift(e.at, shift), "who": e.who, "text": clean(e.text)} for e in source.thread
        ],
        "timeline": [
            {"at": _shift(e.at, shift), "what": e.what, "who": e.who} for e in source.timeline
        ],
    }
    replaced["date"] += len(source.vitals) + len(source.thread) + len(source.timeline)
    return DeidentifiedCase(texts=texts, content=content, replaced=+replaced)
