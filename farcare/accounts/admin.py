from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import UserChangeForm
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.forms import ModelForm
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _

from farcare.audit.models import AuditAction
from farcare.audit.services import Accessor, audit_record

from .models import User
from .services import refuse_own_privilege_change, user_created, user_update


class AccountChangeForm(UserChangeForm):
    """The registry's form of an account: a change of one's own privileges is refused here, with
    the reason, before anything is saved (the service refuses it too, whatever calls it)."""

    accessor: Accessor | None = None  # the editor, set per request by UserAdmin.get_form

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.accessor is not None and self.instance.pk is not None:
            try:
                refuse_own_privilege_change(
                    accessor=self.accessor, user=self.instance, fields=self.changed_data
                )
            except PermissionDenied as refused:
                raise ValidationError(str(refused)) from refused
        return cleaned


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    form = AccountChangeForm
    list_display = ["username", "first_name", "last_name", "role", "facility", "is_active"]
    list_filter = ["role", "is_active"]
    autocomplete_fields = ["facility"]
    readonly_fields = ["failed_logins", "locked_until"]
    fieldsets = (
        *BaseUserAdmin.fieldsets,  # type: ignore[misc]
        (
            _("FarCare"),
            {
                "fields": (
                    "role",
                    "facility",
                    "language",
                    "time_zone",
                    "failed_logins",
                    "locked_until",
                )
            },
        ),
    )
    add_fieldsets = (
        *BaseUserAdmin.add_fieldsets,
        (_("FarCare"), {"fields": ("role", "facility", "language", "time_zone")}),
    )

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> type[ModelForm]:
        form = super().get_form(request, obj, change=change, **kwargs)
        return type(form.__name__, (form,), {"accessor": Accessor.from_request(request, "admin")})

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        accessor = Accessor.from_request(request, "admin")
        if not change:
            with transaction.atomic():
                obj.save()
                user_created(accessor=accessor, user=obj)
            return
        data = {
            name: form.cleaned_data[name]
            for name in form.changed_data
            if name in form.cleaned_data and name != "password"
        }
        user_update(accessor=accessor, user=obj, data=data)

    def user_change_password(
        self, request: HttpRequest, id: str, form_url: str = ""
    ) -> HttpResponse:
        """An administrator sets a new password for someone (a reset): audited; the user's
        sessions and personal tokens end with the old password (accounts.signals)."""
        response: HttpResponse = super().user_change_password(request, id, form_url)
        if request.method == "POST" and response.status_code == 302:
            user = self.get_object(request, unquote(id))
            audit_record(
                accessor=Accessor.from_request(request, "admin"),
                action=AuditAction.UPDATE,
                record=user,
                details={"what": "password", "change": "reset"},
            )
        return response
