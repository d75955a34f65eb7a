"""A consultation read from the database as the plain data `deidentify` works on: who is named
(the patient and everyone who touched the case), which numbers and places identify, the texts,
the thread, the timeline and the files."""

from __future__ import annotations

import string
from dataclasses import dataclass

from django.utils import translation

from farcare.accounts.models import User
from farcare.consults.models import Consultation
from farcare.core.values import region as region_name
from farcare.network.models import Facility, FacilityKind, Settlement

from .deidentify import CaseSource, Event, Setting, Vital
from .files import FileIn
from .scrub import OMS, PHONE, SNILS, Person, Place, marker

LANGUAGES = ("ru", "ko", "en")


@dataclass(frozen=True)
class Gathered:
    source: CaseSource
    files: tuple[FileIn, ...]


class Parts:
    """Each person of the case gets a letter, in the order they appear: the requester first."""

    def __init__(self, language: str) -> None:
        self.language = language
        self.people: dict[int, tuple[str, str, User]] = {}  # user pk → (letter, part, user)

    def add(self, user: User | None, part: str) -> None:
        if user is None or user.pk in self.people:
            return
        letter = string.ascii_uppercase[len(self.people) % 26]
        self.people[user.pk] = (letter, part, user)

    def who(self, user: User | None) -> str:
        if user is None or user.pk not in self.people:
            return "system"
        letter, part, _user = self.people[user.pk]
        return f"{part}:{letter}"

    def persons(self) -> list[Person]:
        out = []
        for letter, _part, user in self.people.values():
            family = [user.last_name, user.username]
            given = [user.first_name]
            middle: list[str] = []
            practitioner = getattr(user, "practitioner", None)
            if practitioner is not None:
                family.append(practitioner.family)
                given.append(practitioner.given)
                middle.append(practitioner.middle)
            out.append(
                Person(
                    label=marker(self.language, "clinician", letter=letter),
                    family=tuple(v for v in family if v),
                    given=tuple(v for v in given if v),
                    middle=tuple(v for v in middle if v),
                )
            )
        return out


def _setting(facility: Facility | None, settlement: Settlement | None, language: str) -> Setting:
    place = settlement or (facility.settlement if facility else None)
    names = {"ru": place.name_ru, "ko": place.name_ko, "en": place.name_en} if place else {}
    return Setting(
        kind=facility.kind if facility else "",
        settlement=names.get(language) or names.get("en", ""),
        region=(facility.region if facility else place.region if place else ""),
        population=place.population if place else 0,
    )


def _place_label(facility: Facility | None, region: str, language: str) -> str:
    with translation.override(language):
        where = region_name(region, language)
        if facility is None:
            return f"[{where}]"
        return f"[{FacilityKind(facility.kind).label}, {where}]"


def _places(consultation: Consultation, facilities: list[Facility], language: str) -> list[Place]:
    places: list[Place] = []
    settlements = {consultation.patient.home_settlement, *(f.settlement for f in facilities)}
    for settlement in settlements:
        if settlement.population < 1000:
            places.append(
                Place(
                    names=(settlement.name_ru, settlement.name_en, settlement.name_ko),
                    replacement=_place_label(None, settlement.region, language),
                )
            )
    for facility in facilities:
        places.append(
            Place(
                names=(facility.name_ru, facility.name_en, facility.name_ko),
                replacement=_place_label(facility, facility.region, language),
            )
        )
    return places


def gather(consultation: Consultation, *, with_files: bool = True) -> Gathered:
    """Read everything the case is made from. The caller has authorised the extraction."""
    language = consultation.language if consultation.language in LANGUAGES else "ru"
    patient = consultation.patient
    parts = Parts(language)
    parts.add(consultation.requester, "requester")
    assignments = list(consultation.assignments.select_related("consultant", "facility"))
    for assignment in assignments:
        parts.add(assignment.consultant, "consultant")
    conclusions = list(consultation.conclusions.select_related("author").order_by("version"))
    for conclusion in conclusions:
        parts.add(conclusion.author, "consultant")
    messages = list(consultation.messages.select_related("author"))
    transitions = list(consultation.transitions.select_related("actor"))
    attachments = list(consultation.attachments.select_related("uploaded_by"))
    acknowledgement = getattr(consultation, "acknowledgement", None)
    for user in (
        *(m.author for m in messages),
        *(t.actor for t in transitions),
        *(a.assigned_by for a in assignments),
        *(a.uploaded_by for a in attachments),
        *(a.identity_checked_by for a in attachments),
        acknowledgement.by if acknowledgement else None,
        patient.registered_by,
    ):
        if user is not None:
            parts.add(user, "requester" if user.role == "clinician" else "other")
    patient_person = Person(
        label=marker(language, "patient"),
        family=(patient.family,),
        given=(patient.given,),
        middle=(patient.middle,) if patient.middle else (),
    )
    facilities = [consultation.requesting_facility, patient.home_facility]
    facilities += [a.facility for a in assignments]
    latest = conclusions[-1] if conclusions else None
    if latest is not None and latest.evacuation_destination is not None:
        facilities.append(latest.evacuation_destination)
    facilities = list({f.pk: f for f in facilities}.values())
    numbers = tuple(
        (kind, value)
        for kind, value in (
            (SNILS, patient.snils),
            (OMS, patient.oms_policy),
            (PHONE, patient.phone),
        )
        if value
    )
    consulting = [
        _setting(a.facility, None, language)
        for a in {a.facility_id: a for a in assignments}.values()
    ]
    texts = {
        "question": consultation.question,
        "summary": "\n\n".join(
            t for t in (consultation.summary, consultation.vitals_missing_note) if t
        ),
        "findings": latest.findings if latest else "",
        "recommendations": latest.recommendations if latest else "",
        "follow_up": latest.follow_up if latest else "",
    }
    source = CaseSource(
        language=language,
        sex=patient.sex,
        birth_date=patient.birth_date,
        day=consultation.created_at.date(),
        people=(patient_person, *parts.persons()),
        numbers=numbers,
        places=tuple(_places(consultation, facilities, language)),
        texts=texts,
        home=_setting(patient.home_facility, patient.home_settlement, language),
        requesting=_setting(consultation.requesting_facility, None, language),
        consulting=tuple(consulting),
        specialty=consultation.specialty.code,
        form=consultation.form,
        diagnoses=tuple(_codes(latest.diagnoses) if latest else ()),
        evacuation=latest.evacuation if latest else "",
        outcome=acknowledgement.action if acknowledgement else "",
        helped=acknowledgement.helped if acknowledgement else "",
        vitals=tuple(
            Vital(v.key, v.loinc, v.value, v.unit, v.recorded_at) for v in consultation.vitals.all()
        ),
        thread=tuple(Event(m.created_at, "message", parts.who(m.author), m.body) for m in messages),
        timeline=tuple(Event(t.at, t.event, parts.who(t.actor)) for t in transitions),
    )
    files = tuple(
        FileIn(
            content=_read(attachment.file),
            content_type=attachment.content_type,
            identity_checked=attachment.identity_checked_at is not None,
        )
        for attachment in attachments
        if with_files and attachment.file and attachment.conclusion_id is None
    )
    return Gathered(source=source, files=files)


def _codes(diagnoses: object) -> list[str]:
    codes = []
    for item in diagnoses if isinstance(diagnoses, list) else []:
        code = item.get("code", "") if isinstance(item, dict) else str(item)
        if code:
            codes.append(str(code)[:10])
    return codes


def _read(field: object) -> bytes:
    with field.open("rb") as stream:  # type: ignore[attr-defined]
        return bytes(stream.read())
