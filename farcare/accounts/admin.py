from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _

from .models import User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
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
