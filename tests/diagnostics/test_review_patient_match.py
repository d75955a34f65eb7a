"""Who may send results is asked before the patient is looked up, and a sender whose patient
details disagree with the record learns only that the patient could not be matched: not
whether such a patient exists, nor which detail differed."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied

from farcare.accounts.models import Role
from farcare.audit.models import AuditEvent
from farcare.audit.services import Accessor
from farcare.diagnostics.inbound import ReportRefused
from farcare.diagnostics.models import DiagnosticReport
from farcare.diagnostics.services.results import report_receive
from farcare.network.models import FacilityKind

from ..conftest import make_user
from ..factories import FacilityFactory
from .scene import make_scene

HL7 = Accessor(None, channel="hl7")


@pytest.fixture
def dx(chain):
    return make_scene(chain)


@pytest.mark.parametrize(
    "override",
    [
        {"family": "Петрова"},
        {"birth_date": "1981-05-17"},
        {"identifiers": (("SNILS", "00000000000"),)},
    ],
)
def test_every_mismatch_gets_the_same_answer(dx, override):
    order = dx.order(["51990-0"])
    with pytest.raises(ReportRefused) as refused:
        report_receive(accessor=HL7, report=dx.bmp(order, patient=dx.ref(**override)))
    assert (refused.value.reason, refused.value.field) == (
        "The patient could not be matched.",
        "patient",
    )
    assert not DiagnosticReport.objects.exists()


def test_a_partial_birth_date_is_not_compared(dx):
    order = dx.order(["51990-0"])
    # Only the year, and a wrong one: a prefix test would tell the sender it is wrong.
    report = dx.bmp(order, patient=dx.ref(birth_date="1979"))
    assert report_receive(accessor=HL7, report=report).created


@pytest.mark.parametrize("role", [Role.CLINICIAN, Role.COORDINATOR, Role.PATIENT])
def test_a_sender_who_may_not_report_learns_nothing_about_the_patient(dx, role):
    order = dx.order(["51990-0"])
    sender = make_user(role, dx.chain.district)
    for ref in (dx.ref(), dx.ref(family="Петрова"), dx.ref(identifiers=(("SNILS", "1"),))):
        with pytest.raises(PermissionDenied):
            report_receive(accessor=Accessor(sender), report=dx.bmp(order, patient=ref))
    assert AuditEvent.objects.filter(actor_uuid=sender.uuid, outcome="denied").count() == 3


def test_a_laboratory_abroad_may_not_report(dx):
    partner = FacilityFactory(
        kind=FacilityKind.PARTNER_ABROAD, country="KR", region="Gyeonggi", time_zone="Asia/Seoul"
    )
    sender = make_user(Role.LABORATORY, partner)
    with pytest.raises(PermissionDenied):
        report_receive(
            accessor=Accessor(sender), report=dx.bmp(None, patient=dx.ref(family="Петрова"))
        )
