"""Reads of the care network for pages and for the access policy."""

from __future__ import annotations

import time
import uuid
from collections import defaultdict, deque
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from django.db.models import Q, QuerySet
from django.db.models.signals import post_delete, post_save

from farcare.core.transactions import on_commit_once, queued

from .models import Facility, Practitioner, ReferralLink, Specialty

# The referral graph is read by the access policy on every request that touches a patient; it
# changes only when the network is edited. Each process keeps the graph it loaded, tagged with a
# generation kept in Django's cache (shared by every worker when the cache is Redis): a change
# of a link bumps the generation once its transaction commits, and every process reloads on its
# next call. The TTL is a backstop for a change the signals cannot see (a raw SQL edit, or a
# per-process cache in a deployment with several workers and no shared cache).
GRAPH_GENERATION_KEY = "farcare:network:referral-graph-generation"
GRAPH_TTL_SECONDS = 60.0
# The tag of the bump queued for the commit of a transaction that changed links.
GRAPH_CHANGE = "network.referral-graph"
_Graph = tuple[dict[int, set[int]], dict[int, set[int]]]
_loaded: tuple[str, float, _Graph] | None = None


def _load_referral_graph() -> _Graph:
    up: dict[int, set[int]] = defaultdict(set)
    down: dict[int, set[int]] = defaultdict(set)
    # No ordering: the model's default (by the source's name) would join the facilities.
    for source_id, target_id in ReferralLink.objects.order_by().values_list(
        "source_id", "target_id"
    ):
        up[source_id].add(target_id)
        down[target_id].add(source_id)
    return up, down


# The generation as this process last read it, and when: under ASGI Django's cache opens a new
# Redis connection in every request's context, a round trip and a connect that cost a read of
# patient data more than its own query. Read at most once a GENERATION_MEMO_SECONDS per process,
# so another process's change of a link is seen within that time (this process's own at once).
GENERATION_MEMO_SECONDS = 1.0
_memo: tuple[str, float] | None = None


def _generation() -> str:
    global _memo
    clock = time.monotonic()
    if _memo is not None and clock - _memo[1] < GENERATION_MEMO_SECONDS:
        return _memo[0]
    current = cache.get(GRAPH_GENERATION_KEY)
    if current is None:
        cache.add(GRAPH_GENERATION_KEY, uuid.uuid4().hex, timeout=None)
        current = cache.get(GRAPH_GENERATION_KEY) or ""
    _memo = (str(current), clock)
    return _memo[0]


def _changing_links() -> bool:
    """Whether this connection's open transaction changed a referral link: until it commits,
    its graph is its own (and a rollback must leave no trace in the shared one)."""
    return queued(GRAPH_CHANGE)


def _referral_graph() -> _Graph:
    global _loaded
    if _changing_links():
        return _load_referral_graph()
    generation = _generation()
    now = time.monotonic()
    if _loaded is not None and _loaded[0] == generation and now - _loaded[1] < GRAPH_TTL_SECONDS:
        return _loaded[2]
    graph = _load_referral_graph()
    _loaded = (generation, now, graph)
    return graph


def graph_generation() -> str | None:
    """The referral graph's generation, to key what is built from it (the FHIR lean path's
    compiled queries); None while this transaction changes links (nothing may be kept then)."""
    if _changing_links():
        return None
    return _generation()


def remembered_graph_generation() -> str | None:
    """The generation as this process last read it, if that was within GENERATION_MEMO_SECONDS;
    else None. Reads nothing: for the FHIR hot path in the event loop, which must not block on
    the cache and lets Django's path read the generation again when this is None. (It runs
    outside any transaction, so no change of links of its own can be pending.)"""
    memo = _memo
    if memo is None or time.monotonic() - memo[1] >= GENERATION_MEMO_SECONDS:
        return None
    return memo[0]


def bump_graph_generation() -> None:
    """Every process reloads the referral graph on its next use."""
    global _loaded, _memo
    _loaded = None
    _memo = None
    cache.set(GRAPH_GENERATION_KEY, uuid.uuid4().hex, timeout=None)


def referral_link_changed(**_kwargs: Any) -> None:
    """post_save / post_delete of a referral link: bump the generation once the change commits
    (once per transaction, however many links it changes)."""
    on_commit_once(GRAPH_CHANGE, bump_graph_generation)


def connect_graph_invalidation() -> None:
    for signal in (post_save, post_delete):
        signal.connect(
            referral_link_changed,
            sender=ReferralLink,
            dispatch_uid=f"farcare.network.referral-graph.{signal is post_save}",
        )


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
