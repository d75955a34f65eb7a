"""Django's PostgreSQL backend, telling the work under way when it makes a write durable
(farcare.core.db.commits): the one fact a request or a worker needs before running again work
that PostgreSQL aborted with a serialization failure or a deadlock. Everything else is Django's.

    DATABASES["default"]["ENGINE"] = "farcare.core.db.postgresql"

A write is durable once the transaction it ran in commits, or at once when it ran in autocommit
mode. A transaction that only read (an atomic block around a SELECT ... FOR UPDATE that found
nothing to do) commits nothing, and does not stop the work from being run again."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.backends.postgresql import base

from farcare.core.db import commits


class DatabaseWrapper(base.DatabaseWrapper):
    # Read by farcare.core.contention: work that ran on a connection without it is never re-run.
    reports_commits = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._wrote_in_transaction = False
        self.execute_wrappers.append(self._note_writes)

    def _note_writes(
        self,
        execute: Callable[..., Any],
        sql: str,
        params: Any,
        many: bool,
        context: dict[str, Any],
    ) -> Any:
        result = execute(sql, params, many, context)
        # After it succeeded: a statement that failed wrote nothing, and a deadlock on a lone
        # UPDATE in autocommit leaves the work as safe to run again as before it.
        if commits.writes(sql):
            if self.in_atomic_block or not self.get_autocommit():
                self._wrote_in_transaction = True
            else:
                commits.committed()
        return result

    def ensure_connection(self) -> None:
        # With psycopg's pool a connection is borrowed here, before any statement: a pool with
        # every connection taken for its timeout is a busy database (503 with Retry-After), and
        # the request must hear of it even when the caller (the session middleware, a FHIR
        # view's catch-all) turns the error into a 500 of its own.
        try:
            super().ensure_connection()
        except Exception as error:
            from farcare.core.contention import is_busy

            if is_busy(error):
                commits.busy(error)
            raise

    def _commit(self) -> None:
        # Django's atomic() and connection.commit() both end here; a COMMIT that fails raises
        # before the mark, and its transaction then committed nothing.
        super()._commit()  # type: ignore[misc]  # not in the stubs
        wrote, self._wrote_in_transaction = self._wrote_in_transaction, False
        if wrote:
            commits.committed()

    def _rollback(self) -> None:
        self._wrote_in_transaction = False
        super()._rollback()  # type: ignore[misc]

    def _close(self) -> None:
        self._wrote_in_transaction = False
        super()._close()  # type: ignore[misc]
