"""Who reaches a patient through diagnostics: the laboratory that performs their tests, the
radiologist who reads their images, the clinicians who ordered; never anyone abroad."""

from __future__ import annotations

import pytest

from farcare.access.policy import Action, decide, visible_patients
from farcare.accounts.models import Role
from farcare.audit.services import Accessor
from farcare.diagnostics.models import DiagnosticOrder
from farcare.diagnostics.services.results import report_receive
from farcare.imaging.models import ImagingStudy
from farcare.network.models import FacilityKind

from ..conftest import make_user
from ..factories import FacilityFactory, PatientFactory
from .scene import make_scene


@pytest.fixture
def dx(chain):
    return make_scene(chain)


def test_the_laboratory_sees_the_patients_of_the_orders_it_performs(dx):
    other = PatientFactory(home_facility=dx.chain.post)
    dx.order(["718-7"])  # performed at the district hospital
    assert list(visible_patients(dx.district_lab)) == [dx.patient]
    assert decide(dx.district_lab, Action.VIEW, dx.patient)
    assert not decide(dx.district_lab, Action.UPDATE, dx.patient)
    assert not decide(dx.district_lab, Action.VIEW, other)
    assert not visible_patients(dx.hub_lab).exists()
    assert not decide(dx.hub_lab, Action.VIEW, dx.patient)


def test_a_result_the_laboratory_reported_unasked_does_not_open_the_patient_to_it(dx):
    # Anyone's SNILS on a result must not be a key to their record (tests/access has the pages).
    report_receive(accessor=Accessor(dx.hub_lab), report=dx.bmp(None, source="page"))
    assert not decide(dx.hub_lab, Action.VIEW, dx.patient)
    assert not visible_patients(dx.hub_lab).exists()


def test_the_radiologist_sees_the_patients_of_studies_read_at_the_hub(dx):
    radiologist = make_user(Role.RADIOLOGIST, dx.chain.hub)
    elsewhere = make_user(Role.RADIOLOGIST, dx.chain.other_region_hub)
    ImagingStudy.objects.create(
        study_uid="1.2.3.4",
        patient=dx.patient,
        facility=dx.chain.district,
        reading_facility=dx.chain.hub,
        modality="DX",
        storage="embedded",
    )
    assert list(visible_patients(radiologist)) == [dx.patient]
    assert decide(radiologist, Action.VIEW, dx.patient)
    assert not decide(radiologist, Action.UPDATE, dx.patient)
    assert not decide(elsewhere, Action.VIEW, dx.patient)


def test_the_orderers_keep_their_patients_as_before(dx):
    dx.order(["718-7"])
    assert decide(dx.feldsher, Action.UPDATE, dx.patient)
    assert decide(dx.district_doctor, Action.UPDATE, dx.patient)


def test_nobody_abroad_reaches_an_identity_through_diagnostics(dx):
    partner = FacilityFactory(
        kind=FacilityKind.PARTNER_ABROAD, country="KR", region="Gyeonggi", time_zone="Asia/Seoul"
    )
    # Ordering refuses a performer abroad; say one got there anyway.
    DiagnosticOrder.objects.filter(pk=dx.order(["718-7"]).pk).update(performer=partner)
    ImagingStudy.objects.create(
        study_uid="1.2.3.5",
        patient=dx.patient,
        facility=dx.chain.district,
        reading_facility=partner,
        modality="CT",
        storage="embedded",
    )
    for role in (Role.LABORATORY, Role.RADIOLOGIST):
        abroad = make_user(role, partner)
        assert not visible_patients(abroad).exists()
        assert not decide(abroad, Action.VIEW, dx.patient)


@pytest.mark.parametrize("role", [Role.LABORATORY, Role.RADIOLOGIST])
def test_the_list_and_the_single_decision_agree(dx, role):
    user = make_user(role, dx.chain.hub)
    dx.order(["24725-4"], category="imaging")  # CT at the hub
    ImagingStudy.objects.create(
        study_uid="9.9",
        patient=dx.patient,
        facility=dx.chain.hub,
        reading_facility=dx.chain.hub,
        modality="CT",
        storage="embedded",
    )
    others = [PatientFactory(home_facility=dx.chain.post) for _ in range(2)]
    visible = set(visible_patients(user))
    for patient in [dx.patient, *others]:
        assert (patient in visible) == bool(decide(user, Action.VIEW, patient))
    assert visible == {dx.patient}
