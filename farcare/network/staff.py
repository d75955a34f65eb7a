"""Who works where, for those who must be told: a region's coordinators, a facility's clinicians,
and the district hospital above a post (where its district doctor works). Diagnostics,
evacuation and monitoring escalate to these people."""

from __future__ import annotations

from farcare.accounts.models import Role, User

from .models import Facility, FacilityKind, ReferralLink


def coordinators_of(*regions: str) -> list[User]:
    return list(
        User.objects.filter(
            role=Role.COORDINATOR, is_active=True, facility__region__in=set(regions)
        ).order_by("pk")
    )


def clinicians_at(facility: Facility | None) -> list[User]:
    if facility is None:
        return []
    return list(
        User.objects.filter(role=Role.CLINICIAN, is_active=True, facility=facility).order_by("pk")
    )


def district_hospital_for(facility: Facility) -> Facility | None:
    """The facility itself when it is a district hospital, else the first one up the chain
    (breadth first, by the links' rank): the post's district doctor works there."""
    if facility.kind == FacilityKind.DISTRICT_HOSPITAL:
        return facility
    links = list(ReferralLink.objects.select_related("target").order_by("rank", "pk"))
    frontier, seen = [facility.pk], {facility.pk}
    while frontier:
        following = []
        for link in links:
            if link.source_id in frontier and link.target_id not in seen:
                seen.add(link.target_id)
                if link.target.kind == FacilityKind.DISTRICT_HOSPITAL:
                    return link.target
                following.append(link.target_id)
        frontier = following
    return None
