"""What each role's home page shows. Aggregates only: no patient is named on a home page."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Sum
from django.utils import timezone

from farcare.access.models import BreakGlassGrant
from farcare.access.policy import may_register_patients
from farcare.accounts.models import Role, User
from farcare.consults import selectors as consult_selectors
from farcare.consults.board import coordinator_filtered_board
from farcare.consults.board import summary as board_summary
from farcare.network.models import Facility, FacilityKind, Practitioner
from farcare.network.selectors import referral_chain
from farcare.patients.models import Patient

# Counts below this are shown as "fewer than" so that a small settlement's patients cannot be
# singled out from an aggregate.
SMALL_CELL = 5


def suppress(count: int) -> str:
    return f"<{SMALL_CELL}" if 0 < count < SMALL_CELL else str(count)


def region_table() -> list[dict[str, Any]]:
    facilities = {
        row["region"]: row
        for row in Facility.objects.values("region").annotate(
            facilities=Count("id"), population=Sum("settlement__population")
        )
    }
    patients = dict(
        Patient.objects.values_list("home_facility__region").annotate(n=Count("id")).order_by()
    )
    posts = dict(
        Facility.objects.filter(kind=FacilityKind.FELDSHER_POST)
        .values_list("region")
        .annotate(n=Count("id"))
        .order_by()
    )
    rows = []
    for region, row in sorted(facilities.items()):
        rows.append(
            {
                "region": region,
                "facilities": row["facilities"],
                "posts": posts.get(region, 0),
                "population": row["population"] or 0,
                "patients": suppress(patients.get(region, 0)),
            }
        )
    return rows


def home_context(user: User) -> dict[str, Any]:
    context: dict[str, Any] = {"user": user}
    facility = user.facility
    if facility is not None:
        context["facility"] = facility
        context["chain"] = referral_chain(facility)[:6]
    if user.role in (Role.CLINICIAN, Role.COORDINATOR):
        context["may_register"] = may_register_patients(user)
    if user.role == Role.COORDINATOR and facility is not None:
        # Counts only, each a link to the board narrowed to it.
        context["board"] = coordinator_filtered_board(user, {}, timezone.now())
        context["pressing"] = board_summary(context["board"])
        context["region_facilities"] = (
            Facility.objects.filter(region=facility.region)
            .annotate(patient_count=Count("patients"))
            .select_related("settlement")
        )
    if user.role in (Role.CONSULTANT, Role.TRAINER, Role.CLINICIAN):
        context["practitioner"] = (
            Practitioner.objects.filter(user=user)
            .prefetch_related("specialties", "roles__hours", "roles__facility")
            .first()
        )
    if user.role == Role.CLINICIAN:
        context["unacknowledged"] = consult_selectors.unacknowledged(user)[:20]
    if user.role == Role.CONSULTANT:
        context["queue"] = [
            (c, consult_selectors.remaining_text(c), consult_selectors.deadline_risk(c))
            for c in consult_selectors.consultant_queue(user)[:20]
        ]
    if user.role == Role.PATIENT:
        context["record"] = Patient.objects.filter(user=user).first()
    if user.role in (Role.ANALYST, Role.ADMINISTRATOR):
        context["regions"] = region_table()
    if user.role == Role.ADMINISTRATOR:
        context["pending_reviews"] = BreakGlassGrant.objects.filter(
            reviewed_at__isnull=True
        ).count()
    return context
