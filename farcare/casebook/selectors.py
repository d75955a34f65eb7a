"""Reads of the casebook. The previews of closed consultations are the one read of patient data
here: audited, each patient shown linked; everything else reads de-identified cases only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from farcare.access import policy
from farcare.accounts.models import User
from farcare.audit.models import AuditAction
from farcare.audit.services import Accessor, audit_record
from farcare.consults.models import Consultation, ConsultForm, EvacuationAdvice, OutcomeAction
from farcare.core.templatetags.farcare import when
from farcare.core.values import region as region_name
from farcare.network.models import FacilityKind
from farcare.patients.models import Consent, ConsentKind, Sex

from .deidentify import generalise
from .models import CaseStatus, ClinicianAsk, TeachingCase
from .scrub import Scrubber, age_label
from .services import random_shift_days
from .sources import gather

PREVIEW_CHARS = 240
PREVIEWS_SHOWN = 20


@dataclass(frozen=True)
class Preview:
    """What a trainer sees of a closed consultation before making a case of it: nothing that
    identifies (no name, date, place below a region, number)."""

    consultation_uuid: str
    specialty: str
    form: str
    sex: str
    age: str
    requesting: dict[str, str]
    question: str


def _preview(consultation: Consultation) -> Preview:
    gathered = gather(consultation, with_files=False)
    source = gathered.source
    scrubber = Scrubber(
        language=source.language,
        people=source.people,
        places=source.places,
        numbers=source.numbers,
        # A shift of its own, kept nowhere: a preview shows no true date either.
        shift=timedelta(days=random_shift_days()),
        reference_year=source.day.year,
        birth_date=source.birth_date,
    )
    question, _counts = scrubber.scrub(source.texts["question"])
    years = source.day.year - source.birth_date.year
    if (source.day.month, source.day.day) < (source.birth_date.month, source.birth_date.day):
        years -= 1
    return Preview(
        consultation_uuid=str(consultation.uuid),
        specialty=consultation.specialty.name,
        form=consultation.form,
        sex=source.sex,
        age=age_label(years),
        requesting=generalise(source.requesting),
        question=question[:PREVIEW_CHARS],
    )


def teaching_previews(*, accessor: Accessor, limit: int = PREVIEWS_SHOWN) -> list[Preview]:
    """The closed consultations the user may make a case of, de-identified; the read is
    audited once, listing every patient whose consultation was shown (as a search is)."""
    consultations = list(
        policy.teaching_sources(accessor.user)
        .exclude(Exists(TeachingCase.objects.filter(source=OuterRef("pk"))))
        .select_related("patient", "specialty", "requesting_facility")
        .order_by("-updated_at")[:limit]
    )
    previews = [_preview(c) for c in consultations]
    audit_record(
        accessor=accessor,
        action=AuditAction.SEARCH,
        details={"teaching": "previews"},
        patients=[c.patient.uuid for c in consultations],
    )
    return previews


def _refused() -> Exists:
    return Exists(
        Consent.objects.filter(
            patient=OuterRef("source__patient"),
            kind=ConsentKind.TEACHING_REFUSED,
            revoked_at__isnull=True,
        )
    )


def _for_reader(cases: QuerySet[TeachingCase], user: User | None) -> QuerySet[TeachingCase]:
    # Abroad, only cases of patients who agreed to the transfer abroad (policy).
    if user is not None and policy.is_abroad(user):
        return cases.filter(policy.transfer_abroad_agreed("source__patient"))
    return cases


def published_cases(user: User | None = None) -> QuerySet[TeachingCase]:
    """Published cases of patients who have not refused (checked again at every read: a refusal
    withdraws a case at once, and this holds even for one recorded some other way), as `user`
    may see them."""
    return _for_reader(
        TeachingCase.objects.filter(status=CaseStatus.PUBLISHED)
        .exclude(_refused())
        .select_related("specialty")
        .order_by("-published_at"),
        user,
    )


def cases_for(user: User) -> QuerySet[TeachingCase]:
    """The cases a trainer works on (all of them), or the ones a clinician authored."""
    cases = _for_reader(TeachingCase.objects.select_related("specialty", "author"), user)
    if policy.may_review_teaching_cases(user):
        return cases
    return cases.filter(author=user)


def asks_for(user: User) -> QuerySet[ClinicianAsk]:
    return ClinicianAsk.objects.filter(clinician=user).select_related("case")


def is_gone(case: TeachingCase) -> bool:
    """Withdrawn, or its patient refused teaching use: nobody opens it any more (a refusal
    recorded some other way than the one that withdraws it counts all the same)."""
    return case.status == CaseStatus.WITHDRAWN or policy.teaching_refused(case.source.patient)


def may_view(user: User, case: TeachingCase) -> bool:
    """Who may open a case: none once it is gone; a clinician asked about it; from abroad,
    nobody else unless the patient agreed to the transfer abroad; a trainer or its author; a
    published one, whoever may read cases."""
    if is_gone(case):
        return False
    if case.asks.filter(clinician=user).exists():
        # They took part in the consultation itself, and their answer is needed to publish.
        return True
    if not policy.teaching_abroad_allowed(user, case.source.patient):
        return False
    if policy.may_review_teaching_cases(user) or case.author_id == user.pk:
        return True
    return (
        case.status == CaseStatus.PUBLISHED
        and policy.may_read_teaching_cases(user)
        and published_cases().filter(pk=case.pk).exists()
    )


def _when(value: str) -> str:
    """A shifted time as the case shows it: in the reader's zone, named, like every time in the
    house (the reader's zone says nothing of the place the case came from)."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return ""
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, UTC)
    return when(moment)


def case_display(case: TeachingCase) -> dict[str, Any]:
    """The content as rows for a page: parts named by role and letter, times shown shifted."""
    content = case.content or {}

    def who(code: str) -> dict[str, str]:
        part, _sep, letter = code.partition(":")
        return {"part": str(PART_LABELS.get(part, part)), "letter": letter}

    patient = content.get("patient", {})
    return {
        "sex": _label(Sex, patient.get("sex", "")),
        "age": patient.get("age", ""),
        "home": place_label(patient.get("home", {})),
        "requesting": place_label(content.get("requesting", {})),
        "consulting": [place_label(p) for p in content.get("consulting", [])],
        "form": _label(ConsultForm, content.get("form", "")),
        "diagnoses": content.get("diagnoses", []),
        "evacuation": _label(EvacuationAdvice, content.get("evacuation", "")),
        "outcome": _label(OutcomeAction, content.get("outcome", "")),
        "vitals": [{**v, "when": _when(v.get("at", ""))} for v in content.get("vitals", [])],
        "thread": [
            {**m, "when": _when(m.get("at", "")), **who(m.get("who", ""))}
            for m in content.get("thread", [])
        ],
        "timeline": [
            {**t, "when": _when(t.get("at", "")), **who(t.get("who", ""))}
            for t in content.get("timeline", [])
        ],
    }


# What the reviewer is told was replaced, by kind (counts only, never the originals).
REPLACED_LABELS = {
    "name": gettext_lazy("names of people"),
    "place": gettext_lazy("places generalised"),
    "snils": gettext_lazy("SNILS numbers"),
    "oms": gettext_lazy("OMS policy numbers"),
    "phone": gettext_lazy("phone numbers"),
    "email": gettext_lazy("e-mail addresses"),
    "date": gettext_lazy("dates and times shifted"),
    "age": gettext_lazy("ages over 89 grouped"),
    "birth_date": gettext_lazy("birth dates removed"),
    "metadata": gettext_lazy("photos cleaned of metadata"),
    "dicom": gettext_lazy("DICOM files de-identified"),
    "file_withheld": gettext_lazy("files withheld"),
}
PART_LABELS = {
    "requester": gettext_lazy("requesting clinician"),
    "consultant": gettext_lazy("consultant"),
    "other": gettext_lazy("clinician"),
    "system": gettext_lazy("system"),
}


def replaced_rows(case: TeachingCase) -> list[tuple[str, int]]:
    return [
        (str(REPLACED_LABELS.get(kind, kind)), count)
        for kind, count in sorted(case.replaced.items())
        if count
    ]


def place_label(place: dict[str, str]) -> str:
    """ "A feldsher–midwife post in Chukotka": the kind and the place as generalised."""
    where = place.get("settlement") or region_name(place.get("region", ""))
    kind = place.get("kind", "")
    if kind in FacilityKind.values:
        return _("%(kind)s, %(place)s") % {"kind": FacilityKind(kind).label, "place": where}
    return where


def _label(choices: type[Any], value: str) -> str:
    return str(choices(value).label) if value in choices.values else value
