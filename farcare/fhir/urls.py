from django.urls import path, re_path

from . import bundles, capability, oauth, operations, views
from .resources import evacuation

app_name = "fhir"

TYPE = r"(?P<resource_type>[A-Z][A-Za-z]+)"
ID = r"(?P<logical_id>[A-Za-z0-9\-\.]{1,64})"

urlpatterns = [
    *oauth.urlpatterns,
    path("metadata", capability.metadata, name="metadata"),
    # Transactions and batches, operations: before the generic type and instance patterns.
    path("", bundles.base, name="base"),
    re_path(r"^\$export$", operations.export_system, name="export"),
    re_path(r"^Patient/\$export$", operations.export_patients, name="patient-export"),
    re_path(
        r"^\$export-poll-status/(?P<job_id>[0-9a-fA-F\-]{32,36})$",
        operations.export_status,
        name="export-status",
    ),
    re_path(
        rf"^\$export-file/(?P<job_id>[0-9a-fA-F\-]{{32,36}})/{TYPE}\.ndjson$",
        operations.export_file,
        name="export-file",
    ),
    re_path(rf"^Patient/{ID}/\$everything$", operations.everything, name="everything"),
    re_path(rf"^Composition/{ID}/\$document$", evacuation.document, name="transfer-document"),
    re_path(rf"^{TYPE}/_search$", views.type_search, name="search"),
    re_path(rf"^{TYPE}/{ID}/_history/(?P<version_id>[^/]+)$", views.vread, name="vread"),
    re_path(rf"^{TYPE}/{ID}/_history$", views.history, name="history"),
    re_path(rf"^{TYPE}/{ID}$", views.instance, name="instance"),
    re_path(rf"^{TYPE}$", views.type_level, name="type"),
]
