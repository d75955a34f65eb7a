"""What the handover's pages share: finding the transfer and the address of each of the case's
files as opened from the summary. The FHIR document page (farcare/fhir/handover_page.py) uses them
too: it lives in the delivery layer, which may import the domain, never the other way round."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.urls import reverse

from farcare.consults.models import Attachment

from .handover import transfer_related
from .models import Transfer


def transfer_for_handover(transfer_uuid: object) -> Transfer:
    return get_object_or_404(
        Transfer.objects.select_related(*transfer_related()), uuid=transfer_uuid
    )


def file_url_for(request: HttpRequest, transfer: Transfer) -> Callable[[Attachment], str]:
    def url(item: Attachment) -> str:
        return request.build_absolute_uri(
            reverse(
                "evacuation:handover_file",
                kwargs={"transfer_uuid": transfer.uuid, "attachment_uuid": item.uuid},
            )
        )

    return url
