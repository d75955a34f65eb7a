"""A clinician enrols a person in a programme after an in-person visit, naming the feldsher and
the doctor who answer for it; the plan is the programme's template with their changes. The
post's and the district doctor's lists show the enrolled people riskiest first."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from farcare.access.services import PatientAccessDenied
from farcare.accounts.models import Role
from farcare.audit.models import AuditEvent
from farcare.monitoring import plans
from farcare.monitoring.models import AlertStatus, Enrolment, EnrolmentStatus, ReadingPhone
from farcare.monitoring.selectors import enrolments_for
from farcare.monitoring.services import enrolment as enrolment_services
from farcare.monitoring.services.enrolment import (
    enrolment_end,
    enrolment_update,
    phone_register,
    phone_unregister,
)

from ..conftest import make_user
from ..factories import FacilityFactory, PatientFactory


def messages(error: ValidationError) -> str:
    return " ".join(error.messages)


def test_enrolment_takes_the_template_the_people_named_and_is_audited(mon):
    e = mon.enrolment
    assert e.status == EnrolmentStatus.ACTIVE
    assert e.responsible_feldsher == mon.feldsher and e.responsible_doctor == mon.doctor
    assert e.facility == mon.chain.post and e.zone == "Asia/Anadyr"
    assert e.plan == plans.template_json("hypertension")
    assert e.targets == plans.default_targets("hypertension")
    assert e.enrolled_by == mon.feldsher
    record = AuditEvent.objects.get(record_type="Enrolment", record_id=str(e.uuid))
    assert record.patient_uuid == mon.patient.uuid and record.action == "create"


def test_the_clinicians_changes_to_the_plan_are_kept(mon):
    plan = plans.with_overrides(
        plans.template_json("heart_failure"),
        gains={"weight_gain": {"amount": "1.5"}},
        schedules={"29463-7": {"every_hours": 12}},
    )
    e = mon.enrol("heart_failure", plan=plan, targets={"29463-7": {"low": "68", "high": "72"}})
    assert e.plan["gains"][0]["amount"] == "1.5"
    assert e.plan["schedules"][0]["every_hours"] == 12
    assert e.targets == {"29463-7": {"low": "68", "high": "72"}}


def test_bad_numbers_in_the_plan_are_refused_with_a_message(mon):
    plan = plans.with_overrides(
        plans.template_json("diabetes"), thresholds={"glucose_low": {"limits": [
            {"quantity": "14743-9", "op": "lt", "value": "-3"}]}},
    )  # fmt: skip
    with pytest.raises(ValidationError) as refused:
        mon.enrol("diabetes", plan=plan)
    assert "must be between 0.6 and 35" in messages(refused.value)
    assert not Enrolment.objects.filter(programme="diabetes").exists()


def test_one_active_enrolment_per_programme(mon):
    with pytest.raises(ValidationError) as refused:
        mon.enrol("hypertension")
    assert refused.value.code == "already_enrolled"
    assert "already enrolled in the hypertension programme" in messages(refused.value)


def test_two_clinicians_enrolling_at_once_get_a_clear_message(mon, monkeypatch):
    """The race: both checked before either saved. The database constraint decides, and the
    loser reads the same message, not an error page."""
    monkeypatch.setattr(enrolment_services, "_active_exists", lambda *args: False)
    with pytest.raises(ValidationError) as refused:
        mon.enrol("hypertension")
    assert refused.value.code == "already_enrolled"
    assert Enrolment.objects.filter(programme="hypertension").count() == 1


def test_after_ending_the_person_can_be_enrolled_again(mon):
    enrolment_end(accessor=mon.as_(), enrolment=mon.enrolment, reason="Moved to Anadyr")
    again = mon.enrol("hypertension")
    assert again.pk != mon.enrolment.pk


def test_the_in_person_visit_is_required_and_not_in_the_future(mon):
    with pytest.raises(ValidationError) as refused:
        mon.enrol("diabetes", in_person_visit_on=None)
    assert "in-person visit" in messages(refused.value)
    with pytest.raises(ValidationError) as refused:
        mon.enrol("diabetes", in_person_visit_on=timezone.now().date() + timedelta(days=3))
    assert "cannot be in the future" in messages(refused.value)


def test_a_consultant_abroad_cannot_be_named_responsible(mon):
    abroad = FacilityFactory(country="KR", region="Seoul", time_zone="Asia/Seoul")
    korean = make_user(Role.CLINICIAN, abroad)
    with pytest.raises(ValidationError) as refused:
        mon.enrol("diabetes", responsible_doctor=korean)
    assert "facility in Russia" in messages(refused.value)


def test_only_active_clinicians_can_be_named(mon):
    mon.other_doctor.is_active = False
    mon.other_doctor.save()
    with pytest.raises(ValidationError):
        mon.enrol("diabetes", responsible_doctor=mon.other_doctor)
    with pytest.raises(ValidationError):
        mon.enrol("diabetes", responsible_feldsher=mon.coordinator)


def test_a_clinician_who_may_not_change_the_record_cannot_enrol(mon):
    stranger = make_user(Role.CLINICIAN, mon.chain.other_region_post)
    with pytest.raises(PatientAccessDenied):
        mon.enrol("diabetes", by=stranger)
    with pytest.raises(PatientAccessDenied):
        mon.enrol("diabetes", by=mon.patient_user)  # the person may record readings, not enrol
    assert AuditEvent.objects.filter(actor_uuid=stranger.uuid, outcome="denied").exists()


def test_update_is_version_checked_and_audited(mon):
    e = mon.enrolment
    updated = enrolment_update(
        accessor=mon.as_(mon.doctor),
        enrolment=e,
        expected_version=e.version,
        responsible_feldsher=mon.feldsher,
        targets={"8480-6": {"low": "110", "high": "130"}},
    )
    assert updated.version == e.version + 1
    with pytest.raises(ValidationError) as stale:
        enrolment_update(accessor=mon.as_(), enrolment=e, expected_version=e.version, note="later")
    assert stale.value.code == "stale"


def test_ending_closes_open_alerts(mon):
    mon.bp(190, 115)
    ended = enrolment_end(accessor=mon.as_(), enrolment=mon.enrolment, reason="Treated, stable")
    assert ended.status == EnrolmentStatus.ENDED and ended.ended_by == mon.feldsher
    assert set(ended.alerts.values_list("status", flat=True)) == {AlertStatus.CLOSED}
    with pytest.raises(ValidationError, match="has ended"):
        enrolment_end(accessor=mon.as_(), enrolment=ended, reason="again")


def test_a_phone_is_registered_in_e164_and_names_one_person(mon):
    phone = phone_register(accessor=mon.as_(), patient=mon.patient, number="8 914 123-45-67")
    assert phone.number == "+79141234567"
    again = phone_register(
        accessor=mon.as_(), patient=mon.patient, number="+7 (914) 123-45-67", language="en"
    )
    assert again.pk == phone.pk and again.language == "en"
    other = PatientFactory(home_facility=mon.chain.post)
    with pytest.raises(ValidationError, match="another person"):
        phone_register(accessor=mon.as_(), patient=other, number="89141234567")
    with pytest.raises(ValidationError, match="country code"):
        phone_register(accessor=mon.as_(), patient=other, number="12-34")
    phone_unregister(accessor=mon.as_(), phone=phone)
    assert phone_register(accessor=mon.as_(), patient=other, number="89141234567").patient == other
    assert ReadingPhone.objects.filter(active=True).count() == 1


def test_the_list_shows_only_what_the_user_may_see_riskiest_first(mon):
    calm = PatientFactory(home_facility=mon.chain.sibling_post)
    sibling_feldsher = make_user(Role.CLINICIAN, mon.chain.sibling_post)
    calm_enrolment = mon.enrol(
        "hypertension", patient=calm, by=mon.doctor, responsible_feldsher=sibling_feldsher
    )
    mon.bp(190, 115)  # the urgent alert raises mon.patient's risk
    far = PatientFactory(home_facility=mon.chain.other_region_post)
    other_doctor = make_user(Role.CLINICIAN, mon.chain.other_region_post)
    mon.enrol(
        "hypertension", patient=far, by=other_doctor,
        responsible_feldsher=other_doctor, responsible_doctor=other_doctor,
    )  # fmt: skip
    seen = list(enrolments_for(mon.doctor))
    assert [e.pk for e in seen] == [mon.enrolment.pk, calm_enrolment.pk]
    assert seen[0].risk > seen[1].risk
    assert [e.pk for e in enrolments_for(mon.feldsher, facility=mon.chain.post)] == [
        mon.enrolment.pk
    ]
    abroad = make_user(Role.CLINICIAN, FacilityFactory(country="KR", region="Seoul"))
    assert list(enrolments_for(abroad)) == []
    assert list(enrolments_for(None)) == []


def test_the_list_is_one_query_whatever_it_shows(mon):
    for _ in range(5):
        mon.enrol("hypertension", patient=PatientFactory(home_facility=mon.chain.post))
    with CaptureQueriesContext(connection) as queries:
        rows = [(e.patient.family, e.responsible_doctor.username, e.facility.name_en)
                for e in enrolments_for(mon.doctor, facility=mon.chain.post)]  # fmt: skip
    assert len(rows) == 6
    # One query for the rows, whatever their number; the other is the access policy reading
    # the referral graph (which posts the district hospital serves).
    listing = [q["sql"] for q in queries if "monitoring_enrolment" in q["sql"]]
    assert len(listing) == 1 and len(queries) == 2


def test_the_person_in_the_future_is_not_a_visit(mon):
    # The visit date is the person's date (Chukotka is UTC+12): "today" there may be
    # tomorrow in UTC, and is accepted.
    from zoneinfo import ZoneInfo

    today_there = timezone.now().astimezone(ZoneInfo("Asia/Anadyr")).date()
    assert mon.enrol("diabetes", in_person_visit_on=today_there).in_person_visit_on == today_there


# --- who may be named responsible (issue 17 fixes) ---------------------------------------------


def test_break_glass_access_cannot_be_made_permanent_by_enrolling(mon):
    """A clinician outside the chain who broke the glass must not name themselves responsible:
    `_monitored_by` would keep the record open after the grant expires."""
    from farcare.access.services import break_glass_open

    stranger = make_user(Role.CLINICIAN, mon.chain.other_region_post)
    break_glass_open(accessor=mon.as_(stranger), patient=mon.patient, reason="Found unconscious")
    with pytest.raises(ValidationError) as refused:
        mon.enrol("diabetes", by=stranger, responsible_doctor=stranger)
    assert refused.value.code == "break_glass"
    assert "emergency access" in messages(refused.value)
    with pytest.raises(ValidationError) as refused:
        enrolment_update(
            accessor=mon.as_(stranger), enrolment=mon.enrolment,
            expected_version=mon.enrolment.version, responsible_doctor=stranger,
        )  # fmt: skip
    assert refused.value.code == "break_glass"
    mon.enrolment.refresh_from_db()
    assert mon.enrolment.responsible_doctor == mon.doctor


def test_a_named_clinician_must_work_in_the_chain_or_reach_the_person(mon):
    stranger = make_user(
        Role.CLINICIAN, mon.chain.other_region_post, first_name="Ivan", last_name="Chuzhoy"
    )
    with pytest.raises(ValidationError) as refused:
        mon.enrol("diabetes", responsible_doctor=stranger)
    assert "Ivan Chuzhoy" in messages(refused.value)
    with pytest.raises(ValidationError) as refused:
        enrolment_update(
            accessor=mon.as_(mon.doctor), enrolment=mon.enrolment,
            expected_version=mon.enrolment.version, responsible_feldsher=stranger,
        )  # fmt: skip
    assert "Ivan Chuzhoy" in messages(refused.value)
    # The regional hospital's cardiologist is up the chain: accepted.
    cardiologist = make_user(Role.CLINICIAN, mon.chain.hub)
    assert mon.enrol("diabetes", responsible_doctor=cardiologist).responsible_doctor == cardiologist


def test_the_list_puts_people_without_readings_last_on_every_database(mon):
    """NULL sorts first in a descending order on PostgreSQL and last on SQLite: say it."""
    quiet = mon.enrol("hypertension", patient=PatientFactory(home_facility=mon.chain.post))
    mon.bp(132, 84, hours_ago=1)
    Enrolment.objects.filter(pk__in=[quiet.pk, mon.enrolment.pk]).update(risk=5)
    assert quiet.last_reading_at is None
    order = [e.pk for e in enrolments_for(mon.doctor, facility=mon.chain.post)]
    assert order == [mon.enrolment.pk, quiet.pk]
    assert [e.pk for e in Enrolment.objects.filter(facility=mon.chain.post)] == order
