"""Work asked for many times in one transaction runs once, after the commit; never after a
rollback; at once outside a transaction."""

from __future__ import annotations

import pytest
from django.db import transaction

from farcare.core.transactions import on_commit_once, queued

pytestmark = pytest.mark.django_db(transaction=True)


def test_asked_three_times_in_a_transaction_it_runs_once_after_the_commit():
    ran: list[str] = []
    with transaction.atomic():
        for _ in range(3):
            on_commit_once("bump", lambda: ran.append("bump"))
        on_commit_once("other", lambda: ran.append("other"))
        assert queued("bump") and queued("other")
        assert ran == []
    assert ran == ["bump", "other"]
    assert not queued("bump")


def test_a_rollback_runs_nothing():
    ran: list[str] = []
    with pytest.raises(RuntimeError), transaction.atomic():
        on_commit_once("bump", lambda: ran.append("bump"))
        raise RuntimeError("rolled back")
    assert ran == []


def test_outside_a_transaction_it_runs_at_once():
    ran: list[str] = []
    on_commit_once("bump", lambda: ran.append("bump"))
    on_commit_once("bump", lambda: ran.append("bump"))
    assert ran == ["bump", "bump"]
