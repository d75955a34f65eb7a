"""A person's own results, at `my/results/` (the project's URLconf includes it)."""

from django.urls import URLPattern, URLResolver, path

from . import patient_pages

app_name = "my_results"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", patient_pages.results, name="list"),
    # The target of the "a result is ready" notification.
    path("<uuid:report_uuid>/", patient_pages.report_page, name="report"),
    path("<uuid:report_uuid>/pdf/", patient_pages.report_pdf_page, name="pdf"),
]
