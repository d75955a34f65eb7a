"""Reads of the care network for pages and for the access policy."""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass

from django.db.models import Q, QuerySet

from .models import Facility, Practitioner, ReferralLink, Specialty


def _referral_graph() -> tuple[dict[int, set[int]], dict[int, set[int]]]:
    up: dict[int, set[int]] = defaultdict(set)
    down: dict[int, set[int]] = defaultdict(set)
    for source_id, target_id in ReferralLink.objects.values_list("source_id", "target_id"):
        up[source_id].add(target_id)
        down[target_id].add(source_id)
    return up, down


def _reachable(start: int, edges: dict[int, set[int]]) -> set[int]:
    seen = {start}
    queue = deque([start])
    while queue:
        for nxt in edges.get(queue.popleft(), ()):
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return seen


def facilities_above(facility_id: int) -> set[int]:
    """The facility itself and every facility it refers to, directly or further up the chain."""
    up, _down = _referral_graph()
    return _reachable(facility_id, up)


def facilities_served_by(facility_id: int) -> set[int]:
    """The facility itself and every facility whose patients it may be asked about."""
    _up, down = _referral_graph()
    return _reachable(facility_id, down)


@dataclass(frozen=True)
class ChainStep:
    facility: Facility
    specialty: Specialty | None
    rank: int
    depth: int


def referral_chain(facility: Facility) -> list[ChainStep]:
    """The chain of care above a facility, breadth first: where its patients go next, and on."""
    links = list(ReferralLink.objects.select_related("target", "specialty").order_by("rank"))
    by_source: dict[int, list[ReferralLink]] = defaultdict(list)
    for link in links:
        by_source[link.source_id].append(link)
    steps: list[ChainStep] = []
    seen = {facility.pk}
    queue = deque([(facility.pk, 1)])
    while queue:
        current, depth = queue.popleft()
        for link in by_source.get(current, []):
            steps.append(ChainStep(link.target, link.specialty, link.rank, depth))
            if link.target_id not in seen:
                seen.add(link.target_id)
                queue.append((link.target_id, depth + 1))
    return steps


def facility_list(*, region: str = "", kind: str = "", query: str = "") -> QuerySet[Facility]:
    facilities = Facility.objects.select_related("settlement", "organisation")
    if region:
        facilities = facilities.filter(region=region)
    if kind:
        facilities = facilities.filter(kind=kind)
    if query:
        facilities = facilities.filter(
            Q(name_en__icontains=query) | Q(name_ru__icontains=query) | Q(name_ko__icontains=query)
        )
    return facilities


def regions() -> list[str]:
    return list(Facility.objects.order_by("region").values_list("region", flat=True).distinct())


def practitioner_list(*, specialty: str = "", language: str = "") -> QuerySet[Practitioner]:
    practitioners = Practitioner.objects.prefetch_related(
        "specialties", "roles__facility", "roles__hours"
    )
    if specialty:
        practitioners = practitioners.filter(specialties__code=specialty)
    if language:
        # JSON containment is not portable to SQLite; languages are two-letter codes stored
        # as a JSON list, so a quoted substring match is exact.
        practitioners = practitioners.filter(languages__icontains=f'"{language}"')
    return practitioners.distinct()


@dataclass(frozen=True)
class Place:
    """A settlement where the network has facilities, as a way to find its time zone by name."""

    time_zone: str
    name: str  # in the reader's language
    spellings: tuple[str, ...]  # the settlement's and its facilities' names, in every language


def places_of_the_network() -> list[Place]:
    """Every settlement with a facility and the zone its facilities keep, largest first."""
    facilities = Facility.objects.select_related("settlement").order_by(
        "-settlement__population", "settlement__name_en", "pk"
    )
    names: dict[tuple[str, int], list[str]] = {}
    shown: dict[tuple[str, int], str] = {}
    for facility in facilities:
        settlement = facility.settlement
        key = (facility.time_zone, settlement.pk)
        shown.setdefault(key, settlement.name)
        names.setdefault(key, [settlement.name_ru, settlement.name_en]).extend(
            [facility.name_ru, facility.name_en, facility.name_ko]
        )
    return [
        Place(time_zone=zone, name=shown[(zone, pk)], spellings=tuple(filter(None, spellings)))
        for (zone, pk), spellings in names.items()
    ]
