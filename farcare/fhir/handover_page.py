"""The transfer summary as a FHIR document Bundle for a reader signed in to the pages (issue 16,
point 5); an API client asks /fhir/Composition/<id>/$document with its token. Here, in the
delivery layer, because the evacuation app may not import FHIR. `read_handover` authorises and
audits; a refusal is audited there and answered 403."""

from __future__ import annotations

import json

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.utils.translation import get_language
from django.views.decorators.http import require_GET

from farcare.audit.services import Accessor
from farcare.evacuation.handover import read_handover
from farcare.evacuation.handover_links import file_url_for, transfer_for_handover

from .resources.evacuation import document_bundle


@login_required
@require_GET
def handover_document_view(request: HttpRequest, transfer_uuid: object) -> HttpResponse:
    """The same summary as a FHIR document Bundle, for a reader signed in to the pages (an API
    client asks /fhir/Composition/<id>/$document with its token)."""
    transfer = transfer_for_handover(transfer_uuid)
    handover = read_handover(
        accessor=Accessor.from_request(request),
        transfer=transfer,
        language=get_language() or "en",
        file_url=file_url_for(request, transfer),
        channel_detail="fhir document",
    )
    base = request.build_absolute_uri("/fhir").rstrip("/")
    body = json.dumps(document_bundle(handover, base), ensure_ascii=False)
    response = HttpResponse(body, content_type="application/fhir+json; charset=utf-8")
    response["Content-Disposition"] = f'inline; filename="transfer-{transfer.uuid}.json"'
    response["Cache-Control"] = "no-store"
    return response
