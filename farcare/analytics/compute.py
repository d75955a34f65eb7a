"""The nightly computation of the indicators (issue 18): facts, then the cells of every month
the changed facts touch.

1. Facts: the sources that may have changed since the last finished run (or all of them, on a
   full run or the first one) are read in chunks of `CHUNK` by primary key, a fixed number of
   queries per chunk (`facts`); their rows are compared with the stored facts and only the
   differences are written (bulk create, bulk update, delete). A changed fact touches its month
   (and its old month, had it moved).
2. Cells: every touched month is computed again from its facts in one pass (`cells`), with
   suppression decided over every line a page can show, and compared with the stored cells; only
   differences are written, in one transaction per month. So a second run with nothing changed
   writes nothing, and a conclusion signed late rewrites its month only.

The watermark: a run looks at sources changed at or after the previous finished run's start,
less `SINCE_MARGIN` (a change committed just after that run read its chunk, by a transaction
that began before it started, is not missed; looking twice costs nothing, since only
differences are written). Open consultations and transfers under way are always looked at: their
deadline or 24 hours run out with nothing happening to them; so are the sources of a patient
who changed since (a move to another settlement).

What cells depend on besides the facts (each settlement's region and population, each
facility's region and settlement, the specialties' codes; and who the clinical staff are, for
training coverage) is kept as a digest on the run (`ComputeRun.geography`): when it differs
from the last finished run's, every month with cells (or with training) is computed again, and
the facts' region strings follow their settlements. So an incremental run always ends with the
cells a full one would write.

A run that fails keeps its row, marked failed, with the months its facts touched (saved with
each chunk of facts, in the chunk's transaction): the next run computes them as well, and a run
that finishes removes the failed ones it took up. A run left unfinished by a dead process is
taken over after `STALE_RUN` the same way.

Training has no facts of its own: its cells (clinical staff who attended a session that month,
of all clinical staff now at the place's facilities) are computed for the months whose sessions
started, or whose attendance was recorded, since the watermark.

`now` is the moment the figures are computed for (a deadline passed by then counts as missed);
the watermark is always the wall clock.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError, IntegrityError, models, transaction
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from farcare.accounts.models import Role, User
from farcare.core.months import month_period
from farcare.evacuation.region_clocks import LEFT_OUT
from farcare.network.models import Facility, Settlement, Specialty
from farcare.training.models import Attendance, SessionStatus

from . import facts
from .cells import (
    CellId,
    ConsultRow,
    Figure,
    Geography,
    ResultRow,
    StaffRow,
    TransferRow,
    Where,
    month_cells,
)
from .models import ComputeRun, ConsultFact, IndicatorCell, ResultFact, TransferFact

log = logging.getLogger(__name__)

CHUNK = 2000
BATCH = 1000
SINCE_MARGIN = timedelta(minutes=10)
# A full run at a million consultations takes minutes; one unfinished for this long has died.
STALE_RUN = timedelta(hours=6)
# Whose training coverage is counted: the clinical staff who see patients.
TRAINED_ROLES = (Role.CLINICIAN, Role.CONSULTANT)


@dataclass(frozen=True)
class _FactKind:
    model: type[models.Model]
    source: str  # the fact's field naming its source
    sources: Callable[[datetime | None], QuerySet[Any, dict[str, Any]]]
    rows: Callable[..., dict[int, facts.FactRow | None]]


FACT_KINDS = (
    _FactKind(ConsultFact, "consultation_id", facts.consult_sources, facts.consult_facts),
    _FactKind(TransferFact, "transfer_id", facts.transfer_sources, facts.transfer_facts),
    _FactKind(ResultFact, "report_id", facts.report_sources, facts.report_facts),
)


def refresh(*, now: datetime | None = None, full: bool = False) -> ComputeRun:
    """Bring the facts and cells up to date (see the module's docstring); the run is recorded
    and returned. Idempotent."""
    now = now or timezone.now()
    previous = ComputeRun.objects.filter(finished_at__isnull=False).order_by("-started_at").first()
    since = None if full or previous is None else previous.started_at - SINCE_MARGIN
    run = _start_run(since)
    try:
        _compute(run, previous=previous, since=since, now=now)
    except BaseException:
        # Not the next run's watermark, nor a block to it; its months are taken up by it.
        _fail(run)
        raise
    return run


def _fail(run: ComputeRun) -> None:
    """Mark the run failed, keeping the months its facts touched (saved as they were written).
    If even that cannot be written (the database is gone), the run stays unfinished and is
    taken over after STALE_RUN, its months kept all the same."""
    try:
        ComputeRun.objects.filter(pk=run.pk).update(failed_at=timezone.now())
    except DatabaseError:
        log.warning("analytics: run %s could not be marked failed", run.pk, exc_info=True)


class RunInProgress(Exception):
    """Another computation is running (the nightly loop and a task started by hand)."""


def _start_run(since: datetime | None) -> ComputeRun:
    """Claim the one slot for an unfinished run (a unique constraint, so two processes cannot
    both take it). A run unfinished for longer than STALE_RUN died with its process: it is
    marked failed (its months are computed by this run), and the slot taken again."""
    for _attempt in range(2):
        try:
            with transaction.atomic():
                return ComputeRun.objects.create(
                    started_at=timezone.now(), since=since, full=since is None
                )
        except IntegrityError:
            stale = ComputeRun.objects.filter(
                finished_at__isnull=True,
                failed_at__isnull=True,
                started_at__lt=timezone.now() - STALE_RUN,
            )
            if not stale.update(failed_at=timezone.now()):
                raise RunInProgress from None
    raise RunInProgress


def _compute(
    run: ComputeRun, *, previous: ComputeRun | None, since: datetime | None, now: datetime
) -> None:
    # The months of the runs that failed since the last finished one: their facts are
    # written, so this run's comparison of facts would not find them again.
    months = _failed_months(previous)
    for kind in FACT_KINDS:
        run.facts_written += _refresh_facts(kind, run=run, months=months, since=since, now=now)
    places = _Places.load()
    digest = Digest.parse(previous.geography if previous is not None else "")
    moved = since is not None and digest.places != places.digest.places
    if since is None or moved:
        # A month whose facts are all gone keeps no cells either; a population or a region
        # changed changes every month's rates and lines.
        months |= set(IndicatorCell.objects.values_list("month", flat=True).distinct())
    if moved:
        run.facts_written += _rehome_facts()
    months |= _training_months(None if digest.staff != places.digest.staff else since)
    _keep_months(run, months)
    for month in sorted(months):
        run.cells_written += _refresh_month(month, places=places, now=now)
    run.geography = str(places.digest)
    run.finished_at = timezone.now()
    run.save(update_fields=["facts_written", "cells_written", "geography", "finished_at"])
    # Their months are computed now.
    ComputeRun.objects.filter(failed_at__isnull=False, started_at__lt=run.started_at).delete()
    log.info(
        "analytics: %s facts and %s cells written over %s months in %.1f s",
        run.facts_written,
        run.cells_written,
        len(months),
        (run.finished_at - run.started_at).total_seconds(),
    )


# --- facts -----------------------------------------------------------------------------------


def _chunks(rows: QuerySet[Any, dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """The rows in chunks by primary key (keyset: each chunk one indexed query)."""
    last = 0
    while True:
        chunk = list(rows.filter(pk__gt=last).order_by("pk")[:CHUNK])
        if not chunk:
            return
        yield chunk
        last = chunk[-1]["pk"]


def _failed_months(previous: ComputeRun | None) -> set[date]:
    runs = ComputeRun.objects.filter(failed_at__isnull=False)
    if previous is not None:
        runs = runs.filter(started_at__gte=previous.started_at)
    return {
        date.fromisoformat(month)
        for months in runs.values_list("months", flat=True)
        for month in months
    }


def _keep_months(run: ComputeRun, months: Iterable[date]) -> None:
    """Save the months to compute on the run at once: should it fail, the next run computes
    them (`_failed_months`)."""
    run.months = [month.isoformat() for month in sorted(months)]
    ComputeRun.objects.filter(pk=run.pk).update(months=run.months)


def _refresh_facts(
    kind: _FactKind, *, run: ComputeRun, months: set[date], since: datetime | None, now: datetime
) -> int:
    """Write the kind's changed facts, chunk by chunk; the months they touch are added to
    `months` and saved on the run in the chunk's transaction (no fact written whose month a
    failure could lose). Returns how many facts were written."""
    written = 0
    touched = months
    fields = [f.attname for f in kind.model._meta.concrete_fields if f.attname not in ("id",)]
    compared = [name for name in fields if name not in (kind.source, "computed_at")]
    for chunk in _chunks(kind.sources(since)):
        rows = kind.rows(chunk, now=now)
        stored = {
            row[kind.source]: row
            for row in kind.model._default_manager.filter(
                **{f"{kind.source}__in": list(rows)}
            ).values("pk", kind.source, *compared)
        }
        create: list[models.Model] = []
        update: list[models.Model] = []
        gone: list[int] = []
        for source_id, row in rows.items():
            old = stored.get(source_id)
            if row is None:
                if old is not None:
                    gone.append(old["pk"])
                    touched.add(old["month"])
                continue
            if old is not None and all(old[name] == row[name] for name in compared):
                continue
            fact = kind.model(**{kind.source: source_id, **row, "computed_at": now})
            touched.add(row["month"])
            if old is None:
                create.append(fact)
            else:
                fact.pk = old["pk"]
                update.append(fact)
                touched.add(old["month"])
        with transaction.atomic():
            kind.model._default_manager.filter(pk__in=gone).delete()
            kind.model._default_manager.bulk_create(create, batch_size=BATCH)
            kind.model._default_manager.bulk_update(
                update, [*compared, "computed_at"], batch_size=BATCH
            )
            if len(touched) != len(run.months):
                _keep_months(run, touched)
        written += len(create) + len(update) + len(gone)
    if since is None:
        touched |= set(kind.model._default_manager.values_list("month", flat=True).distinct())
    return written


def _rehome_facts() -> int:
    """The facts' region strings set to their settlement's region again, after a settlement
    moved to another region (the cells read regions from the settlements, `_Places`; this
    keeps the facts telling the same). One statement per kind; run when the geography changed."""
    region = Subquery(Settlement.objects.filter(pk=OuterRef("settlement_id")).values("region")[:1])
    return sum(
        kind.model._default_manager.exclude(region=region).update(region=region)
        for kind in FACT_KINDS
    )


# --- places ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Digest:
    """What the cells depend on besides the facts, as two halves of `ComputeRun.geography`:
    the places (settlements' regions, populations and countries, facilities' regions and
    settlements, the specialties' codes), whose change alters every month, and the clinical
    staff of home facilities, whose change alters every month with training. 128 bits each."""

    places: str
    staff: str

    @classmethod
    def of(cls, places: object, staff: object) -> Digest:
        return cls(_hash(places), _hash(staff))

    @classmethod
    def parse(cls, stored: str) -> Digest:
        return cls(stored[:32], stored[32:])

    def __str__(self) -> str:
        return self.places + self.staff


def _hash(value: object) -> str:
    text = json.dumps(value, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _clinical_staff() -> QuerySet[User, tuple[int, int]]:
    """The clinical staff of home facilities, whose training coverage is counted."""
    return (
        User.objects.filter(
            role__in=TRAINED_ROLES,
            is_active=True,
            facility__isnull=False,
            facility__country=settings.FARCARE_HOME_COUNTRY,
        )
        .order_by("pk")
        .values_list("pk", "facility_id")
    )


@dataclass(frozen=True)
class _Places:
    """Primary keys to the keys cells use (UUIDs, codes), and the geography of lines and rates;
    loaded once a run (thousands of rows, not millions), with its digest."""

    settlement: dict[int, str]
    facility: dict[int, str]
    facility_place: dict[int, Where]
    specialty: dict[int, str]
    geography: Geography
    digest: Digest

    @classmethod
    def load(cls) -> _Places:
        home = settings.FARCARE_HOME_COUNTRY
        settlement: dict[int, str] = {}
        settlement_region: dict[str, str] = {}
        population: dict[tuple[str, str], int] = {}
        settlements = list(
            Settlement.objects.order_by("pk").values_list(
                "pk", "uuid", "region", "population", "country"
            )
        )
        for pk, uuid, region, people, country in settlements:
            settlement[pk] = str(uuid)
            settlement_region[str(uuid)] = region
            if country == home and people:
                population[("settlement", str(uuid))] = people
                population[("region", region)] = population.get(("region", region), 0) + people
                population[("all", "all")] = population.get(("all", "all"), 0) + people
        facility: dict[int, str] = {}
        facility_region: dict[str, str] = {}
        facility_place: dict[int, Where] = {}
        facilities = list(
            Facility.objects.order_by("pk").values_list("pk", "uuid", "region", "settlement_id")
        )
        for pk, uuid, region, settlement_id in facilities:
            facility[pk] = str(uuid)
            facility_region[str(uuid)] = region
            facility_place[pk] = Where(region, settlement[settlement_id], str(uuid))
        specialty = dict(Specialty.objects.order_by("pk").values_list("pk", "code"))
        return cls(
            settlement=settlement,
            facility=facility,
            facility_place=facility_place,
            specialty=specialty,
            geography=Geography(settlement_region, facility_region, population),
            digest=Digest.of(
                [home, settlements, facilities, sorted(specialty.items())],
                list(_clinical_staff()),
            ),
        )

    def where(self, settlement_id: int, facility_id: int) -> Where:
        """A fact's places; the region is its settlement's now (not the one stored with the
        fact), the same the lines are drawn by."""
        key = self.settlement[settlement_id]
        return Where(self.geography.settlement_region[key], key, self.facility[facility_id])


# --- cells -----------------------------------------------------------------------------------


def _consult_rows(month: date, places: _Places) -> Iterator[ConsultRow]:
    for (
        settlement_id,
        facility_id,
        specialty_id,
        partner_id,
        form,
        outcome,
        minutes,
        met,
        escalated,
        reroutes,
    ) in ConsultFact.objects.filter(month=month).values_list(
        "settlement_id",
        "facility_id",
        "specialty_id",
        "partner_id",
        "form",
        "outcome",
        "minutes_to_conclusion",
        "deadline_met",
        "escalated",
        "reroutes",
    ):
        yield ConsultRow(
            where=places.where(settlement_id, facility_id),
            specialty=places.specialty[specialty_id],
            partner=places.facility[partner_id] if partner_id is not None else "",
            form=form,
            outcome=outcome,
            minutes=minutes,
            deadline_met=met,
            escalated=escalated,
            rerouted=reroutes > 0,
        )


def _transfer_rows(month: date, places: _Places) -> Iterator[TransferRow]:
    for settlement_id, facility_id, outcome, minutes, within in TransferFact.objects.filter(
        month=month
    ).values_list(
        "settlement_id",
        "facility_id",
        "outcome",
        "minutes_to_arrival",
        "within_target",
    ):
        yield TransferRow(
            where=places.where(settlement_id, facility_id),
            counted=outcome not in LEFT_OUT,
            minutes=minutes,
            within_target=within,
        )


def _result_rows(month: date, places: _Places) -> Iterator[ResultRow]:
    for settlement_id, facility_id, minutes, ack in ResultFact.objects.filter(
        month=month
    ).values_list("settlement_id", "facility_id", "minutes_turnaround", "critical_ack_minutes"):
        yield ResultRow(
            where=places.where(settlement_id, facility_id),
            minutes=minutes,
            ack_minutes=ack,
        )


def _attended(month: date) -> QuerySet[Attendance]:
    start, end = month_period(month, month)
    return Attendance.objects.filter(
        session__starts_at__gte=start, session__starts_at__lt=end, minutes__gt=0
    ).exclude(session__status=SessionStatus.CANCELLED)


def _staff_rows(month: date, places: _Places) -> list[StaffRow]:
    """The clinical staff of home facilities and whether each attended a session of the month;
    nothing for a month without any session attended (no training to show)."""
    trained = set(_attended(month).values_list("learner_id", flat=True).distinct())
    if not trained:
        return []
    return [
        StaffRow(where=places.facility_place[facility_id], trained=pk in trained)
        for pk, facility_id in _clinical_staff()
    ]


def _training_months(since: datetime | None) -> set[date]:
    rows = Attendance.objects.filter(minutes__gt=0)
    if since is not None:
        rows = rows.filter(
            Q(joined_at__gte=since) | Q(left_at__gte=since) | Q(session__starts_at__gte=since)
        )
    starts = rows.values_list("session__starts_at", flat=True).distinct()
    return {facts.month_of(moment) for moment in starts}


def _refresh_month(month: date, *, places: _Places, now: datetime) -> int:
    """Compute the month's cells and write the differences; returns how many were written."""
    computed = month_cells(
        consults=_consult_rows(month, places),
        transfers=_transfer_rows(month, places),
        results=_result_rows(month, places),
        staff=_staff_rows(month, places),
        geography=places.geography,
    )
    return _write_cells(month, computed, now=now)


def _write_cells(month: date, computed: dict[CellId, Figure], *, now: datetime) -> int:
    with transaction.atomic():
        stored: dict[CellId, tuple[int, int, float | None, bool]] = {
            (indicator, dimension, key, form, cross): (pk, count, value, hidden)
            for pk, indicator, dimension, key, form, cross, count, value, hidden in (
                IndicatorCell.objects.filter(month=month).values_list(
                    "pk",
                    "indicator",
                    "dimension",
                    "key",
                    "form",
                    "cross_border",
                    "count",
                    "value",
                    "suppressed",
                )
            )
        }
        create: list[IndicatorCell] = []
        update: list[IndicatorCell] = []
        for cell_id, figure in computed.items():
            old = stored.pop(cell_id, None)
            if old is not None and old[1:] == (figure.count, figure.value, figure.suppressed):
                continue
            indicator, dimension, key, form, cross = cell_id
            cell = IndicatorCell(
                month=month,
                dimension=dimension,
                key=key,
                indicator=indicator,
                form=form,
                cross_border=cross,
                count=figure.count,
                value=figure.value,
                suppressed=figure.suppressed,
                computed_at=now,
            )
            if old is None:
                create.append(cell)
            else:
                cell.pk = old[0]
                update.append(cell)
        gone: Sequence[int] = [old[0] for old in stored.values()]
        for start in range(0, len(gone), BATCH):
            IndicatorCell.objects.filter(pk__in=gone[start : start + BATCH]).delete()
        IndicatorCell.objects.bulk_create(create, batch_size=BATCH)
        IndicatorCell.objects.bulk_update(
            update, ["count", "value", "suppressed", "computed_at"], batch_size=BATCH
        )
    return len(create) + len(update) + len(gone)
