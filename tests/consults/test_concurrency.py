"""Two consultants press "accept" at the same moment: exactly one wins, on SQLite and on
PostgreSQL alike."""

import threading

import pytest
from django.db import connection

from farcare.audit.services import Accessor
from farcare.consults.models import Assignment, Status
from farcare.consults.services import consult_accept
from farcare.consults.workflow import IllegalTransition

from .conftest import consultant


@pytest.mark.django_db(transaction=True)
def test_concurrent_accepts_exactly_one_wins(scene):
    colleague = consultant(scene.chain.hub, scene.cardiology, username="hub_cardio_2")
    consultation = scene.submit()
    contenders = [scene.hub_cardiologist, colleague]
    barrier = threading.Barrier(len(contenders))
    outcomes: dict[str, str] = {}

    def accept(user):
        try:
            barrier.wait(timeout=10)
            consult_accept(accessor=Accessor(user), consultation=consultation)
            outcomes[user.username] = "won"
        except IllegalTransition:
            outcomes[user.username] = "refused"
        finally:
            connection.close()

    threads = [threading.Thread(target=accept, args=(user,)) for user in contenders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(outcomes.values()) == ["refused", "won"]
    consultation.refresh_from_db()
    assert consultation.status == Status.ACCEPTED
    winners = Assignment.objects.filter(consultation=consultation, accepted_at__isnull=False)
    assert [a.consultant.username for a in winners] == [
        name for name, outcome in outcomes.items() if outcome == "won"
    ]
    assert consultation.transitions.filter(to_status=Status.ACCEPTED).count() == 1
