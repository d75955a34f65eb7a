from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from farcare.audit import views as audit_views
from farcare.fhir import bundles as fhir_bundles
from farcare.fhir import handover_page as fhir_handover_page
from farcare.sync.api import api as sync_api

urlpatterns = [
    path("", include("farcare.core.urls")),
    path("accounts/", include("farcare.accounts.urls")),
    # "Who looked at my record" sits under the patient's address but belongs to the audit app;
    # the project's URLconf joins them so that patients need not import audit's views.
    path(
        "patients/<uuid:patient_uuid>/access-log/",
        audit_views.patient_access_log,
        name="patient_access_log",
    ),
    path("patients/", include("farcare.patients.urls")),
    path("network/", include("farcare.network.urls")),
    path("audit/", include("farcare.audit.urls")),
    path("access/", include("farcare.access.urls")),
    path("notifications/", include("farcare.notifications.urls")),
    path("consultations/", include("farcare.consults.urls")),
    path("diagnostics/", include("farcare.diagnostics.urls")),
    path("my/results/", include("farcare.diagnostics.patient_urls")),
    path("imaging/", include("farcare.imaging.urls")),
    path("appointments/", include("farcare.scheduling.urls")),
    path("calls/", include("farcare.calls.urls")),
    path("training/", include("farcare.training.urls")),
    path("casebook/", include("farcare.casebook.urls")),
    path("learning/", include("farcare.learning.urls")),
    # The transfer summary as a FHIR document for a signed-in reader: served by the FHIR layer,
    # which the evacuation app may not import (issue 16).
    path(
        "transfers/<uuid:transfer_uuid>/handover.json",
        fhir_handover_page.handover_document_view,
        name="transfer_handover_document",
    ),
    path("transfers/", include("farcare.evacuation.urls")),
    path("monitoring/", include("farcare.monitoring.urls")),
    path("analytics/", include("farcare.analytics.urls")),
    path("my/readings/", include("farcare.monitoring.patient_urls")),
    # The SMS gateway's inbound webhook (issue 17): a JSON endpoint for the gateway, not a page.
    path("api/sms/", include("farcare.monitoring.sms_urls")),
    path("uploads/", include("farcare.uploads.urls")),
    path("api/sync/", sync_api.urls),
    path("station/", include("farcare.sync.urls")),
    # FHIR clients post transaction bundles to the base URL as written, without a slash.
    path("fhir", fhir_bundles.base),
    path("fhir/", include("farcare.fhir.urls")),
    path(settings.FARCARE_ADMIN_URL, admin.site.urls),
]

handler403 = "farcare.core.errors.permission_denied"
handler404 = "farcare.core.errors.not_found"
handler500 = "farcare.core.errors.server_error"
