"""A feldsher registers patients; bad input is explained in their language and nothing is lost."""

from datetime import date, timedelta

import pytest
from django.utils import timezone

from farcare.accounts.models import Role
from farcare.audit.models import AuditAction, AuditEvent
from farcare.patients.models import Patient

from ..conftest import logged_in, make_user
from ..factories import PatientFactory, valid_snils


def form_data(chain, **overrides):
    data = {
        "family": "Тынетегин",
        "given": "Семён",
        "middle": "Петрович",
        "sex": "male",
        "birth_date": "1961-03-14",
        "home_settlement": str(chain.post.settlement.uuid),
        "home_facility": str(chain.post.uuid),
        "snils": "112-233-445 95",
        "oms_policy": "1234567890123456",
        "phone": "+7 914 123-45-67",
    }
    data.update(overrides)
    return data


def test_feldsher_registers_a_patient_and_the_creation_is_audited(chain, feldsher):
    client = logged_in(feldsher)
    response = client.post("/patients/register/", form_data(chain))
    patient = Patient.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/patients/{patient.uuid}/"
    assert patient.snils == "11223344595"
    assert patient.home_facility == chain.post
    assert patient.registered_by == feldsher
    event = AuditEvent.objects.get(action=AuditAction.CREATE)
    assert event.patient_uuid == patient.uuid
    assert event.actor_username == feldsher.username
    page = client.get(response["Location"])
    assert "112-233-445 95" in page.content.decode()


@pytest.mark.parametrize(
    ("field", "value", "message_ru"),
    [
        ("snils", "112-233-445 96", "СНИЛС"),
        ("oms_policy", "12345", "16"),
        ("birth_date", (timezone.now().date() + timedelta(days=3)).isoformat(), "будущ"),
        ("phone", "call me", "телефон"),
    ],
)
def test_bad_input_is_explained_in_russian_and_the_typed_values_are_kept(
    chain, feldsher, field, value, message_ru
):
    feldsher.language = "ru"
    feldsher.save()
    client = logged_in(feldsher, language="ru")
    response = client.post("/patients/register/", form_data(chain, **{field: value}))
    html = response.content.decode()
    assert response.status_code == 200
    assert not Patient.objects.exists()
    errors = response.context["form"].errors
    assert field in errors
    assert message_ru.lower() in " ".join(errors[field]).lower()
    # what was typed is still in the form
    assert 'value="Тынетегин"' in html


def test_same_snils_is_refused(chain, feldsher):
    PatientFactory(home_facility=chain.post, snils="11223344595")
    response = logged_in(feldsher).post("/patients/register/", form_data(chain))
    assert "snils" in response.context["form"].errors
    assert Patient.objects.count() == 1


def test_same_name_and_birth_date_asks_for_confirmation(chain, feldsher):
    PatientFactory(
        home_facility=chain.post, family="Тынетегин", given="Семён", birth_date=date(1961, 3, 14)
    )
    client = logged_in(feldsher)
    data = form_data(chain, snils=valid_snils(999))
    first = client.post("/patients/register/", data)
    assert first.status_code == 200
    assert "same name and birth date" in first.content.decode()
    assert Patient.objects.count() == 1
    second = client.post("/patients/register/", {**data, "confirm_duplicate": "on"})
    assert second.status_code == 302
    assert Patient.objects.count() == 2


def test_a_feldsher_cannot_register_at_a_facility_above_them(chain, feldsher):
    response = logged_in(feldsher).post(
        "/patients/register/", form_data(chain, home_facility=str(chain.hub.uuid))
    )
    assert response.status_code == 200
    assert "home_facility" in response.context["form"].errors
    assert not Patient.objects.exists()


def test_an_analyst_cannot_open_registration(chain):
    analyst = make_user(Role.ANALYST)
    assert logged_in(analyst).get("/patients/register/").status_code == 403


def test_edit_keeps_the_stored_record_when_the_change_is_refused(chain, feldsher):
    patient = PatientFactory(home_facility=chain.post, family="Рультына")
    client = logged_in(feldsher)
    response = client.post(
        f"/patients/{patient.uuid}/edit/",
        form_data(chain, family="Новая", snils="112-233-445 96"),
    )
    assert response.status_code == 200
    patient.refresh_from_db()
    assert patient.family == "Рультына"
    ok = client.post(
        f"/patients/{patient.uuid}/edit/", form_data(chain, family="Новая", snils=patient.snils)
    )
    assert ok.status_code == 302
    patient.refresh_from_db()
    assert patient.family == "Новая"
    assert AuditEvent.objects.filter(action=AuditAction.UPDATE, patient_uuid=patient.uuid).exists()


def test_a_stranger_posting_to_the_edit_form_is_refused_and_sees_nothing(chain):
    patient = PatientFactory(home_facility=chain.post, family="Рультына")
    stranger = make_user(Role.CLINICIAN, chain.other_region_post)
    response = logged_in(stranger).post(
        f"/patients/{patient.uuid}/edit/", form_data(chain, family="", snils="bad")
    )
    assert response.status_code == 403
    assert "Рультына" not in response.content.decode()
    patient.refresh_from_db()
    assert patient.family == "Рультына"
    assert AuditEvent.objects.filter(action=AuditAction.DENIED, patient_uuid=patient.uuid).exists()
