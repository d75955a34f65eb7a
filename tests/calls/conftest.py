from __future__ import annotations

import pytest

from farcare.audit.services import Accessor
from farcare.consults.models import Consultation, ConsultMode
from farcare.consults.services import consult_accept

from ..consults.conftest import Scene, scene  # noqa: F401  (the consultations' scene)


def live_case(scene: Scene, *, abroad: bool = False) -> Consultation:  # noqa: F811
    """A real-time consultation from the Uelen post, accepted by the cardiologist it went to
    (the Korean partner's when `abroad`)."""
    if abroad:
        scene.only_the_korean_partner_answers()
    case = scene.submit("urgent", mode=ConsultMode.REALTIME)
    consultant = scene.partner_cardiologist if abroad else scene.hub_cardiologist
    return consult_accept(accessor=Accessor(consultant, "127.0.0.1"), consultation=case)


@pytest.fixture
def case(scene: Scene) -> Consultation:  # noqa: F811
    return live_case(scene)
