"""Whether the work under way has committed anything yet: the condition for running it again.

PostgreSQL ends a transaction it chose as a deadlock victim, or whose snapshot went stale, with
an error and a rollback; what that transaction wrote is gone, so running the work again is safe
as long as nothing of the same work was committed before (a login's session row, an audit row
written outside the transaction, the first items of a push). Two things make a write durable:
an outermost transaction that commits (reported by the PostgreSQL backend of this package, the
only place where a COMMIT happens), and a statement that writes outside any transaction, in
autocommit mode (reported by `farcare.core.contention`, which sees every statement).

An `Attempt` is one run of a piece of work (a request, a worker's transaction); attempts nest,
and a commit inside an inner one counts for every enclosing one. Where the database cannot tell
(another backend), the attempt is marked `untracked`, and nothing is ever run again."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field

# Statements that change nothing durable when run outside a transaction. Anything else (INSERT,
# UPDATE, DELETE, a WITH that may write, DDL, COPY, a keyword not listed) counts as a write.
_READ_ONLY_KEYWORDS = frozenset(
    {"SELECT", "SHOW", "SET", "RESET", "EXPLAIN", "VALUES", "SAVEPOINT", "RELEASE", "ROLLBACK"}
)


@dataclass(eq=False)
class Attempt:
    parent: Attempt | None = None
    # Something of this attempt is durable: running it again could do it twice.
    committed: bool = False
    # A statement ran on a connection that does not report its commits.
    untracked: bool = False
    # The errors of the database giving up on a lock, in order (farcare.core.contention).
    busy: list[BaseException] = field(default_factory=list)

    @property
    def may_run_again(self) -> bool:
        return not self.committed and not self.untracked

    def chain(self) -> Iterator[Attempt]:
        attempt: Attempt | None = self
        while attempt is not None:
            yield attempt
            attempt = attempt.parent


_current: ContextVar[Attempt | None] = ContextVar("farcare_db_attempt", default=None)


def current() -> Attempt | None:
    return _current.get()


@contextlib.contextmanager
def attempt() -> Iterator[Attempt]:
    """One run of a piece of work. The threads that run the sync parts of an async request get a
    copy of this context, holding the same Attempt object, so what they report reaches it."""
    started = Attempt(parent=_current.get())
    token = _current.set(started)
    try:
        yield started
    finally:
        _current.reset(token)


def committed() -> None:
    """A transaction of the work under way was committed (or a write made in autocommit)."""
    running = _current.get()
    if running is not None:
        for each in running.chain():
            each.committed = True


def untracked() -> None:
    running = _current.get()
    if running is not None:
        for each in running.chain():
            each.untracked = True


def busy(error: BaseException) -> None:
    running = _current.get()
    if running is not None:
        for each in running.chain():
            each.busy.append(error)


def writes(sql: str) -> bool:
    """Whether a statement may change something durable (conservative: unknown is a write)."""
    words = sql.lstrip(" \t\r\n(").split(None, 1)
    return not words or words[0].upper().rstrip(";") not in _READ_ONLY_KEYWORDS
