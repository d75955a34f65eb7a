from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import SigningKey

# Everything but the encrypted private key, which is never shown.
SHOWN_FIELDS = ("uuid", "user", "algorithm", "public_key", "created_at", "revoked_at")


@admin.register(SigningKey)
class SigningKeyAdmin(admin.ModelAdmin):
    """Read-only: keys are made and revoked by the signing services, never by hand."""

    list_display = ["user", "algorithm", "created_at", "revoked_at"]
    list_filter = ["algorithm"]
    search_fields = ["user__username", "user__last_name", "uuid"]
    fields = SHOWN_FIELDS
    readonly_fields = SHOWN_FIELDS

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
