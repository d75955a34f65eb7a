"""Who answers a request: the routing table gives the consulting facilities in order, and
assignment picks a consultant there of the right specialty, who speaks the request's language,
is on duty now in their own zone, with the lightest current load."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Q

from farcare.accounts.models import Role, User
from farcare.network.duty import at_work
from farcare.network.models import (
    Facility,
    FacilityKind,
    PractitionerRole,
    PractitionerRoleKind,
    ReferralLink,
    Specialty,
)

from .models import OPEN_STATUSES, Assignment, OnCallShift, RoutingRule

CONSULTING_KINDS = (
    FacilityKind.DISTRICT_HOSPITAL,
    FacilityKind.REGIONAL_HUB,
    FacilityKind.FEDERAL_CENTRE,
    FacilityKind.PARTNER_ABROAD,
)


def consulting_facilities(
    *, requesting: Facility, specialty: Specialty, abroad_allowed: bool
) -> list[Facility]:
    """The routing table's facilities for the requester's region and the specialty, in order.
    Without a rule, the referral chain above the requesting facility stands in for one."""
    rules = (
        RoutingRule.objects.filter(region=requesting.region, specialty=specialty)
        .select_related("facility")
        .order_by("rank")
    )
    facilities = [rule.facility for rule in rules]
    if not facilities:
        facilities = _chain_facilities(requesting, specialty)
    return [
        facility
        for facility in facilities
        if abroad_allowed or facility.kind != FacilityKind.PARTNER_ABROAD
    ]


def _chain_facilities(requesting: Facility, specialty: Specialty) -> list[Facility]:
    links = ReferralLink.objects.filter(Q(specialty=specialty) | Q(specialty__isnull=True))
    by_source: dict[int, list[ReferralLink]] = defaultdict(list)
    for link in links.select_related("target").order_by("rank"):
        by_source[link.source_id].append(link)
    ordered: list[Facility] = []
    frontier = [requesting.pk]
    seen = {requesting.pk}
    while frontier:
        following = []
        for source in frontier:
            for link in by_source.get(source, []):
                if link.target_id not in seen:
                    seen.add(link.target_id)
                    following.append(link.target_id)
                    if link.target.kind in CONSULTING_KINDS:
                        ordered.append(link.target)
        frontier = following
    return ordered


@dataclass(frozen=True)
class Candidate:
    user: User
    facility: Facility
    on_duty: bool
    load: int


def _on_duty(role: PractitionerRole, at: datetime, shifts: set[int]) -> bool:
    if role.practitioner.user_id in shifts:
        return True
    return at_work(role.hours.all(), role.facility.time_zone, at)


def candidates(
    *,
    facility: Facility,
    specialty: Specialty,
    language: str,
    at: datetime,
    exclude: set[int] | frozenset[int] = frozenset(),
) -> list[Candidate]:
    """Consultants of the facility who could take the request, best first."""
    roles = [
        role
        for role in PractitionerRole.objects.filter(
            facility=facility,
            kind=PractitionerRoleKind.CONSULTANT,
            practitioner__specialties=specialty,
            practitioner__user__is_active=True,
            practitioner__user__role=Role.CONSULTANT,
        )
        .exclude(practitioner__user_id__in=exclude)
        .select_related("practitioner__user", "facility")
        .prefetch_related("hours")
        if language in role.practitioner.languages
    ]
    user_ids = [role.practitioner.user_id for role in roles]
    loads = dict(
        Assignment.objects.filter(
            consultant_id__in=user_ids,
            ended_at__isnull=True,
            consultation__status__in=OPEN_STATUSES,
        )
        .values_list("consultant_id")
        .annotate(n=Count("id"))
    )
    shifts = set(
        OnCallShift.objects.filter(
            consultant_id__in=user_ids, starts_at__lte=at, ends_at__gt=at
        ).values_list("consultant_id", flat=True)
    )
    found = [
        Candidate(
            user=role.practitioner.user,  # type: ignore[arg-type]
            facility=role.facility,
            on_duty=_on_duty(role, at, shifts),
            load=loads.get(role.practitioner.user_id, 0),
        )
        for role in roles
    ]
    return sorted(found, key=lambda c: (not c.on_duty, c.load, c.user.username))


@dataclass(frozen=True)
class RoutingChoice:
    rank: int
    facility: Facility | None
    candidate: Candidate | None


def choose(
    *,
    facilities: list[Facility],
    specialty: Specialty,
    language: str,
    at: datetime,
    start_rank: int = 0,
    exclude: set[int] | frozenset[int] = frozenset(),
) -> RoutingChoice:
    """From `start_rank` on: the first facility with a consultant on duty; failing that, the
    first facility with any consultant (they see it when their shift begins, and the deadline
    watcher escalates meanwhile); failing that, nobody."""
    first_any: RoutingChoice | None = None
    for rank in range(start_rank, len(facilities)):
        facility = facilities[rank]
        found = candidates(
            facility=facility, specialty=specialty, language=language, at=at, exclude=exclude
        )
        if found and found[0].on_duty:
            return RoutingChoice(rank, facility, found[0])
        if found and first_any is None:
            first_any = RoutingChoice(rank, facility, found[0])
    if first_any is not None:
        return first_any
    if start_rank < len(facilities):
        return RoutingChoice(start_rank, facilities[start_rank], None)
    return RoutingChoice(start_rank, None, None)
