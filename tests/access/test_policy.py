"""One policy decides who sees a patient: the home facility and the chain above it, the region's
coordinator, the patient themself; never an analyst."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from farcare.access.models import BreakGlassGrant
from farcare.access.policy import (
    Action,
    decide,
    facilities_for_registration,
    may_register_at,
    may_register_patients,
    visible_patients,
)
from farcare.accounts.models import Role
from farcare.audit.models import AuditAction, AuditEvent
from farcare.consults.models import Assignment, Consultation
from farcare.network.models import FacilityKind

from ..conftest import logged_in, make_user
from ..factories import FacilityFactory, PatientFactory, SpecialtyFactory


@pytest.fixture
def patient(chain):
    return PatientFactory(home_facility=chain.post)


@pytest.mark.parametrize(
    ("role", "where", "allowed"),
    [
        (Role.CLINICIAN, "post", True),
        (Role.CLINICIAN, "district", True),
        (Role.CLINICIAN, "hub", True),
        (Role.CLINICIAN, "federal", True),
        (Role.CLINICIAN, "sibling_post", False),
        (Role.CLINICIAN, "other_region_post", False),
        (Role.CLINICIAN, "other_region_hub", False),
        (Role.COORDINATOR, "hub", True),
        (Role.COORDINATOR, "other_region_hub", False),
        (Role.CONSULTANT, "hub", False),
        (Role.TRAINER, "hub", False),
        (Role.ANALYST, None, False),
        (Role.ADMINISTRATOR, None, False),
    ],
)
def test_who_may_view_a_patient_of_the_uelen_post(chain, patient, role, where, allowed):
    user = make_user(role, getattr(chain, where) if where else None)
    assert bool(decide(user, Action.VIEW, patient)) is allowed
    assert (patient in visible_patients(user)) is allowed


def test_a_patient_sees_only_their_own_record(chain, patient):
    own = make_user(Role.PATIENT)
    patient.user = own
    patient.save()
    other = PatientFactory(home_facility=chain.post)
    assert decide(own, Action.VIEW, patient)
    assert decide(own, Action.VIEW_ACCESS_LOG, patient)
    assert not decide(own, Action.UPDATE, patient)
    assert not decide(own, Action.VIEW, other)
    assert list(visible_patients(own)) == [patient]


def test_a_refused_record_is_a_403_and_is_audited(chain, patient):
    stranger = make_user(Role.CLINICIAN, chain.other_region_post)
    response = logged_in(stranger).get(f"/patients/{patient.uuid}/")
    assert response.status_code == 403
    assert patient.family not in response.content.decode()
    event = AuditEvent.objects.get(action=AuditAction.DENIED)
    assert event.patient_uuid == patient.uuid
    assert event.actor_username == stranger.username
    assert event.outcome == "denied"


def test_an_analyst_is_refused_every_patient_page(chain, patient):
    analyst = make_user(Role.ANALYST)
    client = logged_in(analyst)
    assert client.get(f"/patients/{patient.uuid}/").status_code == 403
    assert client.get("/patients/", {"q": patient.family}).context["results"] == []
    home = client.get("/")
    assert home.status_code == 200
    assert patient.family not in home.content.decode()


def test_unknown_patient_is_a_404_not_a_500(chain, feldsher):
    assert (
        logged_in(feldsher).get("/patients/00000000-0000-0000-0000-000000000000/").status_code
        == 404
    )


def test_viewing_a_record_writes_who_what_when_where(chain, patient, feldsher):
    client = logged_in(feldsher)
    client.get(f"/patients/{patient.uuid}/", REMOTE_ADDR="10.1.2.3")
    event = AuditEvent.objects.get(action=AuditAction.VIEW)
    assert (event.actor_uuid, event.patient_uuid, event.ip_address, event.purpose) == (
        feldsher.uuid,
        patient.uuid,
        "10.1.2.3",
        "normal",
    )
    assert event.record_type == "Patient"
    assert event.record_id == str(patient.uuid)


# The list of patients a user may find (`visible_patients`, one query) and the decision on one
# record (`decide`) are written separately for speed; here they are held to each other for every
# role, at every facility of the chain, with a break-glass grant and an assignment in play.
SCOPE_CASES = [
    (Role.CLINICIAN, "post"),
    (Role.CLINICIAN, "district"),
    (Role.CLINICIAN, "hub"),
    (Role.CLINICIAN, "federal"),
    (Role.CLINICIAN, "sibling_post"),
    (Role.CLINICIAN, "other_region_hub"),
    (Role.CLINICIAN, "abroad"),
    (Role.COORDINATOR, "hub"),
    (Role.COORDINATOR, "other_region_hub"),
    (Role.COORDINATOR, "abroad"),
    (Role.CONSULTANT, "hub"),
    (Role.CONSULTANT, "abroad"),
    (Role.PATIENT, None),
    (Role.SYSTEM, "hub"),
    (Role.SYSTEM, None),
    (Role.TRAINER, "hub"),
    (Role.ANALYST, None),
    (Role.ADMINISTRATOR, None),
]


@pytest.mark.parametrize(("role", "where"), SCOPE_CASES)
@pytest.mark.parametrize("with_grant", [False, True], ids=["normal", "break-glass"])
def test_the_list_and_the_single_record_agree_for_every_role(chain, role, where, with_grant):
    abroad = FacilityFactory(region="Korea", country="KR", time_zone="Asia/Seoul")
    facility = abroad if where == "abroad" else getattr(chain, where) if where else None
    user = make_user(role, facility)
    patients = [
        PatientFactory(home_facility=home)
        for home in (
            chain.post,
            chain.sibling_post,
            chain.district,
            chain.hub,
            chain.other_region_post,
            chain.other_region_post,
        )
    ]
    if role == Role.PATIENT:
        patients[0].user = user
        patients[0].save()
    # A consultation about the second patient, assigned to this user whatever their role.
    consultation = Consultation.objects.create(
        patient=patients[1],
        requester=make_user(Role.CLINICIAN, chain.sibling_post),
        requesting_facility=chain.sibling_post,
        specialty=SpecialtyFactory(),
        form="urgent",
        client_token=uuid.uuid4(),
    )
    Assignment.objects.create(
        consultation=consultation, consultant=user, facility=chain.hub, role="primary"
    )
    if with_grant:
        BreakGlassGrant.objects.create(
            user=user,
            patient=patients[4],
            reason="Unconscious at the airstrip",
            expires_at=timezone.now() + timedelta(minutes=30),
        )
    listed = set(visible_patients(user).values_list("pk", flat=True))
    for patient in patients:
        single = bool(decide(user, Action.VIEW, patient))
        assert single is (patient.pk in listed), (role, where, patient.home_facility)


@pytest.mark.parametrize(
    ("role", "where"),
    [
        (Role.CLINICIAN, "post"),
        (Role.CLINICIAN, "district"),
        (Role.CLINICIAN, "hub"),
        (Role.COORDINATOR, "hub"),
        (Role.COORDINATOR, None),
        (Role.SYSTEM, "hub"),
        (Role.SYSTEM, None),
        (Role.CONSULTANT, "federal"),
        (Role.PATIENT, None),
        (Role.ANALYST, None),
    ],
)
def test_where_one_may_register_agrees_with_the_list_of_facilities(chain, role, where):
    """The registration's check without a query says what the list of facilities says."""
    user = make_user(role, getattr(chain, where) if where else None)
    abroad = make_user(
        role, FacilityFactory(kind=FacilityKind.PARTNER_ABROAD, region="Korea", country="KR")
    )
    retired = make_user(role, getattr(chain, where) if where else None)
    retired.is_active = False
    everywhere = [getattr(chain, name) for name in chain.__dataclass_fields__]
    for who in (user, abroad, retired):
        listed = set(facilities_for_registration(who))
        for facility in everywhere:
            assert may_register_at(who, facility) is (facility in listed), (who, facility)
    assert any(may_register_at(user, f) for f in everywhere) is may_register_patients(user)
