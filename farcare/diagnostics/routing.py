"""Who performs an order (as `consults.routing` routes consultations): the routing table's
facilities for the ordering facility's region and the category, in rank order; without a rule
the ordering facility itself when it is able to (`Capability`), else the first facility up the
referral chain that is (breadth first, by the links' rank)."""

from __future__ import annotations

from collections import defaultdict

from django.conf import settings

from farcare.network.models import Facility, ReferralLink

from .models import Capability, Category, PerformerRoute


def _able(facility_ids: list[int], category: str, modality: str) -> set[int]:
    capabilities = Capability.objects.filter(facility_id__in=facility_ids, category=category)
    if category == Category.IMAGING and modality:
        capabilities = capabilities.filter(modality=modality)
    return set(capabilities.values_list("facility_id", flat=True))


def _at_home(facility: Facility) -> bool:
    return facility.country == getattr(settings, "FARCARE_HOME_COUNTRY", "RU")


def _chain_above(ordering: Facility) -> list[Facility]:
    """The facilities up the referral chain, nearest first; one abroad is neither a candidate
    nor a way further up (a specimen or image with the patient's identity stays at home)."""
    by_source: dict[int, list[ReferralLink]] = defaultdict(list)
    for link in ReferralLink.objects.select_related("target").order_by("rank", "pk"):
        by_source[link.source_id].append(link)
    ordered: list[Facility] = []
    frontier, seen = [ordering.pk], {ordering.pk}
    while frontier:
        following = []
        for source in frontier:
            for link in by_source.get(source, []):
                if link.target_id not in seen and _at_home(link.target):
                    seen.add(link.target_id)
                    following.append(link.target_id)
                    ordered.append(link.target)
        frontier = following
    return ordered


def performer_for(*, ordering: Facility, category: str, modality: str = "") -> Facility | None:
    routes = [
        route.performer
        for route in PerformerRoute.objects.filter(region=ordering.region, category=category)
        .select_related("performer")
        .order_by("rank", "pk")
    ]
    if routes:
        if category != Category.IMAGING or not modality:
            return routes[0]
        # A route to a diagnostic centre that cannot make this kind of image is skipped.
        able = _able([facility.pk for facility in routes], category, modality)
        chosen = next((facility for facility in routes if facility.pk in able), None)
        if chosen is not None:
            return chosen
    if _able([ordering.pk], category, modality):
        return ordering
    above = _chain_above(ordering)
    able = _able([facility.pk for facility in above], category, modality)
    return next((facility for facility in above if facility.pk in able), None)


def alternatives(*, ordering: Facility, category: str, modality: str = "") -> list[Facility]:
    """Every facility that may perform the order, in the order `performer_for` prefers them:
    the routing table's (able to make this kind of image), the ordering facility itself if
    able, and the able ones up the chain; none abroad."""
    routes = [
        route.performer
        for route in PerformerRoute.objects.filter(region=ordering.region, category=category)
        .select_related("performer")
        .order_by("rank", "pk")
    ]
    if category == Category.IMAGING and modality:
        able_routes = _able([facility.pk for facility in routes], category, modality)
        routes = [facility for facility in routes if facility.pk in able_routes]
    above = _chain_above(ordering)
    able = _able([ordering.pk, *(facility.pk for facility in above)], category, modality)
    found: list[Facility] = []
    for facility in [*routes, ordering, *above]:
        if facility.pk in {f.pk for f in found} or not _at_home(facility):
            continue
        if facility in routes or facility.pk in able:
            found.append(facility)
    return found
