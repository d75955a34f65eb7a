"""What each role's home page shows: aggregates, and the cases that wait for this user (their
queue, the questions they must answer, the conclusions they have not acknowledged). Those name
their patients (consults.case_rows), so the context's "patients_shown" is what the home page's
audit record links."""

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
from farcare.consults.case_rows import CaseRow, answers_needed, case_rows, patient_uuids
from farcare.core.suppression import SMALL_CELL, Line, shown, suppress, suppress_lines
from farcare.network.models import Facility, FacilityKind, Practitioner
from farcare.network.selectors import referral_chain
from farcare.patients.models import Patient

# Cases a home page lists in each of its sections; the worklist has the rest.
HOME_ROWS = 20

# Callers that imported them from here before farcare.core.suppression held the rule.
__all__ = ["HOME_ROWS", "SMALL_CELL", "home_context", "region_table", "suppress"]


def region_table() -> list[dict[str, Any]]:
    """The analyst's and administrator's table of the network by region. Registered patients
    per region are one line of farcare.core.suppression; the page shows no total of them (and
    no other page shows one to these readers), so the line has none: a small region reads "×"
    and no other region needs hiding. Should a total row ever be shown, it becomes the line's
    total and a lone small region takes the next smallest with it."""
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
    counts = {region: patients.get(region, 0) for region in facilities}
    hidden = suppress_lines(counts, [Line(None, tuple(sorted(counts)))])
    rows = []
    for region, row in sorted(facilities.items()):
        rows.append(
            {
                "region": region,
                "facilities": row["facilities"],
                "posts": posts.get(region, 0),
                "population": row["population"] or 0,
                "patients": shown(counts[region], hidden=region in hidden),
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
    today, now = timezone.localdate(), timezone.now()
    shown: list[CaseRow] = []
    if user.role == Role.CLINICIAN:
        # A consultant's question first: the clock of those requests waits for this answer.
        context["answer_needed"] = answers_needed(
            consult_selectors.awaiting_answer(user)[:HOME_ROWS], viewer=user, today=today, now=now
        )
        context["unacknowledged"] = case_rows(
            consult_selectors.unacknowledged(user)[:HOME_ROWS], viewer=user, today=today, now=now
        )
        shown += [item.row for item in context["answer_needed"]] + context["unacknowledged"]
    if user.role == Role.CONSULTANT:
        context["queue"] = case_rows(
            consult_selectors.consultant_queue(user)[:HOME_ROWS], viewer=user, today=today, now=now
        )
        shown += context["queue"]
    context["patients_shown"] = patient_uuids(shown)
    if user.role == Role.PATIENT:
        context["record"] = Patient.objects.filter(user=user).first()
    if user.role in (Role.ANALYST, Role.ADMINISTRATOR):
        context["regions"] = region_table()
    if user.role == Role.ADMINISTRATOR:
        context["pending_reviews"] = BreakGlassGrant.objects.filter(
            reviewed_at__isnull=True
        ).count()
    return context
