"""The inbox asks which cases a user may open in one query (`visible_consultations`); the case
page asks case by case (`consult_sides`). For every kind of user and case they agree."""

from __future__ import annotations

from farcare.access.policy import consult_sides, visible_consultations
from farcare.accounts.models import Role
from farcare.audit.services import Accessor
from farcare.consults.models import Consultation
from farcare.consults.services import consult_accept, consult_decline

from ..conftest import make_user
from ..consults.conftest import consultant


def test_the_list_query_and_the_case_by_case_answer_agree(scene):
    waiting = scene.submit("planned")
    accepted = scene.submit("planned")
    consult_accept(accessor=Accessor(scene.hub_cardiologist), consultation=accepted)
    declined = scene.submit("planned")
    consult_decline(
        accessor=Accessor(scene.hub_cardiologist), consultation=declined, reason="On leave today"
    )
    colleague = consultant(scene.chain.hub, scene.cardiology)  # may claim what waits at the hub
    people = [
        colleague,
        scene.feldsher,
        scene.coordinator,
        scene.hub_cardiologist,
        scene.federal_cardiologist,
        scene.partner_cardiologist,
        make_user(Role.CLINICIAN, scene.chain.hub),
        make_user(Role.CLINICIAN, scene.chain.other_region_post),
        make_user(Role.COORDINATOR, scene.chain.other_region_hub),
        make_user(Role.TRAINER, scene.chain.post),
        make_user(Role.ANALYST),
        make_user(Role.CONSULTANT),
    ]
    cases = list(Consultation.objects.all())
    assert {waiting, accepted, declined} <= set(cases)
    for user in people:
        listed = set(visible_consultations(user))
        for case in cases:
            assert (case in listed) == bool(consult_sides(user, case)), (user.username, case.pk)
    assert waiting in set(visible_consultations(scene.hub_cardiologist))
    assert declined not in set(visible_consultations(scene.hub_cardiologist))
    assert waiting in set(visible_consultations(colleague))
    assert accepted not in set(visible_consultations(colleague))
