from django.contrib import admin

from .models import (
    Facility,
    Organisation,
    Practitioner,
    PractitionerRole,
    ReferralLink,
    Settlement,
    Specialty,
    WorkingHours,
)


@admin.register(Specialty)
class SpecialtyAdmin(admin.ModelAdmin):
    list_display = ["code", "name_en", "name_ru", "name_ko"]
    search_fields = ["code", "name_en", "name_ru", "name_ko"]


@admin.register(Settlement)
class SettlementAdmin(admin.ModelAdmin):
    list_display = ["name_en", "name_ru", "region", "population", "time_zone"]
    list_filter = ["region"]
    search_fields = ["name_en", "name_ru"]


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ["name_en", "name_ru", "country", "region"]
    list_filter = ["country", "region"]
    search_fields = ["name_en", "name_ru", "name_ko"]


class ReferralInline(admin.TabularInline):
    model = ReferralLink
    fk_name = "source"
    extra = 0
    autocomplete_fields = ["target", "specialty"]


@admin.register(Facility)
class FacilityAdmin(admin.ModelAdmin):
    list_display = ["name_en", "kind", "region", "time_zone", "link_type", "bandwidth_kbps"]
    list_filter = ["kind", "region", "link_type", "country"]
    search_fields = ["name_en", "name_ru", "name_ko"]
    autocomplete_fields = ["organisation", "settlement"]
    inlines = [ReferralInline]


@admin.register(ReferralLink)
class ReferralLinkAdmin(admin.ModelAdmin):
    list_display = ["source", "target", "specialty", "rank"]
    list_filter = ["specialty"]
    autocomplete_fields = ["source", "target", "specialty"]


class HoursInline(admin.TabularInline):
    model = WorkingHours
    extra = 0


@admin.register(PractitionerRole)
class PractitionerRoleAdmin(admin.ModelAdmin):
    list_display = ["practitioner", "kind", "facility"]
    list_filter = ["kind"]
    autocomplete_fields = ["practitioner", "facility"]
    inlines = [HoursInline]


class RoleInline(admin.TabularInline):
    model = PractitionerRole
    extra = 0
    autocomplete_fields = ["facility"]


@admin.register(Practitioner)
class PractitionerAdmin(admin.ModelAdmin):
    list_display = ["family", "given", "middle"]
    search_fields = ["family", "given"]
    filter_horizontal = ["specialties"]
    inlines = [RoleInline]
