"""Earlier conclusions about the patient of a case, for its page: what other consultants said
before (date, specialty, diagnoses), each linking to its case.

Only cases the reader may open themself are listed: every case of the patient for someone who
reaches the patient's record (the requesting staff, a consultant while assigned, a
break-glass grant), else the cases they stand on a side of. A reader abroad gets none: listing
another case of the same person would link two pseudonyms into one identity (152-FZ, domain.md §3).
The list shown is audited like the case page itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Prefetch

from farcare.access.policy import Action, ConsultView, decide, visible_consultations
from farcare.audit.models import AuditAction, Purpose
from farcare.audit.services import Accessor, audit_record
from farcare.clinical import icd10

from .models import Conclusion, Consultation, Status

# The newest few: a longer history is on the patient's record.
LIMIT = 10


@dataclass(frozen=True)
class EarlierConclusion:
    consultation_uuid: str
    signed_at: datetime
    specialty: str
    version: int
    diagnoses: list[tuple[str, str]]  # ICD-10 code, its description in the reader's language


def earlier_conclusions(
    *, accessor: Accessor, consultation: Consultation, view: ConsultView, language: str
) -> list[EarlierConclusion]:
    """The signed conclusions of the patient's earlier cases this reader may open, newest
    first; the read is audited when anything is shown."""
    user = accessor.user
    if user is None or view.pseudonymised:
        return []
    patient = consultation.patient
    record = decide(user, Action.VIEW, patient)
    candidates = Consultation.objects.filter(
        patient_id=patient.pk,
        created_at__lt=consultation.created_at,
        conclusions__isnull=False,
    ).exclude(status=Status.ENTERED_IN_ERROR)
    if not record:
        # Only the cases the reader stands on a side of: the policy's one-query form, filtered
        # before the limit so that ten readable cases are shown, not ten minus the others.
        candidates = candidates.filter(pk__in=visible_consultations(user).values("pk"))
    shown = list(
        candidates.select_related("specialty", "requesting_facility", "routed_facility")
        .prefetch_related(
            Prefetch(
                "conclusions",
                queryset=Conclusion.objects.order_by("-version"),
                to_attr="versions",
            )
        )
        .distinct()
        .order_by("-created_at")[:LIMIT]
    )
    if not shown:
        return []
    audit_record(
        accessor=accessor,
        action=AuditAction.VIEW,
        patient_uuid=patient.uuid,
        record=consultation,
        purpose=record.purpose if record else Purpose.NORMAL,
        details={"earlier_conclusions": [str(c.uuid) for c in shown]},
    )
    rows = []
    for earlier in shown:
        latest = earlier.versions[0]
        rows.append(
            EarlierConclusion(
                consultation_uuid=str(earlier.uuid),
                signed_at=latest.signed_at,
                specialty=earlier.specialty.name,
                version=latest.version,
                diagnoses=[
                    (entry["code"], icd10.label(entry["code"], language))
                    for entry in latest.diagnoses
                ],
            )
        )
    return rows
