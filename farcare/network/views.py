from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from farcare.network.models import LANGUAGE_CHOICES, Facility, FacilityKind, Specialty

from . import selectors


@login_required
def facility_list(request: HttpRequest) -> HttpResponse:
    filters = {key: request.GET.get(key, "").strip() for key in ("region", "kind", "q")}
    facilities = selectors.facility_list(
        region=filters["region"], kind=filters["kind"], query=filters["q"]
    )
    return render(
        request,
        "network/facility_list.html",
        {
            "facilities": facilities,
            "filters": filters,
            "regions": selectors.regions(),
            "kinds": FacilityKind.choices,
        },
    )


@login_required
def facility_detail(request: HttpRequest, facility_uuid: str) -> HttpResponse:
    facility = get_object_or_404(
        Facility.objects.select_related("settlement", "organisation"), uuid=facility_uuid
    )
    return render(
        request,
        "network/facility_detail.html",
        {
            "facility": facility,
            "chain": selectors.referral_chain(facility),
            "referred_from": facility.referrals_in.select_related("source", "specialty"),
            "staff": facility.practitioner_roles.select_related("practitioner").prefetch_related(
                "practitioner__specialties", "hours"
            ),
        },
    )


@login_required
def practitioner_list(request: HttpRequest) -> HttpResponse:
    filters = {key: request.GET.get(key, "").strip() for key in ("specialty", "language")}
    return render(
        request,
        "network/practitioner_list.html",
        {
            "practitioners": selectors.practitioner_list(**filters),
            "filters": filters,
            "specialties": Specialty.objects.all(),
            "languages": LANGUAGE_CHOICES,
        },
    )
