"""Consents are recorded with who, when and scope, and can be revoked, by staff or the patient."""

from farcare.accounts.models import Role
from farcare.audit.models import AuditAction, AuditEvent
from farcare.patients.models import Consent

from ..conftest import logged_in, make_user
from ..factories import ConsentFactory, PatientFactory


def test_a_feldsher_records_a_consent_to_transfer_data_abroad(chain, feldsher):
    patient = PatientFactory(home_facility=chain.post)
    client = logged_in(feldsher)
    response = client.post(
        f"/patients/{patient.uuid}/consents/",
        {"kind": "transfer_abroad", "scope": "Pseudonymised case to partner hospitals in Korea"},
    )
    assert response.status_code == 302
    consent = Consent.objects.get()
    assert (consent.kind, consent.recorded_by, consent.is_active) == (
        "transfer_abroad",
        feldsher,
        True,
    )
    page = client.get(f"/patients/{patient.uuid}/").content.decode()
    assert "Pseudonymised case to partner hospitals in Korea" in page
    assert AuditEvent.objects.filter(
        action=AuditAction.CREATE, patient_uuid=patient.uuid, record_type="Consent"
    ).exists()


def test_a_consent_without_scope_is_refused_and_nothing_is_saved(chain, feldsher):
    patient = PatientFactory(home_facility=chain.post)
    response = logged_in(feldsher).post(
        f"/patients/{patient.uuid}/consents/", {"kind": "treatment", "scope": ""}, follow=True
    )
    assert not Consent.objects.exists()
    assert "required" in response.content.decode()


def test_the_patient_revokes_their_own_consent_and_it_stays_on_record(chain):
    owner = make_user(Role.PATIENT)
    patient = PatientFactory(home_facility=chain.post, user=owner)
    consent = ConsentFactory(patient=patient)
    client = logged_in(owner)
    client.post(f"/patients/consents/{consent.uuid}/revoke/", {"reason": "I changed my mind"})
    consent.refresh_from_db()
    assert consent.revoked_by == owner
    assert consent.revocation_reason == "I changed my mind"
    page = client.get(f"/patients/{patient.uuid}/").content.decode()
    assert "revoked" in page
    assert "I changed my mind" in page
    # revoking twice is explained, not an error page
    again = client.post(f"/patients/consents/{consent.uuid}/revoke/", {}, follow=True)
    assert again.status_code == 200
    assert "already revoked" in again.content.decode()


def test_nobody_outside_the_record_revokes_a_consent(chain):
    consent = ConsentFactory(patient=PatientFactory(home_facility=chain.post))
    stranger = make_user(Role.CLINICIAN, chain.other_region_post)
    response = logged_in(stranger).post(f"/patients/consents/{consent.uuid}/revoke/", {})
    assert response.status_code == 403
    consent.refresh_from_db()
    assert consent.is_active
    assert AuditEvent.objects.filter(action=AuditAction.DENIED).exists()
