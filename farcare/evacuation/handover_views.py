"""The transfer summary's pages: the PDF and the case's files opened from the summary (issue 16,
point 5; the FHIR document page is farcare/fhir/handover_page.py). Thin: `handover.read_handover`
authorises and audits; a refusal (a consultant abroad, anyone without access to the patient) is
audited there and answered 403 in the reader's language."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils.translation import get_language
from django.views.decorators.http import require_GET

from farcare.access.policy import Action
from farcare.access.services import authorise
from farcare.audit.models import AuditAction
from farcare.audit.services import Accessor
from farcare.consults.models import Attachment

from .handover import read_handover
from .handover_links import file_url_for, transfer_for_handover
from .handover_pdf import handover_pdf


@login_required
@require_GET
def handover_pdf_view(request: HttpRequest, transfer_uuid: object) -> HttpResponse:
    transfer = transfer_for_handover(transfer_uuid)
    handover = read_handover(
        accessor=Accessor.from_request(request),
        transfer=transfer,
        language=get_language() or "en",
        file_url=file_url_for(request, transfer),
        channel_detail="pdf",
    )
    response = HttpResponse(handover_pdf(handover), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="transfer-{transfer.uuid}.pdf"'
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_GET
def handover_file(
    request: HttpRequest, transfer_uuid: object, attachment_uuid: object
) -> FileResponse:
    """A file of the case the transfer came from, for whoever may read the patient (the
    receiving hospital is no side of the consultation, yet needs its ECG before the landing)."""
    transfer = transfer_for_handover(transfer_uuid)
    if transfer.consultation_id is None:
        raise Http404
    item = get_object_or_404(
        Attachment, uuid=attachment_uuid, consultation_id=transfer.consultation_id
    )
    authorise(
        accessor=Accessor.from_request(request),
        patient=transfer.patient,
        action=Action.VIEW,
        audit_action=AuditAction.VIEW,
        record=item,
        details={"page": "transfer handover file", "transfer": str(transfer.uuid)},
    )
    if not item.file:
        raise Http404
    return FileResponse(
        item.file.open("rb"),
        content_type=item.content_type,
        as_attachment=True,
        filename=item.original_name,
    )
