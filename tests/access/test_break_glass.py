"""Emergency access: a stated reason, a time limit, every step audited, a review afterwards."""

from datetime import timedelta

from django.utils import timezone

from farcare.access.models import BreakGlassGrant
from farcare.accounts.models import Role
from farcare.audit.models import AuditAction, AuditEvent

from ..conftest import logged_in, make_user
from ..factories import PatientFactory


def test_break_glass_opens_a_record_for_a_limited_time_and_is_reviewed(chain):
    patient = PatientFactory(home_facility=chain.other_region_post, family="Слепцов")
    doctor = make_user(Role.CLINICIAN, chain.district)
    client = logged_in(doctor)

    refused = client.get(f"/patients/{patient.uuid}/")
    assert refused.status_code == 403
    assert f"/access/break-glass/{patient.uuid}/" in refused.content.decode()

    too_short = client.post(f"/access/break-glass/{patient.uuid}/", {"reason": "need"})
    assert too_short.status_code == 200
    assert not BreakGlassGrant.objects.exists()

    opened = client.post(
        f"/access/break-glass/{patient.uuid}/",
        {"reason": "Unconscious at the airport, evacuated to our hospital"},
    )
    assert opened.status_code == 302
    page = client.get(f"/patients/{patient.uuid}/")
    assert page.status_code == 200
    assert "Слепцов" in page.content.decode()
    view = AuditEvent.objects.filter(action=AuditAction.VIEW, patient_uuid=patient.uuid).get()
    assert view.purpose == "break_glass"
    assert AuditEvent.objects.filter(action=AuditAction.BREAK_GLASS).count() == 1

    # time runs out
    BreakGlassGrant.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert client.get(f"/patients/{patient.uuid}/").status_code == 403

    # an administrator reviews it
    admin = make_user(Role.ADMINISTRATOR, is_staff=True, is_superuser=True)
    admin_client = logged_in(admin)
    queue = admin_client.get("/access/reviews/")
    assert "Unconscious at the airport" in queue.content.decode()
    grant = BreakGlassGrant.objects.get()
    admin_client.post(f"/access/reviews/{grant.uuid}/", {"note": "Justified: evacuation"})
    grant.refresh_from_db()
    assert grant.reviewed_by == admin
    assert grant.review_note == "Justified: evacuation"


def test_analysts_and_patients_cannot_break_the_glass(chain):
    patient = PatientFactory(home_facility=chain.post)
    for role in (Role.ANALYST, Role.PATIENT):
        user = make_user(role)
        client = logged_in(user)
        response = client.post(
            f"/access/break-glass/{patient.uuid}/", {"reason": "I would like to look please"}
        )
        assert response.status_code == 403
    assert not BreakGlassGrant.objects.exists()
