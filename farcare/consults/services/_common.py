"""What the writes of a consultation share: the audit record of a write, the row lock, the
check that the user acts on the side they claim, and the checks of free text (its length, and
that it does not name the patient)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from farcare.access.policy import consult_sides
from farcare.audit.models import AuditAction
from farcare.audit.services import Accessor, audit_record
from farcare.patients.models import Patient

from ..identity_check import PatientFacts, find_identity
from ..models import Consultation
from ..workflow import Side


def _audit(
    accessor: Accessor,
    consultation: Consultation,
    action: str,
    details: dict[str, Any] | None = None,
    purpose: str = "normal",
) -> None:
    audit_record(
        accessor=accessor,
        action=action,
        patient_uuid=consultation.patient.uuid,
        record=consultation,
        purpose=purpose,
        details=details,
    )


def _lock(consultation: Consultation) -> Consultation:
    return (
        Consultation.objects.select_for_update(of=("self",))
        .select_related("patient", "requesting_facility", "specialty", "routed_facility")
        .get(pk=consultation.pk)
    )


def _require_side(accessor: Accessor, consultation: Consultation, side: Side) -> None:
    if side not in consult_sides(accessor.user, consultation):
        audit_record(
            accessor=accessor,
            action=AuditAction.DENIED,
            patient_uuid=consultation.patient.uuid,
            record=consultation,
            outcome="denied",
            details={"wanted": str(side)},
        )
        raise PermissionDenied(_("This request is not yours to act on."))


# How a finding of farcare.consults.identity_check is named to the user.
IDENTITY_KINDS = {
    "family name": gettext_lazy("family name"),
    "given name": gettext_lazy("given name"),
    "patronymic": gettext_lazy("patronymic"),
    "SNILS": gettext_lazy("SNILS"),
    "OMS policy": gettext_lazy("OMS policy number"),
    "phone": gettext_lazy("phone"),
    "birth date": gettext_lazy("birth date"),
}


def identity_problem(text: str, patient: Patient) -> str:
    """Why `text` may not be sent as it is (it names the patient), or ''. Free text of a case
    may be read abroad, where the patient must stay unnamed (domain.md §3): every request can
    be routed on to a partner abroad while it is open (a decline, a breach, a reassignment), so
    it is checked whatever the routing is now."""
    findings = find_identity(text, PatientFacts.of(patient))
    if not findings:
        return ""
    found = ", ".join(str(IDENTITY_KINDS.get(f.kind, f.kind)) for f in findings)
    return _(
        "This text names the patient (%(found)s). A consultant abroad may read it: describe "
        "the patient without names or numbers; the case already says who it is to those "
        "who may know."
    ) % {"found": found}


def length_problem(text: str, limit: int, what: str) -> str:
    if len(text) <= limit:
        return ""
    return _(
        "%(what)s is %(length)s characters long; the limit is %(limit)s. Shorten it, or "
        "attach the rest as a document."
    ) % {"what": what, "length": len(text), "limit": limit}
