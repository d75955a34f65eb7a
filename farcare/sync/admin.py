from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .models import Station


@admin.register(Station)
class StationAdmin(admin.ModelAdmin):
    """Enrolled stations; revoking one stops its token at once (a lost or stolen laptop)."""

    list_display = ["name", "facility", "enrolled_by", "enrolled_at", "last_seen_at", "revoked_at"]
    list_filter = ["facility__region"]
    readonly_fields = ["uuid", "token_hash", "enrolled_by", "enrolled_at", "last_seen_at"]
    actions = ["revoke"]

    @admin.action(description=_("Revoke the selected stations"))
    def revoke(self, request: HttpRequest, queryset: QuerySet[Station]) -> None:
        queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
