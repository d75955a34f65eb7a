"""Answering a request: the consultant's conclusion, checked, signed and filed as a PDF in the
case (signing again amends it), and the requester's acknowledgement that closes the loop."""

from __future__ import annotations

import hashlib
import zoneinfo
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from farcare.accounts.models import User
from farcare.audit.models import AuditAction
from farcare.audit.services import Accessor
from farcare.clinical import icd10
from farcare.network.models import Facility
from farcare.signatures.services import sign_document

from .. import alerts
from ..conclusions import conclusion_document, draft_digest
from ..models import (
    Acknowledgement,
    Attachment,
    Conclusion,
    Consultation,
    ConsultForm,
    EvacuationAdvice,
    Status,
)
from ..numbering import CONCLUSION_SERIES, next_number
from ..pdf import render_conclusion
from ..workflow import IllegalTransition, Side, apply, record_event
from ._common import _audit, _lock, _require_side


@dataclass
class ConclusionData:
    findings: str
    diagnoses: list[str]
    recommendations: str
    evacuation: str = EvacuationAdvice.NONE
    evacuation_destination: Facility | None = None
    follow_up: str = ""


def _check_conclusion(data: ConclusionData, consultation: Consultation) -> list[dict[str, str]]:
    errors: dict[str, str] = {}
    codes = [icd10.normalise_code(code) for code in data.diagnoses if code.strip()]
    unknown = [code for code in codes if not icd10.is_valid(code)]
    if not codes:
        errors["diagnoses"] = _("Give at least one diagnosis as an ICD-10 code.")
    elif unknown:
        errors["diagnoses"] = _("Not an ICD-10 code: %(codes)s") % {"codes": ", ".join(unknown)}
    if not data.findings.strip():
        errors["findings"] = _("Write your findings.")
    if not data.recommendations.strip():
        errors["recommendations"] = _("Write your recommendations.")
    if data.evacuation != EvacuationAdvice.NONE and data.evacuation_destination is None:
        errors["evacuation_destination"] = _("Name the facility the patient should go to.")
    if data.evacuation not in EvacuationAdvice.values:
        errors["evacuation"] = (
            _("Choose the transfer advice: an emergency has no default.")
            if consultation.form == ConsultForm.EMERGENCY
            else _("Choose the transfer advice.")
        )
    if errors:
        raise ValidationError(errors)
    return [{"code": code, "label": icd10.label(code, "en")} for code in codes]


def _draft(consultation: Consultation, user: User, data: ConclusionData) -> Conclusion:
    """The conclusion as it would be signed now, unsaved, without the moment and the number
    that signing adds."""
    diagnoses = _check_conclusion(data, consultation)
    if not consultation.assignments.filter(consultant=user, ended_at__isnull=True).exists():
        raise PermissionDenied(_("Accept the request before you answer it."))
    previous = consultation.conclusions.order_by("-version").first()
    return Conclusion(
        consultation=consultation,
        version=(previous.version + 1) if previous else 1,
        author=user,
        findings=data.findings.strip(),
        diagnoses=diagnoses,
        recommendations=data.recommendations.strip(),
        evacuation=data.evacuation,
        evacuation_destination=data.evacuation_destination,
        follow_up=data.follow_up.strip(),
    )


def conclusion_draft(
    *, accessor: Accessor, consultation: Consultation, data: ConclusionData
) -> Conclusion:
    """What signing `data` now would sign, checked and unsaved: the signer reviews it (and its
    `draft_digest`) before `conclusion_sign`."""
    _require_side(accessor, consultation, Side.CONSULTANT)
    assert accessor.user is not None
    return _draft(consultation, accessor.user, data)


def conclusion_sign(
    *,
    accessor: Accessor,
    consultation: Consultation,
    data: ConclusionData,
    expected_version: int | None = None,
    expected_digest: str | None = None,
) -> Conclusion:
    """Sign the conclusion; the request is completed. Signing again amends it: a new signed
    version, the earlier one kept. With `expected_digest` (the `draft_digest` of the document
    the signer reviewed), a draft that is not that document any more is refused."""
    _require_side(accessor, consultation, Side.CONSULTANT)
    _check_conclusion(data, consultation)
    user = accessor.user
    assert user is not None
    with transaction.atomic():
        locked = _lock(consultation)
        conclusion = _draft(locked, user, data)
        if expected_digest is not None and draft_digest(conclusion) != expected_digest:
            raise ValidationError(
                _("The conclusion changed since you reviewed it. Review it again."),
                code="changed",
            )
        amending = locked.status == Status.COMPLETED
        signed_at = timezone.now().replace(microsecond=0)
        conclusion.signed_at = signed_at
        # Taken inside this transaction: a signing that fails gives its number back.
        conclusion.number = next_number(series=CONCLUSION_SERIES, moment=signed_at)
        conclusion.signature = sign_document(
            signer_user=user,
            document_type="conclusion",
            document_id=f"{locked.uuid}/v{conclusion.version}",
            document=conclusion_document(conclusion),
        )
        conclusion.save()
        _file_conclusion(conclusion, user)
        apply(
            locked,
            Status.COMPLETED,
            side=Side.CONSULTANT,
            actor=user,
            expected_version=expected_version,
            event="amend" if amending else "complete",
        )
        if amending and hasattr(locked, "acknowledgement"):
            # The requester must read the amended conclusion again.
            locked.acknowledgement.delete()
        _audit(accessor, locked, AuditAction.CREATE, {"conclusion": conclusion.version})
        alerts.concluded(locked, conclusion)
    return conclusion


def _file_conclusion(conclusion: Conclusion, user: User) -> Attachment:
    """The signed conclusion as a PDF document in the case (and so in the patient's record),
    in the deployment's language, its times in the requesting facility's zone: it is filed
    there, and every reader gets it again in their own language from the printable page."""
    consultation = conclusion.consultation
    with timezone.override(zoneinfo.ZoneInfo(consultation.requesting_facility.time_zone)):
        content = render_conclusion(conclusion, language=settings.LANGUAGE_CODE)
    document = Attachment(
        consultation=consultation,
        conclusion=conclusion,
        original_name=f"conclusion-{consultation.uuid.hex[:8]}-v{conclusion.version}.pdf",
        content_type="application/pdf",
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        uploaded_by=user,
    )
    document.file.save("conclusion.pdf", ContentFile(content), save=False)
    document.save()
    return document


def consult_acknowledge(
    *, accessor: Accessor, consultation: Consultation, action: str, helped: str, note: str = ""
) -> Acknowledgement:
    """The requester read the conclusion and says what was done and whether it helped."""
    _require_side(accessor, consultation, Side.REQUESTER)
    with transaction.atomic():
        locked = _lock(consultation)
        latest = locked.conclusions.order_by("-version").first()
        if locked.status != Status.COMPLETED or latest is None:
            raise IllegalTransition(_("There is no conclusion to acknowledge yet."))
        acknowledgement, _created = Acknowledgement.objects.update_or_create(
            consultation=locked,
            defaults={
                "conclusion": latest,
                "by": accessor.user,
                "at": timezone.now(),
                "action": action,
                "helped": helped,
                "note": note.strip(),
            },
        )
        acknowledgement.full_clean()
        record_event(locked, event="acknowledged", actor=accessor.user, note=action)
        _audit(accessor, locked, AuditAction.UPDATE, {"event": "acknowledge", "action": action})
    return acknowledgement
