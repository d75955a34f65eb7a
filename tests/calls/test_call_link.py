"""The way into a call from the case page: a consultation asked for as a consilium leads to the
consilium page, one asked for in real time to the call of two."""

from __future__ import annotations

from farcare.audit.services import Accessor
from farcare.calls.models import CallKind
from farcare.calls.services import call_join
from farcare.consults.models import Consultation

from ..conftest import Chain, logged_in
from ..consults.conftest import Scene
from .consilium_scene import consilium_case


def test_the_consilium_case_page_leads_to_the_consilium(chain: Chain) -> None:
    case = consilium_case(chain)
    uuid = case.consultation.uuid
    for user in (case.feldsher, case.federal_cardiologist):
        detail = logged_in(user).get(f"/consultations/{uuid}/").content.decode()
        assert f'href="/calls/{uuid}/consilium/"' in detail
        assert "Join the consilium" in detail
        assert f'href="/calls/{uuid}/"' not in detail
    # Once someone started it, the others read that it is open.
    call_join(
        accessor=Accessor(case.hub_cardiologist, "127.0.0.1"),
        consultation=case.consultation,
        kind=CallKind.CONSILIUM,
    )
    detail = logged_in(case.feldsher).get(f"/consultations/{uuid}/").content.decode()
    assert "A consilium is open since" in detail
    # Nobody outside the call gets a way in.
    outsider = logged_in(case.coordinator).get(f"/consultations/{uuid}/").content.decode()
    assert "/consilium/" not in outsider


def test_the_real_time_case_page_leads_to_the_call_of_two(scene: Scene, case: Consultation) -> None:
    detail = logged_in(scene.feldsher).get(f"/consultations/{case.uuid}/").content.decode()
    assert f'href="/calls/{case.uuid}/"' in detail and "Join the call" in detail
    assert "/consilium/" not in detail
