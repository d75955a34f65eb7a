"""Reads of consultations for pages: worklists and the case view. Worklists fetch a page of
rows in a fixed number of queries, however many consultations exist."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from django.conf import settings
from django.db.models import (
    Case,
    Exists,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    TextField,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from farcare.access.policy import ConsultView
from farcare.accounts.models import Role, User
from farcare.clinical.vitals import VITALS, VitalKind
from farcare.core import values
from farcare.core.durations import minutes_text
from farcare.network.models import PractitionerRole, PractitionerRoleKind
from farcare.patients.models import ConsentKind

from .attachments import ALLOWED
from .models import (
    OPEN_STATUSES,
    Assignment,
    Attachment,
    Consultation,
    Message,
    Status,
    Transition,
)
from .workflow import Side

WORKLIST_LIMIT = 200


def _base() -> QuerySet[Consultation]:
    # Only what a worklist row shows (consults.case_rows): every join here is paid on every row
    # of every refresh, and a row without its patient joined would cost a query each.
    return Consultation.objects.select_related("specialty", "requesting_facility", "patient")


def consultant_queue(user: User) -> QuerySet[Consultation]:
    """Requests assigned to the consultant, and requests at their facility in their specialties
    that nobody has accepted yet; nearest deadline first."""
    # Checked per open case (a handful), not over the consultant's whole history.
    mine = Assignment.objects.filter(
        consultation=OuterRef("pk"), consultant=user, ended_at__isnull=True
    )
    specialties = PractitionerRole.objects.filter(
        practitioner__user=user, kind=PractitionerRoleKind.CONSULTANT
    ).values("practitioner__specialties")
    claimable = Q(
        status=Status.REQUESTED,
        routed_facility_id=user.facility_id,
        specialty__in=specialties,
    )
    return (
        _base()
        .filter(Exists(mine) | claimable, status__in=OPEN_STATUSES)
        .order_by("deadline_at")[:WORKLIST_LIMIT]
    )


# The requester's list, grouped by state: what needs them first, what is finished last.
STATE_ORDER = [
    Status.ON_HOLD,
    Status.COMPLETED,
    Status.REQUESTED,
    Status.ACCEPTED,
    Status.IN_PROGRESS,
    Status.DRAFT,
    Status.REJECTED,
    Status.FAILED,
    Status.CANCELLED,
]


def requester_list(user: User) -> QuerySet[Consultation]:
    """The requests of the clinician's facility by state, then nearest deadline / newest."""
    state_rank = Case(
        *(When(status=status, then=Value(rank)) for rank, status in enumerate(STATE_ORDER)),
        default=Value(len(STATE_ORDER)),
        output_field=IntegerField(),
    )
    return (
        _base()
        .filter(requesting_facility_id=user.facility_id)
        .exclude(status=Status.ENTERED_IN_ERROR)
        .annotate(state_rank=state_rank)
        .order_by("state_rank", "deadline_at", "-updated_at")[:WORKLIST_LIMIT]
    )


def patient_consultations(patient_id: int) -> QuerySet[Consultation]:
    """Every consultation about a patient, for their record: newest first."""
    return (
        _base()
        .filter(patient_id=patient_id)
        .exclude(status=Status.ENTERED_IN_ERROR)
        .prefetch_related("conclusions")
        .order_by("-created_at")
    )


def awaiting_answer(user: User) -> QuerySet[Consultation]:
    """Requests of the clinician's facility a consultant has put on hold with a question: the
    longest waiting first, each annotated with the question (`asked`: the last message that
    asked the requester, else the note of the move to on hold) and when (`asked_at`)."""
    question = Message.objects.filter(consultation=OuterRef("pk"), asks_requester=True).order_by(
        "-created_at", "-pk"
    )
    hold = Transition.objects.filter(
        consultation=OuterRef("pk"), to_status=Status.ON_HOLD
    ).order_by("-at", "-pk")
    return (
        _base()
        .filter(requesting_facility_id=user.facility_id, status=Status.ON_HOLD)
        .annotate(
            asked=Coalesce(
                Subquery(question.values("body")[:1]),
                Subquery(hold.values("note")[:1]),
                Value(""),
                output_field=TextField(),
            ),
            asked_at=Coalesce(Subquery(hold.values("at")[:1]), "paused_at", "updated_at"),
        )
        .order_by("asked_at", "deadline_at")[:WORKLIST_LIMIT]
    )


def unacknowledged(user: User) -> QuerySet[Consultation]:
    """Signed conclusions the requester has not yet acknowledged: they stay on the home page."""
    return (
        _base()
        .filter(
            requesting_facility_id=user.facility_id,
            status=Status.COMPLETED,
            acknowledgement__isnull=True,
        )
        .order_by("-updated_at")[:WORKLIST_LIMIT]
    )


def coordinator_board(user: User) -> QuerySet[Consultation]:
    """Every open request of the coordinator's region, nearest deadline first (a page)."""
    return board_queryset(user)[:WORKLIST_LIMIT]


def board_queryset(user: User) -> QuerySet[Consultation]:
    """The coordinator's board before its page limit (farcare.consults.board narrows it)."""
    region = user.facility.region if user.facility else ""
    return (
        _base()
        .filter(requesting_facility__region=region, status__in=OPEN_STATUSES)
        .prefetch_related(
            Prefetch(
                "assignments",
                queryset=Assignment.objects.filter(ended_at__isnull=True).select_related(
                    "consultant"
                ),
                to_attr="active_assignments",
            )
        )
        .order_by("deadline_at")
    )


class Risk:
    """Deadline risk colours on the board."""

    BREACHED = "breached"
    HIGH = "high"  # less than a quarter of the time left, or nobody accepted after half
    WATCH = "watch"  # less than half left
    OK = "ok"
    PAUSED = "paused"


def deadline_risk(consultation: Consultation, now: datetime | None = None) -> str:
    return risk_of(
        status=consultation.status,
        received_at=consultation.received_at,
        deadline_at=consultation.deadline_at,
        paused_at=consultation.paused_at,
        now=now or timezone.now(),
    )


def risk_of(
    *,
    status: str,
    received_at: datetime | None,
    deadline_at: datetime | None,
    paused_at: datetime | None,
    now: datetime,
) -> str:
    """The deadline's colour from the clock's facts alone (a station has them from the hub)."""
    if deadline_at is None or received_at is None:
        return Risk.OK
    if paused_at is not None:
        return Risk.PAUSED
    total = (deadline_at - received_at).total_seconds() or 1
    left = (deadline_at - now).total_seconds()
    if left <= 0:
        return Risk.BREACHED
    if left < total / 4 or (status == Status.REQUESTED and left < total / 2):
        return Risk.HIGH
    if left < total / 2:
        return Risk.WATCH
    return Risk.OK


def remaining_text(consultation: Consultation, now: datetime | None = None) -> str:
    """'1 h 12 min left', 'late by 20 min', or '' when no clock runs."""
    return remaining_of(
        status=consultation.status,
        deadline_at=consultation.deadline_at,
        paused_at=consultation.paused_at,
        now=now or timezone.now(),
    )


def remaining_of(
    *, status: str, deadline_at: datetime | None, paused_at: datetime | None, now: datetime
) -> str:
    """The time left in words from the clock's facts alone (a station has them from the hub)."""
    if deadline_at is None or status not in OPEN_STATUSES:
        return ""
    moment = paused_at or now
    seconds = int((deadline_at - moment).total_seconds())
    # Whole minutes, never rounded up: a countdown does not promise time that is not left,
    # and seconds are too fine for a deadline of hours (unlike a transfer's `duration_text`).
    span = minutes_text(abs(seconds) // 60)
    if paused_at is not None:
        return _("%(span)s left (paused)") % {"span": span}
    if seconds < 0:
        return _("late by %(span)s") % {"span": span}
    return _("%(span)s left") % {"span": span}


def news2_band_label(band: str) -> str:
    """'high' → 'High' in the reader's language; '' when there is no score."""
    return values.news2_band(band) if band else ""


def vital_value_label(key: str, value: str, language: str) -> str:
    """A stored vital's value as a reader says it (core.values): 'oxygen' or 'air' rather than
    True or False, 'Alert (A)' rather than 'A', 36,6 in Russian. The value is the text the
    vital is stored as (str() of what parse_vitals returned)."""
    spec = VITALS.get(key)
    if spec is None:
        return value
    # The same words as the request form's choices (consults.forms._vital_field): what the
    # feldsher chose is what the consultant reads.
    if spec.kind is VitalKind.BOOLEAN:
        return values.air_or_oxygen(value, language)
    if spec.kind is VitalKind.CODED:
        return values.acvpu(value, language)
    if spec.kind is VitalKind.CHOICE:
        return {"1": _("scale 1"), "2": _("scale 2 (hypercapnic failure)")}.get(value, value)
    return values.number(value, language)


@dataclass(frozen=True)
class VitalRow:
    name: str
    value: str
    unit: str
    loinc: str


def vital_rows(consultation: Consultation, language: str) -> list[VitalRow]:
    """The recorded vital signs, named, valued and with units in the reader's language."""
    rows = []
    for vital in consultation.vitals.all():
        spec = VITALS.get(vital.key)
        rows.append(
            VitalRow(
                name=spec.name(language) if spec else vital.key,
                value=vital_value_label(vital.key, vital.value, language),
                unit=spec.unit(language) if spec and vital.unit else "",
                loinc=vital.loinc,
            )
        )
    return rows


@dataclass(frozen=True)
class TeamMember:
    name: str
    facility: str
    accepted: bool


@dataclass(frozen=True)
class CaseFacts:
    """What the head of a case page states. At the hub from its own records; at a station as
    the hub last told it (`farcare.sync.selectors.hub_facts`): the hub routes, keeps the clock
    and answers, the post only mirrors."""

    status: str
    status_label: str
    received_at: datetime | None
    deadline_at: datetime | None
    paused_at: datetime | None
    team: list[TeamMember]
    routed_facility: str
    news2_total: int | None
    news2_band: str

    def left(self, now: datetime | None = None) -> str:
        return remaining_of(
            status=self.status,
            deadline_at=self.deadline_at,
            paused_at=self.paused_at,
            now=now or timezone.now(),
        )

    def risk(self, now: datetime | None = None) -> str:
        return risk_of(
            status=self.status,
            received_at=self.received_at,
            deadline_at=self.deadline_at,
            paused_at=self.paused_at,
            now=now or timezone.now(),
        )

    @property
    def news2_band_label(self) -> str:
        return news2_band_label(self.news2_band)


def case_facts(consultation: Consultation) -> CaseFacts:
    assignments = consultation.assignments.filter(ended_at__isnull=True).select_related(
        "consultant", "facility"
    )
    return CaseFacts(
        status=consultation.status,
        status_label=consultation.get_status_display(),
        received_at=consultation.received_at,
        deadline_at=consultation.deadline_at,
        paused_at=consultation.paused_at,
        team=[
            TeamMember(str(a.consultant), a.facility.name, a.accepted_at is not None)
            for a in assignments
        ],
        routed_facility=consultation.routed_facility.name if consultation.routed_facility else "",
        news2_total=consultation.news2_total,
        news2_band=consultation.news2_band,
    )


@dataclass(frozen=True)
class CasePatient:
    """How the patient appears on a case page: in full, or pseudonymised for a reader abroad."""

    pseudonymised: bool
    label: str
    age: int
    sex: str
    uuid: str | None


def case_patient(consultation: Consultation, view: ConsultView, today: date) -> CasePatient:
    patient = consultation.patient
    if view.pseudonymised:
        return CasePatient(
            True,
            _("Case %(code)s") % {"code": consultation.uuid.hex[:8].upper()},
            patient.age_on(today),
            patient.get_sex_display(),
            None,
        )
    return CasePatient(
        False,
        patient.full_name,
        patient.age_on(today),
        patient.get_sex_display(),
        str(patient.uuid),
    )


PHOTO_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})
DICOM = "application/dicom"
# The file name extension a content type travels with (the first one ALLOWED names).
EXTENSIONS = {content_type: ext for ext, (content_type, _m, _o) in reversed(ALLOWED.items())}


@dataclass(frozen=True)
class CaseFile:
    """A file of the case as this reader sees it. Abroad: a neutral name ("Photo 1") instead of
    the name it came with (which often names the patient), and a file other than DICOM withheld
    until the requester has checked that it shows no name or number."""

    attachment: Attachment
    name: str
    filename: str  # for Content-Disposition
    withheld: bool
    needs_check: bool  # the requester is asked to check it before it may go abroad


def may_go_abroad(consultation: Consultation) -> bool:
    """Can this case reach a partner abroad: the patient agreed to that transfer, or it is
    routed there already."""
    routed = consultation.routed_facility
    if routed is not None and routed.country != settings.FARCARE_HOME_COUNTRY:
        return True
    return consultation.patient.consents.filter(
        kind=ConsentKind.TRANSFER_ABROAD, revoked_at__isnull=True
    ).exists()


def _neutral(item: Attachment, number: int, code: str) -> tuple[str, str]:
    if item.conclusion_id is not None:
        version = item.conclusion.version  # type: ignore[union-attr]
        return (
            _("Conclusion, version %(v)s") % {"v": version},
            f"case-{code}-conclusion-v{version}.pdf",
        )
    if item.content_type in PHOTO_TYPES:
        name, slug = _("Photo %(n)s") % {"n": number}, "photo"
    elif item.content_type == DICOM:
        name, slug = _("Image %(n)s") % {"n": number}, "image"
    else:
        name, slug = _("Document %(n)s") % {"n": number}, "document"
    return name, f"case-{code}-{slug}-{number}{EXTENSIONS.get(item.content_type, '')}"


def case_files(
    consultation: Consultation, view: ConsultView, items: list[Attachment] | None = None
) -> list[CaseFile]:
    """Every file of the case in order, numbered as they came (conclusions apart)."""
    if items is None:
        items = list(
            consultation.attachments.select_related("uploaded_by", "conclusion").order_by(
                "uploaded_at", "pk"
            )
        )
    code = consultation.uuid.hex[:8]
    asking = Side.REQUESTER in view.sides and may_go_abroad(consultation)
    files = []
    number = 0
    for item in items:
        if item.conclusion_id is None:
            number += 1
        checkable = item.conclusion_id is None and item.content_type != DICOM
        unchecked = checkable and item.identity_checked_at is None
        if view.pseudonymised:
            name, filename = _neutral(item, number, code)
        else:
            name, filename = item.original_name, item.original_name
        files.append(
            CaseFile(
                attachment=item,
                name=name,
                filename=filename,
                withheld=view.pseudonymised and unchecked,
                needs_check=asking and unchecked,
            )
        )
    return files


@dataclass(frozen=True)
class ThreadEntry:
    """One message of a case's conversation, from this database or from the hub's copy."""

    uuid: str
    author: str
    at: datetime | None
    body: str
    asks_requester: bool = False
    files: tuple[CaseFile, ...] = ()


def case_thread(consultation: Consultation, files: list[CaseFile]) -> list[ThreadEntry]:
    """The conversation in order, each message with the files that came with it as this reader
    may see them (`files` from case_files)."""
    by_pk = {f.attachment.pk: f for f in files}
    return [
        ThreadEntry(
            uuid=str(m.uuid),
            author=str(m.author),
            at=m.created_at,
            body=m.body,
            asks_requester=m.asks_requester,
            files=tuple(by_pk[a.pk] for a in m.attachments.all() if a.pk in by_pk),
        )
        for m in consultation.messages.select_related("author").prefetch_related("attachments")
    ]


def case_file(item: Attachment, view: ConsultView) -> CaseFile:
    consultation = item.consultation
    return next(f for f in case_files(consultation, view) if f.attachment.pk == item.pk)


def worklist_for(user: User) -> tuple[str, QuerySet[Consultation]]:
    if user.role == Role.CONSULTANT:
        return "queue", consultant_queue(user)
    if user.role == Role.COORDINATOR:
        return "board", coordinator_board(user)
    if user.role != Role.CLINICIAN:
        # The list names patients: only a requesting clinician stands on the requester's side
        # of their facility's cases (access.policy.consult_sides), not a trainer working there.
        return "requests", Consultation.objects.none()
    return "requests", requester_list(user)
