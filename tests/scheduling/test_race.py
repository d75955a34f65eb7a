"""Two posts book the same free time of the Korean cardiologist at the same moment: exactly one
gets it, on SQLite and on PostgreSQL alike; the other is told the time was just taken."""

from __future__ import annotations

import threading

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import connection

from farcare.audit.services import Accessor
from farcare.scheduling.models import Appointment, SlotStatus
from farcare.scheduling.services import appointment_book

from .conftest import NOW, live_consultation, publish_mornings


@pytest.mark.django_db(transaction=True)
def test_two_bookings_of_one_slot_at_once_exactly_one_wins(scene):
    with time_machine.travel(NOW, tick=False):
        scene.only_the_korean_partner_answers()
        consultations = [live_consultation(scene), live_consultation(scene)]
        slot = publish_mornings(scene.partner_cardiologist)[0]
    barrier = threading.Barrier(len(consultations))
    outcomes: dict[int, str] = {}

    def book(index: int) -> None:
        try:
            with time_machine.travel(NOW, tick=False):
                barrier.wait(timeout=10)
                appointment_book(
                    accessor=Accessor(scene.feldsher),
                    consultation=consultations[index],
                    slot=slot,
                )
            outcomes[index] = "won"
        except ValidationError as error:
            # Told in the user's words; the code says which refusal it was.
            outcomes[index] = "taken" if error.code == "taken" else str(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=book, args=(i,)) for i in range(len(consultations))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(outcomes.values()) == ["taken", "won"]
    booked = Appointment.objects.filter(slot=slot)
    assert booked.count() == 1
    winner = next(i for i, outcome in outcomes.items() if outcome == "won")
    assert booked.get().consultation == consultations[winner]
    slot.refresh_from_db()
    assert slot.status == SlotStatus.BOOKED
