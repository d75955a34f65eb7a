"""`GET|POST auth/user-token`: a logged-in user issues, lists and revokes personal tokens (for a
sync tool or a script); a password change revokes them all."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache

from farcare.accounts.models import CLINICAL_ROLES, Role, User
from farcare.audit.models import AuditAction
from farcare.audit.services import Accessor, audit_record

from ..models import AccessToken
from .paths import USER_TOKEN_PATH, base_path
from .token_endpoint import issue_token

# Roles that may hold a personal token: those who work with patient records, and patients and
# administrators. Analysts and trainers never reach a record, and system accounts get their
# tokens from the token endpoint.
USER_TOKEN_ROLES = frozenset({*CLINICAL_ROLES, Role.PATIENT, Role.ADMINISTRATOR})
USER_TOKEN_HOURS = (1, 8, 24)

USER_SCOPES: tuple[tuple[str, Any], ...] = (
    ("user/*.read", gettext_lazy("read every record you may see")),
    ("user/*.write", gettext_lazy("create and change records you may change")),
    ("user/Patient.read", gettext_lazy("read patients")),
    ("user/Patient.write", gettext_lazy("register and update patients")),
    ("user/Observation.read", gettext_lazy("read observations such as vital signs")),
    ("user/Observation.write", gettext_lazy("record observations such as vital signs")),
    ("user/ServiceRequest.read", gettext_lazy("read consultation requests")),
    ("user/ServiceRequest.write", gettext_lazy("send consultation requests")),
    ("user/Task.read", gettext_lazy("read the progress of consultations")),
    ("user/Task.write", gettext_lazy("update the progress of consultations")),
)


def _hours_label(hours: int) -> Any:
    if hours == 1:
        return gettext_lazy("1 hour")
    if hours == 8:
        return gettext_lazy("8 hours")
    return gettext_lazy("24 hours")


class UserTokenForm(forms.Form):
    scopes = forms.MultipleChoiceField(
        label=gettext_lazy("What the token may do"),
        choices=[(scope, format_lazy("{} ({})", text, scope)) for scope, text in USER_SCOPES],
        widget=forms.CheckboxSelectMultiple,
        help_text=gettext_lazy("It never reaches more than you may reach yourself."),
    )
    hours = forms.TypedChoiceField(
        label=gettext_lazy("Valid for"),
        choices=[(str(hours), _hours_label(hours)) for hours in USER_TOKEN_HOURS],
        coerce=int,
        initial="8",
    )


def may_hold_user_token(user: User) -> bool:
    return user.is_active and user.role in USER_TOKEN_ROLES


def _active_user_tokens(user: User) -> list[AccessToken]:
    return list(
        AccessToken.objects.filter(
            user=user, client__isnull=True, revoked=False, expires_at__gt=timezone.now()
        ).order_by("-issued_at")
    )


def _revoke_user_token(request: HttpRequest, user: User, accessor: Accessor, value: str) -> None:
    token_id = int(value) if value.isdigit() else None
    with transaction.atomic():
        revoked = token_id is not None and AccessToken.objects.filter(
            pk=token_id, user=user, client__isnull=True, revoked=False
        ).update(revoked=True)
        if revoked:
            audit_record(
                accessor=accessor,
                action=AuditAction.UPDATE,
                details={"what": "fhir_user_token", "change": "revoked", "token_id": token_id},
            )
    if not revoked:
        messages.error(request, _("No such active token."))
        return
    messages.success(request, _("The token is revoked; it no longer works."))


def revoke_user_tokens(*, user: User, why: str) -> int:
    """Revoke every personal token of `user` (not a system client's) and audit it; how many."""
    with transaction.atomic():
        count = AccessToken.objects.filter(user=user, client__isnull=True, revoked=False).update(
            revoked=True
        )
        if count:
            audit_record(
                accessor=Accessor(None, None, "fhir"),
                action=AuditAction.UPDATE,
                details={
                    "what": "fhir_user_token",
                    "change": "revoked",
                    "why": why,
                    "count": count,
                    "user": str(user.uuid),
                },
            )
    return count


def revoke_on_password_change(sender: object, user: User, **kwargs: Any) -> None:
    """A token issued under the old password must not outlive it (connected in FhirConfig)."""
    revoke_user_tokens(user=user, why="password_changed")


@login_required
@never_cache
def user_tokens(request: HttpRequest) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)
    if not may_hold_user_token(user):
        raise PermissionDenied(_("Your role cannot hold a FHIR access token."))
    accessor = Accessor.from_request(request)
    new_token = ""
    new_record: AccessToken | None = None
    form = UserTokenForm()
    if request.method == "POST" and "revoke" in request.POST:
        _revoke_user_token(request, user, accessor, request.POST["revoke"])
        return HttpResponseRedirect(request.path)
    if request.method == "POST":
        form = UserTokenForm(request.POST)
        if form.is_valid():
            hours: int = form.cleaned_data["hours"]
            scopes = [scope for scope, _text in USER_SCOPES if scope in form.cleaned_data["scopes"]]
            with transaction.atomic():
                new_token, new_record = issue_token(
                    user=user, scopes=scopes, lifetime=timedelta(hours=hours)
                )
                audit_record(
                    accessor=accessor,
                    action=AuditAction.CREATE,
                    details={
                        "what": "fhir_user_token",
                        "token_id": new_record.pk,
                        "scope": new_record.scopes,
                        "hours": hours,
                    },
                )
            form = UserTokenForm()
    elif request.method != "GET":
        return HttpResponse(status=405, headers={"Allow": "GET, POST"})
    return render(
        request,
        "fhir/user_tokens.html",
        {
            "form": form,
            "new_token": new_token,
            "new_record": new_record,
            "tokens": _active_user_tokens(user),
            "fhir_base": request.build_absolute_uri(base_path(request, USER_TOKEN_PATH)).rstrip(
                "/"
            ),
        },
    )
