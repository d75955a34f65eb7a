"""Who stands on which side of a transfer, on top of the one access policy (issue 16).

- SENDER: a clinician of the sending facility, or of a facility above it in the referral chain
  (the district doctor who supervises the post);
- RECEIVER: a clinician of the receiving hospital;
- COORDINATOR: a coordinator of the origin's region or of the destination's region.

A user abroad stands on no side: the transfer carries the patient's identity (152-FZ).
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from farcare.access.policy import is_abroad, visible_patients
from farcare.accounts.models import Role, User
from farcare.network.models import Facility
from farcare.network.selectors import facilities_above, facilities_served_by
from farcare.patients.models import Patient

from .models import Transfer
from .workflow import Side


def _active(user: User | None) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active)


def _facility(user: User) -> Facility | None:
    return user.facility if user.facility_id else None


def transfer_sides(user: User | None, transfer: Transfer) -> set[Side]:
    """The sides of the transfer the user stands on; empty when it is none of theirs."""
    if not _active(user):
        return set()
    assert user is not None
    if is_abroad(user):
        return set()
    facility = _facility(user)
    sides: set[Side] = set()
    if user.role == Role.SYSTEM:
        return {Side.SYSTEM}
    if facility is None:
        return sides
    if user.role == Role.CLINICIAN:
        if facility.pk in facilities_above(transfer.origin_id):
            sides.add(Side.SENDER)
        if transfer.destination_id is not None and facility.pk == transfer.destination_id:
            sides.add(Side.RECEIVER)
    elif user.role == Role.COORDINATOR:
        regions = {transfer.origin.region}
        if transfer.destination_id is not None:
            assert transfer.destination is not None
            regions.add(transfer.destination.region)
        if facility.region in regions:
            sides.add(Side.COORDINATOR)
    return sides


def visible_transfers(user: User | None) -> QuerySet[Transfer]:
    """Transfers the user stands on a side of, of patients the policy lets them reach."""
    if not _active(user):
        return Transfer.objects.none()
    assert user is not None
    if is_abroad(user):
        return Transfer.objects.none()
    facility = _facility(user)
    if user.role == Role.SYSTEM:
        found = Transfer.objects.all()
    elif facility is None:
        return Transfer.objects.none()
    elif user.role == Role.CLINICIAN:
        found = Transfer.objects.filter(
            Q(origin_id__in=facilities_served_by(facility.pk)) | Q(destination_id=facility.pk)
        )
    elif user.role == Role.COORDINATOR:
        found = Transfer.objects.filter(
            Q(origin__region=facility.region) | Q(destination__region=facility.region)
        )
    else:
        return Transfer.objects.none()
    return found.filter(patient__in=visible_patients(user).values("pk"))


def may_dispatch(user: User | None) -> bool:
    """Coordinators run the dispatch board (assign aircraft, change their status)."""
    return (
        _active(user)
        and user is not None
        and user.role == Role.COORDINATOR
        and user.facility_id is not None
        and not is_abroad(user)
    )


def may_dispatch_in(user: User | None, region: str) -> bool:
    """A coordinator dispatches the bases and aircraft of their own region."""
    return (
        may_dispatch(user)
        and user is not None
        and _facility(user) is not None
        and (
            user.facility.region == region  # type: ignore[union-attr]
        )
    )


def may_open_transfer(user: User | None, patient: Patient) -> bool:
    """A clinician of the patient's care chain, or a coordinator of the patient's region, may
    ask for a transfer (the sending side or dispatch)."""
    if not _active(user):
        return False
    assert user is not None
    if is_abroad(user) or user.role not in (Role.CLINICIAN, Role.COORDINATOR):
        return False
    return visible_patients(user).filter(pk=patient.pk).exists()


def may_open_from(user: User | None, origin: Facility) -> bool:
    """The origin must be the user's facility or below it (clinician), or in their region
    (coordinator)."""
    if not _active(user):
        return False
    assert user is not None
    facility = _facility(user)
    if facility is None or is_abroad(user):
        return False
    if user.role == Role.CLINICIAN:
        return facility.pk in facilities_above(origin.pk)
    if user.role == Role.COORDINATOR:
        return origin.region == facility.region
    return False
