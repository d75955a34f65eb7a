"""Error pages in the user's language; a refusal of a patient record offers emergency access."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from farcare.access.policy import may_break_glass
from farcare.access.services import PatientAccessDenied


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    context: dict[str, object] = {"message": str(exception) if exception else ""}
    if isinstance(exception, PatientAccessDenied) and may_break_glass(request.user):  # type: ignore[arg-type]
        context["break_glass_patient"] = exception.patient.uuid
    return render(request, "403.html", context, status=403)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    return render(request, "500.html", status=500)
