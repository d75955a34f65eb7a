from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from farcare.audit.services import Accessor
from farcare.patients.models import Patient

from .models import BreakGlassGrant
from .policy import abroad_refusal, is_abroad, may_break_glass, may_read_audit_trail
from .services import break_glass_open, break_glass_review


class BreakGlassForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Why do you need this record now?"),
        widget=forms.Textarea(attrs={"rows": 3}),
        min_length=10,
        max_length=1000,
    )


class ReviewForm(forms.Form):
    note = forms.CharField(label=gettext_lazy("Review note"), max_length=1000, required=False)


@login_required
def break_glass(request: HttpRequest, patient_uuid: str) -> HttpResponse:
    if is_abroad(request.user):  # type: ignore[arg-type]
        # Said plainly, with the reason: not a role the user could change, but the law.
        return render(
            request,
            "access/break_glass.html",
            {"refusal": abroad_refusal(), "patient_uuid": patient_uuid},
            status=403,
        )
    if not may_break_glass(request.user):  # type: ignore[arg-type]
        raise PermissionDenied(_("Your role cannot use emergency access."))
    patient = get_object_or_404(Patient, uuid=patient_uuid)
    form = BreakGlassForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            break_glass_open(
                accessor=Accessor.from_request(request),
                patient=patient,
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as error:
            for message in error.messages:
                form.add_error("reason", message)
        else:
            messages.warning(
                request,
                _("Emergency access is open and will be reviewed. Everything you do is recorded."),
            )
            return redirect("patients:detail", patient_uuid=patient.uuid)
    # The patient is not named here: the user has no access to the record yet.
    return render(request, "access/break_glass.html", {"form": form, "patient_uuid": patient.uuid})


@login_required
def reviews(request: HttpRequest) -> HttpResponse:
    if not may_read_audit_trail(request.user):  # type: ignore[arg-type]
        raise PermissionDenied(_("Only administrators review emergency access."))
    grants = BreakGlassGrant.objects.select_related("user", "user__facility", "reviewed_by")
    return render(
        request,
        "access/reviews.html",
        {
            "pending": grants.filter(reviewed_at__isnull=True),
            "done": grants.filter(reviewed_at__isnull=False)[:50],
            "form": ReviewForm(),
        },
    )


@login_required
@require_POST
def review(request: HttpRequest, grant_uuid: str) -> HttpResponse:
    if not may_read_audit_trail(request.user):  # type: ignore[arg-type]
        raise PermissionDenied(_("Only administrators review emergency access."))
    grant = get_object_or_404(BreakGlassGrant, uuid=grant_uuid)
    form = ReviewForm(request.POST)
    form.is_valid()
    try:
        break_glass_review(
            accessor=Accessor.from_request(request),
            grant=grant,
            note=form.cleaned_data.get("note", ""),
        )
    except (ValidationError, PermissionDenied) as error:
        messages.error(request, " ".join(getattr(error, "messages", [str(error)])))
    else:
        messages.success(request, _("The review is recorded."))
    return redirect("access:reviews")
