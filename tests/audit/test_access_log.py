"""A patient sees who looked at their record; an administrator browses the whole trail."""

from farcare.accounts.models import Role
from farcare.audit.models import AuditEvent

from ..conftest import logged_in, make_user
from ..factories import PatientFactory


def test_a_patient_sees_who_opened_their_record(chain, feldsher):
    owner = make_user(Role.PATIENT)
    patient = PatientFactory(home_facility=chain.post, user=owner)
    logged_in(feldsher).get(f"/patients/{patient.uuid}/")
    page = logged_in(owner).get(f"/patients/{patient.uuid}/access-log/")
    assert page.status_code == 200
    sentences = [line.sentence for line in page.context["entries"]]
    assert f"{feldsher} (Requesting clinician, {chain.post}) opened your record." in sentences
    assert str(chain.post) in page.content.decode()


def test_nobody_else_reads_a_patients_access_log(chain, feldsher):
    patient = PatientFactory(home_facility=chain.post)
    assert logged_in(feldsher).get(f"/patients/{patient.uuid}/access-log/").status_code == 403
    other = make_user(Role.PATIENT)
    assert logged_in(other).get(f"/patients/{patient.uuid}/access-log/").status_code == 403


def test_the_administrator_filters_the_trail_and_verifies_the_chain(chain, feldsher):
    patient = PatientFactory(home_facility=chain.post)
    logged_in(feldsher).get(f"/patients/{patient.uuid}/")
    admin = make_user(Role.ADMINISTRATOR, is_staff=True, is_superuser=True)
    client = logged_in(admin)
    page = client.get("/audit/", {"patient": str(patient.uuid)})
    events = list(page.context["page"])
    assert [event.actor_username for event in events] == [feldsher.username]
    assert patient.family not in page.content.decode()
    verified = client.post("/audit/verify/", follow=True)
    assert "intact" in verified.content.decode()
    assert logged_in(feldsher).get("/audit/").status_code == 403
    assert AuditEvent.objects.count() >= 1
