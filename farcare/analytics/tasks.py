"""The background task that refreshes the indicators (`compute.refresh`). The nightly loop
(`farcare analytics compute --loop`) runs the computation itself; the task is there for a
deployment with a queueing backend and a scheduler of its own, and for an administrator who
wants the figures now without waiting for the night."""

from __future__ import annotations

from typing import Any

from django_tasks import task

from .compute import RunInProgress, refresh


@task()
def refresh_analytics(full: bool = False) -> dict[str, Any]:
    # A plain dict: task results must survive JSON for queueing backends.
    try:
        run = refresh(full=full)
    except RunInProgress:
        return {"skipped": "another computation is running"}
    return {
        "facts_written": run.facts_written,
        "cells_written": run.cells_written,
        "months": run.months,
    }
