"""A consultant orders under a consultation only while assigned to it (not one they could
merely claim); a performer the caller chooses must be one the network routes to, at home."""

from __future__ import annotations

import uuid

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from farcare.accounts.models import Role
from farcare.consults.models import Assignment, AssignmentRole, Consultation, Status
from farcare.diagnostics.routing import alternatives, performer_for
from farcare.network.models import FacilityKind, PractitionerRole, PractitionerRoleKind

from ..conftest import make_user
from ..factories import FacilityFactory, PractitionerFactory, SpecialtyFactory, link
from .scene import make_scene


@pytest.fixture
def dx(chain):
    return make_scene(chain)


def _consultation(dx, specialty, status):
    return Consultation.objects.create(
        client_token=uuid.uuid4(),
        patient=dx.patient,
        requester=dx.feldsher,
        requesting_facility=dx.chain.post,
        routed_facility=dx.chain.hub,
        specialty=specialty,
        form="urgent",
        question="Palpitations: what next?",
        status=status,
    )


def test_a_consultant_may_not_order_under_a_consultation_only_claimable(dx):
    cardiology = SpecialtyFactory(code="cardiology")
    cardiologist = make_user(Role.CONSULTANT, dx.chain.hub)
    practitioner = PractitionerFactory(user=cardiologist)
    practitioner.specialties.add(cardiology)
    PractitionerRole.objects.create(
        practitioner=practitioner, facility=dx.chain.hub, kind=PractitionerRoleKind.CONSULTANT
    )
    assigned = _consultation(dx, cardiology, Status.IN_PROGRESS)
    Assignment.objects.create(
        consultation=assigned,
        consultant=cardiologist,
        facility=dx.chain.hub,
        role=AssignmentRole.PRIMARY,
    )
    waiting = _consultation(dx, cardiology, Status.REQUESTED)  # in the hub's queue
    with pytest.raises(PermissionDenied):
        dx.order(["51990-0"], user=cardiologist, consultation=waiting)
    assert dx.order(["51990-0"], user=cardiologist, consultation=assigned).orderer == cardiologist


def test_a_performer_outside_the_routing_or_abroad_is_refused(dx):
    partner = FacilityFactory(
        kind=FacilityKind.PARTNER_ABROAD, country="KR", region="Gyeonggi", time_zone="Asia/Seoul"
    )
    for elsewhere in (dx.chain.other_region_hub, partner):
        with pytest.raises(ValidationError) as refused:
            dx.order(["51990-0"], performer=elsewhere)
        assert "performer" in refused.value.message_dict
    # The hub up the chain has a laboratory too: the orderer may send there instead.
    assert dx.order(["51990-0"], performer=dx.chain.hub).performer == dx.chain.hub


def test_the_chain_walk_skips_a_facility_abroad(dx, chain):
    from farcare.diagnostics.models import Capability, Category

    post = FacilityFactory(kind=FacilityKind.FELDSHER_POST, name_en="Island post")
    partner = FacilityFactory(
        kind=FacilityKind.PARTNER_ABROAD, country="KR", region="Gyeonggi", time_zone="Asia/Seoul"
    )
    Capability.objects.create(facility=partner, category=Category.LABORATORY)
    link(post, partner, rank=1)
    link(post, chain.district, rank=2)
    assert performer_for(ordering=post, category=Category.LABORATORY) == chain.district
    assert partner not in alternatives(ordering=post, category=Category.LABORATORY)
