"""The performers the order form offers: the one the network routes the order to
(`diagnostics.routing.performer_for`) first, then the region's other routed facilities for the
category, which the orderer may choose instead."""

from __future__ import annotations

from farcare.network.models import Facility

from ..models import PerformerRoute
from ..routing import performer_for


def routed_performers(facility: Facility, category: str) -> list[Facility]:
    first = performer_for(ordering=facility, category=category)
    out = [first] if first is not None else []
    routes = PerformerRoute.objects.filter(region=facility.region, category=category)
    for route in routes.select_related("performer").order_by("rank", "pk"):
        if route.performer not in out:
            out.append(route.performer)
    return out
