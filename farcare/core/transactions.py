"""Work to do once a transaction commits, once per transaction however often it is asked for:
a cache generation bumped after many links changed, an epoch moved after many rows were saved."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from django.db import transaction


def queued(tag: str) -> bool:
    """Whether the open transaction already holds the work tagged `tag` for its commit."""
    connection = transaction.get_connection()
    return connection.in_atomic_block and any(
        getattr(callback, "farcare_once", None) == tag
        for _sids, callback, _robust in connection.run_on_commit
    )


def on_commit_once(tag: str, work: Callable[[], None]) -> None:
    """`work` after the commit (at once outside a transaction), unless already queued."""
    if queued(tag):
        return
    callback = partial(work)
    callback.farcare_once = tag  # type: ignore[attr-defined]
    transaction.on_commit(callback)
