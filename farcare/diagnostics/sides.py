"""Which side of an order a user stands on (the workflow's `Side`): the orderer's (the
ordering clinician, or a clinician of the ordering facility), the laboratory's (laboratory staff
or a radiologist of the performing facility), a coordinator's of the ordering facility's region."""

from __future__ import annotations

from farcare.access.policy import is_abroad
from farcare.accounts.models import Role, User

from .models import DiagnosticOrder
from .workflow import Side


def order_sides(user: User | None, order: DiagnosticOrder) -> set[Side]:
    if user is None or not user.is_authenticated or not user.is_active or is_abroad(user):
        return set()
    sides: set[Side] = set()
    if order.orderer_id == user.pk or (
        user.role == Role.CLINICIAN and user.facility_id == order.ordering_facility_id
    ):
        sides.add(Side.ORDERER)
    if (
        user.role in (Role.LABORATORY, Role.RADIOLOGIST)
        and order.performer_id is not None
        and user.facility_id == order.performer_id
    ):
        sides.add(Side.LABORATORY)
    if (
        user.role == Role.COORDINATOR
        and user.facility is not None
        and user.facility.region == order.ordering_facility.region
    ):
        sides.add(Side.COORDINATOR)
    return sides
