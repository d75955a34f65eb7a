"""Whom the coordinator may hand an open request to, and why not someone else.

Eligible: an active consultant of the request's specialty at a facility the routing table allows
for it (`routing.consulting_facilities`; a partner abroad only with the patient's consent to a
transfer abroad), not already on the request. The list of choices shows what a coordinator
weighs: where they work, the languages they read, whether they are at work now in their own zone,
and how many open requests they hold. The service asks `reassign_verdict` again on submit: a
list can be stale, and a form can be forged."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count
from django.utils.translation import gettext as _

from farcare.accounts.models import Role, User
from farcare.network.duty import at_work
from farcare.network.models import (
    Facility,
    FacilityKind,
    PractitionerRole,
    PractitionerRoleKind,
    Specialty,
)
from farcare.patients.models import ConsentKind

from . import routing
from .models import OPEN_STATUSES, Assignment, Consultation, OnCallShift


def abroad_allowed(consultation: Consultation) -> bool:
    """The patient agreed to their pseudonymised case going to a partner abroad (and has not
    revoked it): the same condition routing applies when the request is sent."""
    return consultation.patient.consents.filter(
        kind=ConsentKind.TRANSFER_ABROAD, revoked_at__isnull=True
    ).exists()


def allowed_facilities(consultation: Consultation) -> list[Facility]:
    """The facilities the routing table allows for this request, in the table's order."""
    return routing.consulting_facilities(
        requesting=consultation.requesting_facility,
        specialty=consultation.specialty,
        abroad_allowed=abroad_allowed(consultation),
    )


def open_loads(user_ids: list[int]) -> dict[int, int]:
    """How many open requests each consultant holds now."""
    return dict(
        Assignment.objects.filter(
            consultant_id__in=user_ids,
            ended_at__isnull=True,
            consultation__status__in=OPEN_STATUSES,
        )
        .values_list("consultant_id")
        .annotate(n=Count("id"))
    )


def on_call(user_ids: list[int], at: datetime) -> set[int]:
    """Who among them has an on-call shift running at `at` (outside their working hours)."""
    return set(
        OnCallShift.objects.filter(
            consultant_id__in=user_ids, starts_at__lte=at, ends_at__gt=at
        ).values_list("consultant_id", flat=True)
    )


@dataclass(frozen=True)
class ConsultantChoice:
    user: User
    name: str
    facility: Facility
    languages: tuple[str, ...]
    specialties: tuple[str, ...]  # their names in the reader's language
    on_duty: bool
    load: int
    of_specialty: bool  # consults in the request's specialty
    reads_request: bool  # reads the request's language
    on_request: bool  # already on this request

    @property
    def pickable(self) -> bool:
        return self.of_specialty and not self.on_request


@dataclass(frozen=True)
class ChoiceFilters:
    specialty: Specialty | None  # None: every specialty (the others shown, not pickable)
    language: str  # '': any language
    on_duty_only: bool


def reassign_choices(
    consultation: Consultation, filters: ChoiceFilters, at: datetime
) -> list[ConsultantChoice]:
    """Consultants at the facilities the routing allows for the request, as filtered: at work
    first, then the lightest load, then in the routing table's order."""
    facilities = allowed_facilities(consultation)
    rank = {facility.pk: index for index, facility in enumerate(facilities)}
    roles = PractitionerRole.objects.filter(
        facility__in=facilities,
        kind=PractitionerRoleKind.CONSULTANT,
        practitioner__user__is_active=True,
        practitioner__user__role=Role.CONSULTANT,
    )
    if filters.specialty is not None:
        roles = roles.filter(practitioner__specialties=filters.specialty)
    found = [
        role
        for role in roles.distinct()
        .select_related("practitioner__user", "facility")
        .prefetch_related("hours", "practitioner__specialties")
        if not filters.language or filters.language in role.practitioner.languages
    ]
    user_ids = [role.practitioner.user_id for role in found if role.practitioner.user_id]
    loads = open_loads(user_ids)
    shifts = on_call(user_ids, at)
    holding = set(
        consultation.assignments.filter(ended_at__isnull=True).values_list(
            "consultant_id", flat=True
        )
    )
    choices = []
    seen: set[int] = set()
    # One row a consultant: where they rank first if they work at two of the facilities.
    for role in sorted(found, key=lambda r: rank[r.facility_id]):
        practitioner = role.practitioner
        user = practitioner.user
        if user is None or user.pk in seen:
            continue
        seen.add(user.pk)
        specialties = list(practitioner.specialties.all())
        choice = ConsultantChoice(
            user=user,
            name=str(practitioner),
            facility=role.facility,
            languages=tuple(practitioner.languages),
            specialties=tuple(s.name for s in specialties),
            on_duty=user.pk in shifts or at_work(role.hours.all(), role.facility.time_zone, at),
            load=loads.get(user.pk, 0),
            of_specialty=any(s.pk == consultation.specialty_id for s in specialties),
            reads_request=consultation.language in practitioner.languages,
            on_request=user.pk in holding,
        )
        if choice.on_duty or not filters.on_duty_only:
            choices.append(choice)
    return sorted(
        choices,
        key=lambda c: (not c.pickable, not c.on_duty, c.load, rank[c.facility.pk], c.name),
    )


@dataclass(frozen=True)
class Verdict:
    """Where the consultant would answer the request from and its place in the routing table
    (a later decline moves on from there), or why they may not take it (`refusal`, in the
    reader's language)."""

    facility: Facility | None = None
    rank: int = 0
    refusal: str = ""


def reassign_verdict(consultation: Consultation, consultant: User) -> Verdict:
    name = str(consultant)
    if consultant.role != Role.CONSULTANT or not consultant.is_active:
        return Verdict(refusal=_("%(name)s is not an active consultant.") % {"name": name})
    roles = PractitionerRole.objects.filter(
        practitioner__user=consultant, kind=PractitionerRoleKind.CONSULTANT
    ).select_related("facility")
    of_specialty = list(roles.filter(practitioner__specialties=consultation.specialty))
    if not of_specialty:
        return Verdict(
            refusal=_("%(name)s does not consult in %(specialty)s.")
            % {"name": name, "specialty": consultation.specialty.name}
        )
    where = {role.facility_id for role in of_specialty}
    allowed = [
        (rank, facility)
        for rank, facility in enumerate(allowed_facilities(consultation))
        if facility.pk in where
    ]
    if not allowed:
        facility = of_specialty[0].facility
        if facility.kind == FacilityKind.PARTNER_ABROAD and not abroad_allowed(consultation):
            return Verdict(
                refusal=_(
                    "%(name)s works at a partner hospital abroad, and the patient has not "
                    "agreed to their case going abroad."
                )
                % {"name": name}
            )
        return Verdict(
            refusal=_(
                "The routing table does not send this request to %(facility)s, where %(name)s "
                "works."
            )
            % {"facility": facility.name, "name": name}
        )
    if consultation.assignments.filter(consultant=consultant, ended_at__isnull=True).exists():
        return Verdict(refusal=_("%(name)s is already on this request.") % {"name": name})
    rank, facility = allowed[0]
    return Verdict(facility=facility, rank=rank)
