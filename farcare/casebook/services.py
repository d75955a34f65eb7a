"""Writes of the casebook: make a case from a closed consultation (one step, de-identified),
edit it (re-scrubbed), move it through its workflow, ask the clinicians, take their answers,
withdraw it when the patient refuses. Keyword-only, each in one transaction; the access
policy is asked before it opens."""

from __future__ import annotations

import logging
import secrets
import uuid as uuid_lib
from collections import Counter
from datetime import timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from farcare.access import policy
from farcare.accounts.models import Role, User
from farcare.audit.models import AuditAction
from farcare.audit.services import Accessor, audit_record, audit_refusal
from farcare.consults.models import Consultation
from farcare.imaging.previews import make_preview
from farcare.notifications.services import notify
from farcare.patients.models import Patient, Sex
from farcare.training.models import Session
from farcare.training.selectors import is_trainer_of

from .deidentify import TEXT_FIELDS, deidentify_case, make_scrubber
from .files import clean_file
from .models import Answer, AskPart, CaseFile, CaseStatus, ClinicianAsk, TeachingCase
from .sources import gather
from .workflow import EDITABLE, Part, apply

logger = logging.getLogger(__name__)

# The secret shift: at least a month and at most two years, back or forward.
SHIFT_MIN_DAYS, SHIFT_MAX_DAYS = 30, 730
EDITABLE_FIELDS = (*TEXT_FIELDS, "title", "teaching_notes")
MIN_REASON = 5


def random_shift_days() -> int:
    days = SHIFT_MIN_DAYS + secrets.randbelow(SHIFT_MAX_DAYS - SHIFT_MIN_DAYS + 1)
    return days if secrets.randbelow(2) else -days


def require_extract(*, accessor: Accessor, consultation: Consultation) -> None:
    """Ask the policy; a refusal is audited (linked to the patient) and raised."""
    decision = policy.decide_teaching_extract(accessor.user, consultation)
    if not decision:
        audit_refusal(
            accessor=accessor,
            message=decision.reason,
            patient_uuid=consultation.patient.uuid,
            record=consultation,
            details={"wanted": "teaching_extract"},
        )


def _title(case_language: str, specialty: str, sex: str, age: str) -> str:
    with translation.override(case_language):
        return _("%(specialty)s: %(sex)s, %(age)s") % {
            "specialty": specialty,
            "sex": Sex(sex).label if sex in Sex.values else sex,
            "age": age,
        }


def case_make(
    *, accessor: Accessor, consultation: Consultation, shift_days: int | None = None
) -> TeachingCase:
    """Turn a closed consultation into a de-identified teaching case in one step. A trainer's
    case goes straight to review (they are its reviewer); a clinician's starts as a draft."""
    require_extract(accessor=accessor, consultation=consultation)
    user = accessor.user
    assert user is not None
    shift = shift_days if shift_days is not None else random_shift_days()
    if shift == 0:
        raise ValidationError(_("The dates of a case must be moved."))
    gathered = gather(consultation)
    result = deidentify_case(gathered.source, timedelta(days=shift))
    scrubber = make_scrubber(gathered.source, timedelta(days=shift))
    salt = secrets.token_bytes(32)
    case_uuid = uuid_lib.uuid4()
    pseudonym = f"CASE-{case_uuid.hex[:8].upper()}"
    cleaned = []
    for number, source_file in enumerate(gathered.files, start=1):
        clean = clean_file(
            source_file,
            number=number,
            scrubber=scrubber,
            salt=salt,
            pseudonym=pseudonym,
            replaced=result.replaced,
        )
        if clean is not None:
            cleaned.append(clean)
    trainer = user.role == Role.TRAINER
    specialty = consultation.specialty
    with transaction.atomic():
        case = TeachingCase(
            uuid=case_uuid,
            source=consultation,
            language=gathered.source.language,
            title=_title(
                gathered.source.language,
                specialty.name_ru if gathered.source.language == "ru" else specialty.name_en,
                gathered.source.sex,
                result.content["patient"]["age"],
            ),
            specialty=specialty,
            content=result.content,
            replaced=dict(result.replaced),
            date_shift_days=shift,
            status=CaseStatus.IN_REVIEW if trainer else CaseStatus.DRAFT,
            author=user,
            reviewer=user if trainer else None,
            **result.texts,
        )
        case.save()
        for position, clean in enumerate(cleaned, start=1):
            case_file = CaseFile(
                case=case,
                position=position,
                kind=clean.kind,
                name=clean.name,
                content_type=clean.content_type,
                size=len(clean.content),
            )
            case_file.file.save("file", ContentFile(clean.content), save=False)
            _add_preview(case_file, clean.content, clean.content_type)
            case_file.save()
        audit_record(
            accessor=accessor,
            action=AuditAction.CREATE,
            patient_uuid=consultation.patient.uuid,
            record=case,
            details={"teaching": "extract", "files": len(cleaned)},
        )
    return case


def _add_preview(case_file: CaseFile, content: bytes, content_type: str) -> None:
    try:
        preview = make_preview(content, content_type)
    except (ValueError, OSError):  # a file that cannot be drawn is listed without a picture
        return
    if preview is None:
        return
    case_file.preview.save("preview", ContentFile(preview.content), save=False)
    case_file.preview_content_type = preview.content_type


def parts_of(user: User | None, case: TeachingCase) -> set[Part]:
    parts: set[Part] = set()
    if user is None:
        return parts
    if case.author_id == user.pk:
        parts.add(Part.AUTHOR)
    if policy.may_review_teaching_cases(user):
        parts.add(Part.TRAINER)
    return parts


def _lock(case: TeachingCase) -> TeachingCase:
    return (
        TeachingCase.objects.select_for_update().select_related("source__patient").get(pk=case.pk)
    )


def case_edit(
    *,
    accessor: Accessor,
    case: TeachingCase,
    fields: dict[str, str],
    expected_version: int | None = None,
) -> TeachingCase:
    """Change the de-identified text; every field is scrubbed again on save, so nothing typed
    (or pasted back) brings a name or number in."""
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValidationError(
            _("Unknown fields: %(fields)s") % {"fields": ", ".join(sorted(unknown))}
        )
    if not parts_of(accessor.user, case):
        raise PermissionDenied(_("Only the author or a trainer may edit the case."))
    if not fields.get("title", case.title).strip():
        raise ValidationError({"title": _("Give the case a title.")})
    gathered = gather(case.source, with_files=False)
    scrubber = make_scrubber(gathered.source, timedelta(days=case.date_shift_days))
    with transaction.atomic():
        locked = _lock(case)
        if locked.status not in EDITABLE:
            raise ValidationError(_("A case can be edited only as a draft or in review."))
        if expected_version is not None and locked.version != expected_version:
            raise ValidationError(_("Someone changed the case meanwhile. Reload the page."))
        replaced = Counter(locked.replaced)
        changed = []
        for name, value in fields.items():
            cleaned, counts = scrubber.scrub(value.strip())
            replaced.update(counts)
            if getattr(locked, name) != cleaned:
                setattr(locked, name, cleaned[:200] if name == "title" else cleaned)
                changed.append(name)
        locked.replaced = dict(replaced)
        locked.version += 1
        locked.save()
        audit_record(
            accessor=accessor, action=AuditAction.UPDATE, record=locked, details={"fields": changed}
        )
    return locked


def _askees(consultation: Consultation) -> list[tuple[User, str]]:
    people: dict[int, tuple[User, str]] = {
        consultation.requester_id: (consultation.requester, AskPart.REQUESTER)
    }
    for assignment in consultation.assignments.select_related("consultant"):
        people.setdefault(assignment.consultant_id, (assignment.consultant, AskPart.CONSULTANT))
    for conclusion in consultation.conclusions.select_related("author"):
        people.setdefault(conclusion.author_id, (conclusion.author, AskPart.CONSULTANT))
    return list(people.values())


def case_move(*, accessor: Accessor, case: TeachingCase, event: str) -> TeachingCase:
    """One step of the workflow (send for review, ask, publish, withdraw…)."""
    parts = parts_of(accessor.user, case)
    if not parts:
        raise PermissionDenied(_("Only the author or a trainer may change the case."))
    with transaction.atomic():
        locked = _lock(case)
        if event in ("ask", "publish") and policy.teaching_refused(locked.source.patient):
            raise ValidationError(_("The patient refused the use of their case in teaching."))
        if event == "publish":
            _check_everyone_agreed(locked)
        move = apply(locked, event=event, parts=parts)
        if event in ("ask", "return") or (event == "submit" and Part.TRAINER in parts):
            locked.reviewer = accessor.user
        if event == "withdraw":
            locked.withdrawn_because = "trainer" if Part.TRAINER in parts else "author"
            _drop_files(locked)
        locked.save()
        if event == "ask":
            _ask_clinicians(locked)
        audit_record(
            accessor=accessor,
            action=AuditAction.UPDATE,
            record=locked,
            details={"event": move.event, "status": locked.status},
        )
    return locked


def _check_everyone_agreed(case: TeachingCase) -> None:
    answers = list(case.asks.values_list("answer", flat=True))
    if Answer.OBJECTED in answers:
        raise ValidationError(_("A clinician objected: the case cannot be published."))
    if not answers or Answer.PENDING in answers:
        raise ValidationError(_("Not every clinician has agreed yet."))


def _ask_clinicians(case: TeachingCase) -> None:
    now = timezone.now()
    for clinician, part in _askees(case.source):
        ask, created = ClinicianAsk.objects.get_or_create(
            case=case, clinician=clinician, defaults={"part": part, "asked_at": now}
        )
        if not created:
            ask.answer, ask.reason, ask.answered_at, ask.asked_at = Answer.PENDING, "", None, now
            ask.save(update_fields=["answer", "reason", "answered_at", "asked_at"])
        # No patient name, no date: the title and the clinician's part only.
        notify(
            recipient=clinician,
            event="casebook.asked",
            subject=gettext_lazy("May a case of yours be used in teaching?"),
            body=gettext_lazy(
                "A trainer would like to teach from a consultation you took part in, "
                "de-identified: %(title)s. Please read it and agree or object."
            ),
            params={"title": case.title},
            link=reverse("casebook:asked", args=[ask.uuid]),
        )


def clinician_answer(
    *, accessor: Accessor, ask: ClinicianAsk, agree: bool, reason: str = ""
) -> ClinicianAsk:
    """The asked clinician agrees, or objects with a reason (which keeps it unpublished)."""
    user = accessor.user
    if user is None or ask.clinician_id != user.pk:
        raise PermissionDenied(_("This question was put to someone else."))
    reason = reason.strip()
    if not agree and len(reason) < MIN_REASON:
        raise ValidationError({"reason": _("Say why you object.")})
    with transaction.atomic():
        case = _lock(ask.case)
        if case.status != CaseStatus.AWAITING_CLINICIANS:
            raise ValidationError(_("The case is no longer waiting for your answer."))
        ask = ClinicianAsk.objects.select_for_update().get(pk=ask.pk)
        ask.answer = Answer.AGREED if agree else Answer.OBJECTED
        ask.reason = "" if agree else reason
        ask.answered_at = timezone.now()
        ask.save(update_fields=["answer", "reason", "answered_at"])
        audit_record(
            accessor=accessor,
            action=AuditAction.UPDATE,
            record=case,
            details={"answer": ask.answer},
        )
        if case.reviewer is not None and not agree:
            notify(
                recipient=case.reviewer,
                event="casebook.objection",
                subject=gettext_lazy("A clinician objected to a teaching case"),
                body=gettext_lazy("A clinician objected to %(title)s; it stays unpublished."),
                params={"title": case.title},
                link=reverse("casebook:review", args=[case.uuid]),
            )
    return ask


def case_present(
    *, accessor: Accessor, case: TeachingCase, session: Session | None
) -> TeachingCase:
    """Name the training session the case is presented at (or none). A trainer's choice, of a
    session of a programme they teach; the case must be published (or on its way to it) to be
    presented."""
    if Part.TRAINER not in parts_of(accessor.user, case):
        raise PermissionDenied(_("Only a trainer chooses where a case is presented."))
    if session is not None and not is_trainer_of(accessor.user, session.programme):
        raise PermissionDenied(_("Choose a session of a programme you teach."))
    with transaction.atomic():
        locked = _lock(case)
        if locked.status == CaseStatus.WITHDRAWN:
            raise ValidationError(_("A withdrawn case is not presented."))
        locked.presented_at = session
        locked.save(update_fields=["presented_at", "updated_at"])
        audit_record(
            accessor=accessor,
            action=AuditAction.UPDATE,
            record=locked,
            details={"presented_at": str(session.uuid) if session else ""},
        )
    return locked


def _drop_files(case: TeachingCase) -> None:
    """A withdrawn case is never shown again, so its de-identified files must not outlive the
    withdrawal: the rows go with it, the stored files once it is committed (a withdrawal
    undone keeps them). A storage that fails is logged; the withdrawal stands."""
    stored = [
        (field.storage, field.name)
        for item in case.files.all()
        for field in (item.file, item.preview)
        if field.name
    ]
    case.files.all().delete()

    def delete() -> None:
        for storage, name in stored:
            try:
                storage.delete(name)
            except OSError:
                logger.exception("could not delete file %s of withdrawn case %s", name, case.uuid)

    transaction.on_commit(delete)


def case_read(*, accessor: Accessor, case: TeachingCase) -> None:
    """Audit who read which case. Not linked to the patient: the case holds no patient data,
    and a link would put the learners on the patient's "who looked at my record" and tie the
    case to the patient for anyone reading the trail."""
    audit_record(
        accessor=accessor, action=AuditAction.VIEW, record=case, details={"teaching": "read"}
    )


def withdraw_for_refusal(patient: Patient) -> int:
    """A refusal of teaching use withdraws every case of the patient at once (in the refusal's
    own transaction). Returns how many cases were withdrawn."""
    cases = list(
        TeachingCase.objects.select_for_update()
        .filter(source__patient=patient)
        .exclude(status=CaseStatus.WITHDRAWN)
    )
    for case in cases:
        apply(case, event="withdraw", parts={Part.SYSTEM})
        case.withdrawn_because = "patient_refused"
        _drop_files(case)
        case.save()
        audit_record(
            accessor=Accessor(None, channel="system"),
            action=AuditAction.UPDATE,
            patient_uuid=patient.uuid,
            record=case,
            details={"event": "withdraw", "because": "patient_refused"},
        )
    return len(cases)
