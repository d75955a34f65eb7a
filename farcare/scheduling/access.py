"""Who may do what with times and calls, on top of the one access policy
(`access.policy.consult_sides` decides the sides of a consultation):

- publish or remove a consultant's slots: the consultant for themselves, a coordinator for
  consultants of their region;
- book a call: the requesting side of an open real-time or consilium consultation;
- change a call: its requesting side and coordinators (`consult_sides`), and the consultant
  whose slot it is (even one not assigned yet: the slot is theirs).
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from farcare.access.policy import consult_sides
from farcare.accounts.models import Role, User
from farcare.consults.models import Consultation, ConsultMode
from farcare.consults.workflow import Side

from .models import Appointment

LIVE_MODES = (ConsultMode.REALTIME, ConsultMode.CONSILIUM)


def _active(user: User | None) -> bool:
    return user is not None and user.is_authenticated and user.is_active


def may_publish_for(user: User | None, consultant: User) -> bool:
    if not _active(user) or consultant.role != Role.CONSULTANT or not consultant.is_active:
        return False
    assert user is not None
    if user.pk == consultant.pk:
        return True
    return (
        user.role == Role.COORDINATOR
        and user.facility is not None
        and consultant.facility is not None
        and consultant.facility.region == user.facility.region
    )


def booking_refusal(user: User | None, consultation: Consultation) -> str:
    """Why the user may not book a call for the consultation, or ''."""
    if Side.REQUESTER not in consult_sides(user, consultation):
        return _("Only the requesting side books a call for a consultation.")
    if consultation.mode not in LIVE_MODES:
        return _("Calls are booked for real-time and consilium consultations only.")
    if not consultation.is_open:
        return _("This consultation is closed.")
    return ""


def appointment_sides(user: User | None, appointment: Appointment) -> set[Side]:
    if not _active(user):
        return set()
    assert user is not None
    sides = consult_sides(user, appointment.consultation) - {Side.SYSTEM}
    sides.discard(Side.CONSULTANT)  # the consultant of the call is the one whose slot it is
    if appointment.consultant_id == user.pk:
        sides.add(Side.CONSULTANT)
    return sides
