"""The one access policy for patient data. Pages, the JSON API and FHIR all ask it; nothing else
decides who may read or change a patient's record.

The rules (issue 2, domain.md §3):
- requesting clinicians: patients whose home facility is theirs or below theirs in the referral
  chain (staff of the home facility and of the facilities above it);
- consultants: only patients of consultations assigned to them;
- clinicians of a receiving hospital: also patients transferred to it (issue 16), from the
  request until they are handed over and after, unless it was called off before departure;
- the feldsher and doctor named responsible for a patient's active monitoring enrolment: that
  patient (issue 17);
- coordinators: patients of their region;
- patients: their own record;
- laboratory staff: patients of diagnostic orders routed to their facility and of the reports
  it made on such an order (never of a result it sent unasked); radiologists: patients of
  imaging studies read at their facility; both may view, not change, the record (issue 13);
- analysts, trainers and administrators: never a patient, only aggregates;
- system clients of the FHIR API (their service accounts): the patients of their facility's
  region, like a coordinator; without a facility, every patient of the deployment (a national or
  regional information system);
- anyone clinical may break the glass for one patient: a reason, a time limit, a review (never a
  system client);
- nobody at a facility outside `FARCARE_HOME_COUNTRY` reaches a patient's identity, whatever their
  role or grants (152-FZ art. 18 part 5, domain.md §3): they see pseudonymised cases only, and
  cannot break the glass. Checked first in `decide()` and `visible_patients()`, so that an old
  grant (made before the user's facility changed) or any other path gives nothing either.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from django.conf import settings
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from farcare.accounts.models import CLINICAL_ROLES, Role, User
from farcare.audit.models import Purpose
from farcare.consults.models import Assignment, Consultation, Status
from farcare.consults.workflow import Side
from farcare.diagnostics.models import DiagnosticOrder, DiagnosticReport
from farcare.evacuation.models import Transfer, TransferStatus
from farcare.imaging.models import ImagingStudy
from farcare.monitoring.models import Enrolment, EnrolmentStatus
from farcare.network.models import Facility, PractitionerRole, PractitionerRoleKind
from farcare.network.selectors import facilities_above, facilities_served_by
from farcare.patients.models import Consent, ConsentKind, Patient

from .models import BreakGlassGrant


class Action(StrEnum):
    VIEW = "view"
    UPDATE = "update"
    MANAGE_CONSENT = "manage_consent"
    REVOKE_CONSENT = "revoke_consent"
    VIEW_ACCESS_LOG = "view_access_log"
    # A home reading added to the record (issue 17): by the staff who may change the record,
    # and by the person themselves, who may change nothing else of it.
    RECORD_READING = "record_reading"


# What each kind of access lets a user do to a record they may reach.
STAFF_ACTIONS = frozenset(
    {
        Action.VIEW,
        Action.UPDATE,
        Action.MANAGE_CONSENT,
        Action.REVOKE_CONSENT,
        Action.RECORD_READING,
    }
)
CONSULTANT_ACTIONS = frozenset({Action.VIEW})
OWN_RECORD_ACTIONS = frozenset(
    {Action.VIEW, Action.VIEW_ACCESS_LOG, Action.REVOKE_CONSENT, Action.RECORD_READING}
)
SYSTEM_ACTIONS = STAFF_ACTIONS
BREAK_GLASS_ROLES = CLINICAL_ROLES


@dataclass(frozen=True)
class Decision:
    allowed: bool
    purpose: str = Purpose.NORMAL
    reason: str = ""

    def __bool__(self) -> bool:
        return self.allowed


def _active(user: User | None) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active)


def is_abroad(user: User) -> bool:
    """A consultant outside Russia sees only pseudonymised cases (152-FZ, domain.md §3)."""
    facility = user.facility
    return facility is not None and facility.country != settings.FARCARE_HOME_COUNTRY


def _facility_of(user: User) -> Facility | None:
    """The user's facility, or None: one typed place to ask, so that the rules below read
    `facility.region` with the checker's agreement instead of silencing it."""
    return user.facility if user.facility_id else None


def _consultant_patients(user: User) -> QuerySet[Patient]:
    # Only while a consultation about the patient is assigned to them, and never from abroad:
    # there the case is shown pseudonymised and the record stays closed.
    if is_abroad(user):
        return Patient.objects.none()
    # A subquery, not a join: no duplicate rows, so no DISTINCT over the patients table.
    assigned = Assignment.objects.filter(consultant=user, ended_at__isnull=True).values(
        "consultation__patient_id"
    )
    return Patient.objects.filter(pk__in=assigned)


def _performed_at(facility: Facility) -> QuerySet[Patient]:
    # Orders routed to the laboratory and the reports it made on an order, never a report it
    # sent unsolicited: a result with someone's SNILS must not open their record to the sender.
    # Subqueries, not joins: no duplicate rows, so no DISTINCT over the patients table.
    ordered = DiagnosticOrder.objects.filter(performer_id=facility.pk).values("patient_id")
    reported = DiagnosticReport.objects.filter(
        performer_id=facility.pk, order__isnull=False
    ).values("patient_id")
    return Patient.objects.filter(Q(pk__in=ordered) | Q(pk__in=reported))


def _read_at(facility: Facility) -> QuerySet[Patient]:
    studies = ImagingStudy.objects.filter(reading_facility_id=facility.pk).values("patient_id")
    return Patient.objects.filter(pk__in=studies)


# A receiving hospital reaches a patient from the moment a transfer to it is requested (to decide
# on the bed and read the handover before arrival) and keeps the record it now treats; a transfer
# that ended before the patient left (cancelled, treated locally, died at the post) opens nothing.
_RECEIVING_CLOSED = (TransferStatus.CANCELLED, TransferStatus.TREATED_LOCALLY)


def _received_at(facility: Facility) -> QuerySet[Patient]:
    incoming = (
        Transfer.objects.filter(destination_id=facility.pk)
        .exclude(status__in=_RECEIVING_CLOSED)
        .exclude(status=TransferStatus.DIED, departed_at__isnull=True)
        .values("patient_id")
    )
    return Patient.objects.filter(pk__in=incoming)


def _monitored_by(user: User) -> QuerySet[Patient]:
    """Patients whose active monitoring enrolment names the user as the responsible feldsher
    or doctor (issue 17): named, they must see the readings and alerts they answer for even
    when they work outside the patient's referral chain (a regional hub's cardiologist)."""
    enrolled = Enrolment.objects.filter(status=EnrolmentStatus.ACTIVE).filter(
        Q(responsible_feldsher_id=user.pk) | Q(responsible_doctor_id=user.pk)
    )
    return Patient.objects.filter(pk__in=enrolled.values("patient_id"))


def _normal_scope(user: User) -> QuerySet[Patient] | None:
    """Patients the user reaches without breaking the glass, or None for none at all."""
    facility = _facility_of(user)
    if user.role == Role.PATIENT:
        return Patient.objects.filter(user=user)
    if user.role == Role.CLINICIAN and facility:
        return Patient.objects.filter(
            Q(home_facility_id__in=facilities_served_by(facility.pk))
            | Q(pk__in=_received_at(facility).values("pk"))
            | Q(pk__in=_monitored_by(user).values("pk"))
        )
    if user.role == Role.COORDINATOR and facility:
        return Patient.objects.filter(home_facility__region=facility.region)
    if user.role == Role.CONSULTANT:
        return _consultant_patients(user)
    if user.role == Role.LABORATORY and facility:
        return _performed_at(facility)
    if user.role == Role.RADIOLOGIST and facility:
        return _read_at(facility)
    if user.role == Role.SYSTEM:
        if facility:
            return Patient.objects.filter(home_facility__region=facility.region)
        return Patient.objects.all()
    return None


def _normal_actions(user: User) -> frozenset[Action]:
    if user.role == Role.PATIENT:
        return OWN_RECORD_ACTIONS
    if user.role in (Role.CONSULTANT, Role.LABORATORY, Role.RADIOLOGIST):
        return CONSULTANT_ACTIONS
    if user.role in (Role.CLINICIAN, Role.COORDINATOR):
        return STAFF_ACTIONS
    if user.role == Role.SYSTEM:
        return SYSTEM_ACTIONS
    return frozenset()


def _in_normal_scope(user: User, patient: Patient) -> bool:
    """`_normal_scope` asked of one patient without a query over the patients table; the two
    must agree (tests/access/test_policy.py checks them against each other for every role)."""
    facility = _facility_of(user)
    if user.role == Role.PATIENT:
        return patient.user_id == user.pk
    if user.role == Role.CLINICIAN and facility:
        return (
            facility.pk in facilities_above(patient.home_facility_id)
            or _received_at(facility).filter(pk=patient.pk).exists()
            or _monitored_by(user).filter(pk=patient.pk).exists()
        )
    if user.role == Role.COORDINATOR and facility:
        return patient.home_facility.region == facility.region
    if user.role == Role.CONSULTANT:
        return _consultant_patients(user).filter(pk=patient.pk).exists()
    if user.role == Role.LABORATORY and facility:
        return _performed_at(facility).filter(pk=patient.pk).exists()
    if user.role == Role.RADIOLOGIST and facility:
        return _read_at(facility).filter(pk=patient.pk).exists()
    if user.role == Role.SYSTEM:
        if facility:
            return patient.home_facility.region == facility.region
        return True
    return False


def active_break_glass(user: User, patient: Patient) -> BreakGlassGrant | None:
    return (
        BreakGlassGrant.objects.filter(user=user, patient=patient, expires_at__gt=timezone.now())
        .order_by("-expires_at")
        .first()
    )


def abroad_refusal() -> str:
    return str(
        _(
            "You work at a facility outside Russia: a Russian patient's identity stays in "
            "Russia (152-FZ). You see the cases sent to you pseudonymised, and emergency access "
            "is not available abroad."
        )
    )


def decide(user: User | None, action: Action, patient: Patient) -> Decision:
    if not _active(user):
        return Decision(False, reason=str(_("You are not logged in.")))
    assert user is not None
    if is_abroad(user):
        # Before any scope or grant: nothing opens an identity abroad (defence in depth).
        return Decision(False, reason=abroad_refusal())
    if action in _normal_actions(user) and _in_normal_scope(user, patient):
        return Decision(True)
    if (
        action in STAFF_ACTIONS
        and user.role in BREAK_GLASS_ROLES
        and active_break_glass(user, patient)
    ):
        return Decision(True, purpose=Purpose.BREAK_GLASS)
    return Decision(False, reason=str(_("This record is outside your access.")))


def may_break_glass(user: User | None) -> bool:
    return (
        _active(user)
        and user is not None
        and user.role in BREAK_GLASS_ROLES
        and not is_abroad(user)
    )


def visible_patients(user: User | None, *, now: datetime | None = None) -> QuerySet[Patient]:
    """Every patient the user may find: the normal scope plus break-glass grants live at `now`
    (this moment unless given: the FHIR lean path compiles the query once with a stand-in)."""
    if not _active(user):
        return Patient.objects.none()
    assert user is not None
    if is_abroad(user):
        return Patient.objects.none()
    scope = _normal_scope(user)
    # The scope's own conditions on the patients table (no IN over a copy of it, no DISTINCT),
    # so that indexes serve a search and a count stays cheap at 100,000 patients.
    patients = scope if scope is not None else Patient.objects.none()
    if user.role in BREAK_GLASS_ROLES:
        grants = BreakGlassGrant.objects.filter(
            user=user, expires_at__gt=now or timezone.now()
        ).values("patient_id")
        patients = patients | Patient.objects.filter(pk__in=grants)
    return patients


def facilities_for_registration(user: User | None) -> QuerySet[Facility]:
    """Where the user may register a patient as the home facility."""
    if not _active(user):
        return Facility.objects.none()
    assert user is not None
    if is_abroad(user):
        # Registering a patient is entering an identity: it stays in Russia.
        return Facility.objects.none()
    facility = _facility_of(user)
    if user.role == Role.CLINICIAN and facility:
        return Facility.objects.filter(pk__in=facilities_served_by(facility.pk))
    if user.role == Role.COORDINATOR and facility:
        return Facility.objects.filter(region=facility.region)
    if user.role == Role.SYSTEM:
        if facility:
            return Facility.objects.filter(region=facility.region)
        return Facility.objects.all()
    return Facility.objects.none()


def may_register_at(user: User | None, facility: Facility) -> bool:
    """`facilities_for_registration` asked of one facility without a query (a registration's
    facility is loaded with its region); the two must agree (tests/access/test_policy.py checks
    them against each other for every role)."""
    if not _active(user):
        return False
    assert user is not None
    if is_abroad(user):
        return False
    own = _facility_of(user)
    if user.role == Role.CLINICIAN and own:
        return facility.pk in facilities_served_by(own.pk)
    if user.role == Role.COORDINATOR and own:
        return facility.region == own.region
    if user.role == Role.SYSTEM:
        return facility.region == own.region if own else True
    return False


def may_register_patients(user: User | None) -> bool:
    return facilities_for_registration(user).exists()


def may_read_audit_trail(user: User | None) -> bool:
    return (
        _active(user)
        and user is not None
        and (user.role == Role.ADMINISTRATOR or user.is_superuser)
    )


class AnalyticsScope(StrEnum):
    """What the analytics pages (issue 18) may show a user: every aggregate, or only those of
    cross-border consultations (the partner abroad's view). Never a patient either way."""

    ALL = "all"
    CROSS_BORDER = "cross_border"


ANALYTICS_ROLES = (Role.ANALYST, Role.ADMINISTRATOR, Role.COORDINATOR)


def analytics_scope(user: User | None) -> AnalyticsScope | None:
    """Analysts, administrators and coordinators see the ministries' figures; at a facility
    abroad they see the cross-border consultations' aggregates only (the Korean partner's view:
    what the partner took part in, not Russia's domestic care). Everyone else: None."""
    if not _active(user) or user is None or user.role not in ANALYTICS_ROLES:
        return None
    return AnalyticsScope.CROSS_BORDER if is_abroad(user) else AnalyticsScope.ALL


def may_see_aggregates(user: User | None) -> bool:
    return (
        _active(user)
        and user is not None
        and user.role
        in (
            Role.ANALYST,
            Role.ADMINISTRATOR,
            Role.COORDINATOR,
        )
    )


# --- Consultations -------------------------------------------------------------------------


def consult_sides(user: User | None, consultation: Consultation) -> set[Side]:
    """The sides of a consultation the user stands on; empty when it is none of theirs."""
    if not _active(user):
        return set()
    assert user is not None
    sides: set[Side] = set()
    requesting = consultation.requesting_facility
    if user.role == Role.CLINICIAN and (
        consultation.requester_id == user.pk or user.facility_id == requesting.pk
    ):
        sides.add(Side.REQUESTER)
    if user.role == Role.CONSULTANT:
        assigned = consultation.assignments.filter(consultant=user, ended_at__isnull=True)
        claimable = (
            consultation.status == Status.REQUESTED
            and user.facility_id == consultation.routed_facility_id
            and _consults_in(user, consultation.specialty_id)
        )
        if assigned.exists() or claimable:
            sides.add(Side.CONSULTANT)
    if (
        user.role == Role.COORDINATOR
        and user.facility is not None
        and user.facility.region == requesting.region
    ):
        sides.add(Side.COORDINATOR)
    return sides


def visible_consultations(user: User | None) -> QuerySet[Consultation]:
    """The consultations whose case the user may open (a side of it, `consult_sides`), as one
    query for a list that cannot ask case by case (the inbox); the two must agree
    (tests/access/test_visible_consultations.py)."""
    if not _active(user):
        return Consultation.objects.none()
    assert user is not None
    facility = _facility_of(user)
    if user.role == Role.CLINICIAN:
        mine = Q(requester=user)
        if facility is not None:
            mine |= Q(requesting_facility_id=facility.pk)
        return Consultation.objects.filter(mine)
    if user.role == Role.CONSULTANT:
        assigned = Assignment.objects.filter(
            consultation=OuterRef("pk"), consultant=user, ended_at__isnull=True
        )
        if facility is None:
            return Consultation.objects.filter(Exists(assigned))
        specialties = PractitionerRole.objects.filter(
            practitioner__user=user, facility_id=facility.pk, kind=PractitionerRoleKind.CONSULTANT
        ).values("practitioner__specialties")
        claimable = Q(
            status=Status.REQUESTED, routed_facility_id=facility.pk, specialty__in=specialties
        )
        return Consultation.objects.filter(Exists(assigned) | claimable)
    if user.role == Role.COORDINATOR and facility is not None:
        return Consultation.objects.filter(requesting_facility__region=facility.region)
    return Consultation.objects.none()


def _consults_in(user: User, specialty_id: int) -> bool:
    if user.facility_id is None:
        return False
    return PractitionerRole.objects.filter(
        practitioner__user=user,
        facility_id=user.facility_id,
        kind=PractitionerRoleKind.CONSULTANT,
        practitioner__specialties=specialty_id,
    ).exists()


@dataclass(frozen=True)
class ConsultView:
    allowed: bool
    pseudonymised: bool = False
    sides: frozenset[Side] = frozenset()


def decide_consult(user: User | None, consultation: Consultation) -> ConsultView:
    """May the user open the case, and must its patient be pseudonymised for them?"""
    sides = consult_sides(user, consultation)
    if not sides:
        return ConsultView(False)
    assert user is not None
    return ConsultView(True, pseudonymised=is_abroad(user), sides=frozenset(sides))


def station_patients(facility: Facility) -> QuerySet[Patient]:
    """The patients an enrolled station at `facility` holds and may sync: those of the facility
    and of the posts it serves — the normal scope of a clinician working there. A station abroad
    holds nobody (enrolment needs a clinician, who reaches no patient from abroad either)."""
    if facility.country != settings.FARCARE_HOME_COUNTRY:
        return Patient.objects.none()
    return Patient.objects.filter(home_facility_id__in=facilities_served_by(facility.pk))


# --- Teaching cases (issue 15) --------------------------------------------------------------
# A teaching case is made from a closed consultation and shows it de-identified only: nobody
# sees the identity through this path, but reading a consultation to extract it (or to preview
# it in the trainer's list) is a use of the patient's data, so it is decided here and audited,
# linked to each patient shown (farcare.casebook.services).

TEACHING_READERS = frozenset({*CLINICAL_ROLES, Role.TRAINER, Role.RADIOLOGIST})


def teaching_refused(patient: Patient) -> bool:
    """The patient refused teaching use (an active refusal): none of their consultations is
    ever shown as a teaching case."""
    return patient.consents.filter(
        kind=ConsentKind.TEACHING_REFUSED, revoked_at__isnull=True
    ).exists()


def teaching_sources(user: User | None) -> QuerySet[Consultation]:
    """The closed consultations the user may make a teaching case of: a trainer any completed
    one (from abroad, only those of patients who agreed to the transfer abroad); a requesting
    clinician those they requested (to present their own case). Patients who refused teaching
    use are left out."""
    if not _active(user):
        return Consultation.objects.none()
    assert user is not None
    refused = Consent.objects.filter(
        patient=OuterRef("patient"), kind=ConsentKind.TEACHING_REFUSED, revoked_at__isnull=True
    )
    closed = Consultation.objects.filter(status=Status.COMPLETED).exclude(Exists(refused))
    if user.role == Role.TRAINER:
        if is_abroad(user):
            return closed.filter(transfer_abroad_agreed("patient"))
        return closed
    if user.role == Role.CLINICIAN and not is_abroad(user):
        return closed.filter(requester=user)
    return Consultation.objects.none()


def decide_teaching_extract(user: User | None, consultation: Consultation) -> Decision:
    """May the user make (or preview) a teaching case of this consultation?"""
    if not _active(user):
        return Decision(False, reason=str(_("You are not logged in.")))
    assert user is not None
    if consultation.status != Status.COMPLETED:
        return Decision(False, reason=str(_("Only a closed consultation can become a case.")))
    if teaching_refused(consultation.patient):
        return Decision(
            False, reason=str(_("The patient refused the use of their case in teaching."))
        )
    if not teaching_sources(user).filter(pk=consultation.pk).exists():
        return Decision(
            False, reason=str(_("You may not make a teaching case of this consultation."))
        )
    return Decision(True)


def may_review_teaching_cases(user: User | None) -> bool:
    return _active(user) and user is not None and user.role == Role.TRAINER


def may_read_teaching_cases(user: User | None) -> bool:
    """Published cases hold no patient data: trainers and every clinical role may read them."""
    return _active(user) and user is not None and user.role in TEACHING_READERS


def transfer_abroad_agreed(patient_path: str) -> Exists:
    """The patient at `patient_path` (of the outer query) agreed to the transfer of their
    pseudonymised data abroad, and has not revoked it."""
    return Exists(
        Consent.objects.filter(
            patient=OuterRef(patient_path),
            kind=ConsentKind.TRANSFER_ABROAD,
            revoked_at__isnull=True,
        )
    )


def teaching_abroad_allowed(user: User, patient: Patient) -> bool:
    """A teaching case is de-identified by heuristics, so whatever is derived from a patient's
    record reaches someone abroad (a trainer, a consultant) only with the patient's consent to
    the transfer abroad, as the pseudonymised case itself does (152-FZ art. 12)."""
    if not is_abroad(user):
        return True
    return patient.consents.filter(
        kind=ConsentKind.TRANSFER_ABROAD, revoked_at__isnull=True
    ).exists()
