"""The handover's addresses (owned with handover_views.py), joined to the app's urls.py."""

from __future__ import annotations

from django.urls import URLPattern, path

from . import handover_views

urlpatterns: list[URLPattern] = [
    path(
        "<uuid:transfer_uuid>/handover.pdf",
        handover_views.handover_pdf_view,
        name="handover_pdf",
    ),
    path(
        "<uuid:transfer_uuid>/handover/files/<uuid:attachment_uuid>",
        handover_views.handover_file,
        name="handover_file",
    ),
]
