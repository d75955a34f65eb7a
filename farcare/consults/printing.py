"""The printed documents of a case: the referral (направление) and the signed conclusion, as
a printable page and as PDF, in the reader's language and zone. Opened like the case page:
through the access policy, every read audited, a refusal a 403 (audited too)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from farcare.access.policy import Action, ConsultView, decide_consult
from farcare.access.services import authorise
from farcare.audit.models import AuditAction
from farcare.audit.services import Accessor, audit_record

from .documents import Printout, conclusion_printout, request_printout
from .models import Conclusion, Consultation
from .pdf import printout_pdf


def _open(
    request: HttpRequest, consultation_uuid: str, document: str
) -> tuple[Consultation, ConsultView]:
    consultation = get_object_or_404(
        Consultation.objects.select_related(
            "patient",
            "specialty",
            "requester",
            "requesting_facility__organisation",
            "routed_facility__organisation",
        ),
        uuid=consultation_uuid,
    )
    view = decide_consult(request.user, consultation)  # type: ignore[arg-type]
    accessor = Accessor.from_request(request)
    details: dict[str, Any] = {"document": document}
    if not view.allowed:
        # Not a side of this case; staff who reach the patient's record may still print it.
        # Otherwise a 403, audited like any refused record.
        authorise(
            accessor=accessor,
            patient=consultation.patient,
            action=Action.VIEW,
            record=consultation,
            details=details,
        )
        return consultation, view
    if view.pseudonymised:
        details["pseudonymised"] = True
    audit_record(
        accessor=accessor,
        action=AuditAction.VIEW,
        patient_uuid=consultation.patient.uuid,
        record=consultation,
        details=details,
    )
    return consultation, view


def _respond(
    request: HttpRequest, printout: Printout, consultation: Consultation, record: Any, name: str
) -> HttpResponse:
    if request.GET.get("format") == "pdf":
        audit_record(
            accessor=Accessor.from_request(request),
            action=AuditAction.EXPORT,
            patient_uuid=consultation.patient.uuid,
            record=record,
            details={"format": "pdf"},
        )
        response = HttpResponse(printout_pdf(printout), content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="{name}.pdf"'
        return response
    return render(request, "consults/printout.html", {"doc": printout, "c": consultation})


@login_required
def request_print(request: HttpRequest, consultation_uuid: str) -> HttpResponse:
    """The referral for a teleconsultation (HTML, or PDF with ?format=pdf)."""
    consultation, view = _open(request, consultation_uuid, "request")
    printout = request_printout(consultation, view)
    name = f"request-{consultation.uuid.hex[:8]}"
    return _respond(request, printout, consultation, consultation, name)


@login_required
def conclusion_print(request: HttpRequest, consultation_uuid: str, version: int) -> HttpResponse:
    """The signed conclusion (HTML, or PDF with ?format=pdf)."""
    consultation, view = _open(request, consultation_uuid, "conclusion")
    conclusion: Conclusion = get_object_or_404(
        consultation.conclusions.select_related("author", "signature", "evacuation_destination"),
        version=version,
    )
    printout = conclusion_printout(conclusion, view)
    name = f"conclusion-{consultation.uuid.hex[:8]}-v{version}"
    return _respond(request, printout, consultation, conclusion, name)
