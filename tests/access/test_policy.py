"""One policy decides who sees a patient: the home facility and the chain above it, the region's
coordinator, the patient themself; never an analyst."""

import pytest

from farcare.access.policy import Action, decide, visible_patients
from farcare.accounts.models import Role
from farcare.audit.models import AuditAction, AuditEvent

from ..conftest import logged_in, make_user
from ..factories import PatientFactory


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
