import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError, connections
from django.utils import timezone
from django.utils.translation import gettext as _

from farcare.analytics.compute import RunInProgress, refresh
from farcare.analytics.models import ComputeRun

log = logging.getLogger(__name__)


def _moment(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise CommandError(_("--now: not an ISO 8601 time: %(value)r") % {"value": value}) from None
    if timezone.is_naive(moment):
        raise CommandError(_("--now: give the time with its zone, e.g. 2026-01-15T08:00:00+00:00"))
    return moment


def next_run(after: datetime, hour: int) -> datetime:
    """The first moment at `hour`:00 UTC strictly after `after`."""
    moment = after.astimezone(UTC).replace(hour=hour, minute=0, second=0, microsecond=0)
    return moment if moment > after else moment + timedelta(days=1)


def _drop_dead_connections() -> None:
    """Close a connection a failed night left broken (the server restarted), or one older than
    CONN_MAX_AGE, so the next night opens a new one; as Django does between requests. A
    connection inside a transaction (a test's) belongs to that transaction and is left alone."""
    for connection in connections.all(initialized_only=True):
        if not connection.in_atomic_block:
            connection.close_if_unusable_or_obsolete()


def describe(run: ComputeRun) -> str:
    assert run.finished_at is not None
    scope = (
        _("full computation")
        if run.since is None
        else _("changes since %(since)s UTC")
        % {"since": f"{run.since.astimezone(UTC):%Y-%m-%d %H:%M}"}
    )
    months = ", ".join(month[:7] for month in run.months) or _("none")
    return _(
        "Analytics (%(scope)s): %(facts)s facts and %(cells)s cells written; "
        "months computed: %(months)s; took %(seconds).1f s."
    ) % {
        "scope": scope,
        "facts": run.facts_written,
        "cells": run.cells_written,
        "months": months,
        "seconds": (run.finished_at - run.started_at).total_seconds(),
    }


class Command(BaseCommand):
    help = (
        "Analytics: `farcare analytics compute` refreshes the indicators once, incrementally "
        "(`--full` from all sources; `--now ISO` as if it were then); `--loop` runs it every day "
        "at FARCARE_ANALYTICS_HOUR_UTC (and at once when the last run is more than a day old)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        compute = sub.add_parser("compute", help="refresh the precomputed indicators")
        compute.add_argument("--full", action="store_true")
        compute.add_argument("--now", default="", metavar="ISO")
        compute.add_argument("--loop", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        now = _moment(options["now"]) if options["now"] else None
        if not options["loop"]:
            try:
                self.stdout.write(describe(refresh(now=now, full=options["full"])))
            except RunInProgress:
                raise CommandError(
                    _("Another computation of the indicators is running; try again later.")
                ) from None
            return
        if now is not None:
            raise CommandError(_("--loop runs on the wall clock: it takes no --now."))
        hour = int(getattr(settings, "FARCARE_ANALYTICS_HOUR_UTC", 2))
        full = options["full"]
        last = ComputeRun.objects.filter(finished_at__isnull=False).first()
        due = timezone.now()
        if last is not None and last.started_at > due - timedelta(days=1):
            due = next_run(due, hour)
        while True:
            time.sleep(max(0.0, (due - timezone.now()).total_seconds()))
            _drop_dead_connections()
            try:
                self.stdout.write(describe(refresh(full=full)))
            except RunInProgress:
                # A task started by hand is computing: tomorrow's run takes up from it.
                self.stdout.write(_("Another computation is running; skipped until tomorrow."))
                continue_full = full
            except DatabaseError as error:
                # A lost connection or a full disk fails one night, not the loop: the failed
                # run keeps its months and the next night computes them too.
                log.exception("analytics: the computation failed; tried again at the next slot")
                self.stderr.write(
                    _("The computation failed (%(error)s); it is tried again at the next slot.")
                    % {"error": error}
                )
                continue_full = full
            else:
                continue_full = False
            self.stdout.flush()
            full = continue_full  # a full computation once, then the nightly increments
            due = next_run(timezone.now(), hour)
