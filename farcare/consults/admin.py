from django.contrib import admin

from .models import DeadlinePolicy, OnCallShift, RoutingRule


@admin.register(DeadlinePolicy)
class DeadlinePolicyAdmin(admin.ModelAdmin):
    list_display = ["form", "minutes"]


@admin.register(RoutingRule)
class RoutingRuleAdmin(admin.ModelAdmin):
    list_display = ["region", "specialty", "rank", "facility"]
    list_filter = ["region", "specialty"]
    list_editable = ["rank"]
    autocomplete_fields = ["facility", "specialty"]
    ordering = ["region", "specialty__code", "rank"]


@admin.register(OnCallShift)
class OnCallShiftAdmin(admin.ModelAdmin):
    list_display = ["consultant", "starts_at", "ends_at"]
    list_filter = ["consultant__facility__region"]
    date_hierarchy = "starts_at"
