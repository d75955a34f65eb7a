"""One fact row per consultation, transfer and released result: what analytics counts of it,
and never who the patient was (issue 18).

The pure part reads a case's timeline (`timeline`) and times (`minutes_between`, `month_of`);
the readers below load a chunk of sources with a fixed number of queries, whatever the chunk's
size, and hand back the fact rows as plain dicts keyed by the source's primary key (None: the
source is not counted, and a fact it had is to go). `compute` diffs them against the stored
facts and writes only what changed.

Definitions (decided for issue 18):
- Month: the calendar month in UTC of the event that starts the clock: a consultation's
  submission (`received_at`), a transfer's first medical contact, a result's release.
- Place: where the patient lives (`home_settlement` and its region: equal access is about
  residents), and the requesting facility (transfers: the origin; results: the ordering
  facility, or the patient's home facility for a result that came without an order).
- Time to conclusion: submission to the first signed conclusion, whole minutes.
- Deadline met: answered with the first conclusion signed no later than the deadline in force
  and never breached. Counted over answered requests and those whose deadline passed unanswered
  (failed, or still open past the deadline at the computation); an open request within its
  deadline, a declined and a cancelled one are not counted (None).
- Escalated: a `half_deadline` or `breached` event. Re-routed: a breach followed by routing to
  the next facility, a decline followed by routing to another consultant, or a coordinator's
  reassignment; `reroutes` counts them.
- Cross-border: the consulting facility (the routed one, or any assignment's) is outside
  FARCARE_HOME_COUNTRY; `partner` is that facility.
- Transfers: first contact to arrival, minutes; within the 24-hour target for emergencies (STEMI,
  stroke, other emergency) by `evacuation.clocks`, None until known.
- Results: order placed (or, without it, the first specimen collected) to release; critical
  acknowledgement: raised to acknowledged, the slowest of the report's alerts, None while any is
  unacknowledged.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from django.conf import settings
from django.db.models import Exists, Min, OuterRef, Q, QuerySet

from farcare.consults.models import (
    OPEN_STATUSES,
    Assignment,
    Conclusion,
    Consultation,
    Status,
    Transition,
)
from farcare.core.months import month_start
from farcare.diagnostics.models import CriticalAlert, DiagnosticReport, ReportStatus, Specimen
from farcare.evacuation.clocks import clock
from farcare.evacuation.models import FINAL_STATUSES, Transfer
from farcare.evacuation.region_clocks import EMERGENCY_CONDITIONS
from farcare.patients.models import Patient

from .models import Outcome, ResultFact

FactRow = dict[str, Any]

# --- pure ------------------------------------------------------------------------------------


def month_of(moment: datetime) -> date:
    """The first day of the moment's calendar month in UTC."""
    return month_start(moment.astimezone(UTC).date())


def minutes_between(start: datetime, end: datetime) -> int:
    """Whole minutes from start to end; a clock set back (end before start) gives 0."""
    return max(0, int((end - start).total_seconds() // 60))


OUTCOME_OF_STATUS: dict[str, Outcome] = {
    Status.COMPLETED: Outcome.ANSWERED,
    Status.REJECTED: Outcome.REJECTED,
    Status.FAILED: Outcome.FAILED,
    Status.CANCELLED: Outcome.CANCELLED,
    **{status: Outcome.OPEN for status in OPEN_STATUSES},
}
# The events of a timeline the indicators read (consults.deadlines, services.handling).
TIMELINE_EVENTS = ("half_deadline", "breached", "declined", "reassigned", "routed", "unassigned")
ROUTING_EVENTS = frozenset({"routed", "unassigned"})


@dataclass(frozen=True)
class Event:
    name: str
    at: datetime


@dataclass(frozen=True)
class Timeline:
    deadline_met: bool | None
    escalated: bool
    reroutes: int


def reroute_count(events: Sequence[Event]) -> int:
    """How many times the request moved on: a breach the watcher answered by routing up the
    table (a breach answered by failing, or a late accepted request, is no re-route), a
    decline followed by routing to another consultant, and every coordinator's reassignment."""
    count = 0
    pending = ""  # the breach or decline whose routing event has not come yet
    for event in events:
        if event.name == "reassigned":
            count += 1
            pending = ""
        elif event.name in ("breached", "declined"):
            pending = event.name
        elif event.name in ROUTING_EVENTS:
            # After a decline, "unassigned" means nobody else took it: no other consultant.
            if pending == "breached" or (pending == "declined" and event.name == "routed"):
                count += 1
            pending = ""
    return count


def timeline(
    events: Sequence[Event],
    *,
    outcome: str,
    concluded_at: datetime | None,
    deadline_at: datetime | None,
    paused: bool,
    now: datetime,
) -> Timeline:
    """Deadline compliance, escalation and re-routing of one request from its timeline
    (events in order) and its state at `now`."""
    names = {event.name for event in events}
    breached = "breached" in names
    met: bool | None
    if outcome == Outcome.ANSWERED and concluded_at is not None:
        if breached:
            met = False
        elif deadline_at is None:
            met = None  # nothing to keep
        else:
            met = concluded_at <= deadline_at
    elif outcome == Outcome.FAILED:
        met = False
    elif outcome == Outcome.OPEN:
        if breached:
            met = False
        elif paused or deadline_at is None or now <= deadline_at:
            # On hold, an urgent or planned clock stands still: not overdue yet.
            met = None
        else:
            met = False
    else:
        met = None
    return Timeline(
        deadline_met=met,
        escalated=bool(names & {"half_deadline", "breached"}),
        reroutes=reroute_count(events),
    )


def moved_since(since: datetime) -> Q:
    """The sources of patients changed since `since`: a patient who moved to another
    settlement is counted there from then on, in every month of theirs (a subquery over the
    index on `Patient.updated_at`, so each chunk's query stays cheap)."""
    return Q(patient_id__in=Patient.objects.filter(updated_at__gte=since).values("pk"))


# --- consultations ---------------------------------------------------------------------------

CONSULT_SOURCE_FIELDS = (
    "pk",
    "status",
    "form",
    "received_at",
    "deadline_at",
    "paused_at",
    "requesting_facility_id",
    "specialty_id",
    "routed_facility_id",
    "routed_facility__country",
    "patient__home_settlement_id",
    "patient__home_settlement__region",
)


def consult_sources(since: datetime | None) -> QuerySet[Consultation, dict[str, Any]]:
    """The consultations whose facts may have changed since `since` (all when None): those
    changed since (every event bumps `updated_at`), those of patients changed since (a move),
    and every open one, whose deadline can pass with nothing happening to it."""
    rows = Consultation.objects.all()
    if since is not None:
        rows = rows.filter(
            Q(updated_at__gte=since) | moved_since(since) | Q(status__in=OPEN_STATUSES)
        )
    return rows.values(*CONSULT_SOURCE_FIELDS)


def consult_facts(sources: Sequence[dict[str, Any]], *, now: datetime) -> dict[int, FactRow | None]:
    """Fact rows of a chunk of `consult_sources` rows, in three queries."""
    home = settings.FARCARE_HOME_COUNTRY
    ids = [row["pk"] for row in sources]
    events: dict[int, list[Event]] = defaultdict(list)
    for consultation_id, name, at in (
        Transition.objects.filter(consultation_id__in=ids, event__in=TIMELINE_EVENTS)
        .order_by("at", "pk")
        .values_list("consultation_id", "event", "at")
    ):
        events[consultation_id].append(Event(name, at))
    concluded = dict(
        Conclusion.objects.filter(consultation_id__in=ids)
        .values("consultation_id")
        .annotate(first=Min("signed_at"))
        .values_list("consultation_id", "first")
    )
    abroad: dict[int, int] = {}
    for consultation_id, facility_id in (
        Assignment.objects.filter(consultation_id__in=ids)
        .exclude(facility__country=home)
        .order_by("assigned_at", "pk")
        .values_list("consultation_id", "facility_id")
    ):
        abroad[consultation_id] = facility_id  # the latest one abroad
    facts: dict[int, FactRow | None] = {}
    for row in sources:
        outcome = OUTCOME_OF_STATUS.get(row["status"])
        if outcome is None or row["received_at"] is None:
            facts[row["pk"]] = None  # a draft, or entered in error
            continue
        partner = (
            row["routed_facility_id"]
            if row["routed_facility_id"] is not None and row["routed_facility__country"] != home
            else abroad.get(row["pk"])
        )
        concluded_at = concluded.get(row["pk"]) if outcome == Outcome.ANSWERED else None
        read = timeline(
            events.get(row["pk"], []),
            outcome=outcome,
            concluded_at=concluded_at,
            deadline_at=row["deadline_at"],
            paused=row["paused_at"] is not None,
            now=now,
        )
        facts[row["pk"]] = {
            "month": month_of(row["received_at"]),
            "region": row["patient__home_settlement__region"],
            "settlement_id": row["patient__home_settlement_id"],
            "facility_id": row["requesting_facility_id"],
            "specialty_id": row["specialty_id"],
            "form": row["form"],
            "cross_border": partner is not None,
            "partner_id": partner,
            "outcome": str(outcome),
            "requested_at": row["received_at"],
            "concluded_at": concluded_at,
            "minutes_to_conclusion": (
                minutes_between(row["received_at"], concluded_at) if concluded_at else None
            ),
            "deadline_met": read.deadline_met,
            "escalated": read.escalated,
            "reroutes": read.reroutes,
        }
    return facts


# --- transfers -------------------------------------------------------------------------------

TRANSFER_SOURCE_FIELDS = (
    "pk",
    "status",
    "condition",
    "origin_id",
    "first_contact_at",
    "decided_at",
    "departed_at",
    "arrived_at",
    "handed_over_at",
    "ended_at",
    "held_seconds",
    "held_since",
    "patient__home_settlement_id",
    "patient__home_settlement__region",
)


@dataclass(frozen=True)
class _Timed:
    """A transfer's times as `evacuation.clocks` reads them."""

    first_contact_at: datetime
    decided_at: datetime
    departed_at: datetime | None
    arrived_at: datetime | None
    handed_over_at: datetime | None
    ended_at: datetime | None
    held_seconds: int
    held_since: datetime | None


def transfer_sources(since: datetime | None) -> QuerySet[Transfer, dict[str, Any]]:
    """Transfers changed since `since` (all when None), those of patients changed since (a
    move), and every one still under way, whose 24 hours can run out with nothing happening
    to it."""
    rows = Transfer.objects.all()
    if since is not None:
        rows = rows.filter(
            Q(updated_at__gte=since) | moved_since(since) | ~Q(status__in=sorted(FINAL_STATUSES))
        )
    return rows.values(*TRANSFER_SOURCE_FIELDS)


def transfer_facts(
    sources: Sequence[dict[str, Any]], *, now: datetime
) -> dict[int, FactRow | None]:
    facts: dict[int, FactRow | None] = {}
    for row in sources:
        emergency = row["condition"] in EMERGENCY_CONDITIONS
        timed = _Timed(**{name: row[name] for name in _Timed.__dataclass_fields__})
        facts[row["pk"]] = {
            "month": month_of(row["first_contact_at"]),
            "region": row["patient__home_settlement__region"],
            "settlement_id": row["patient__home_settlement_id"],
            "facility_id": row["origin_id"],
            "condition": row["condition"],
            "emergency": emergency,
            "outcome": row["status"],
            "minutes_to_arrival": (
                minutes_between(row["first_contact_at"], row["arrived_at"])
                if row["arrived_at"]
                else None
            ),
            "within_target": clock(timed, now).within_target() if emergency else None,
        }
    return facts


# --- results ---------------------------------------------------------------------------------

REPORT_SOURCE_FIELDS = (
    "pk",
    "status",
    "category",
    "released_at",
    "order_id",
    "order__placed_at",
    "order__ordering_facility_id",
    "patient__home_facility_id",
    "patient__home_settlement_id",
    "patient__home_settlement__region",
)
NOT_COUNTED_REPORTS = (ReportStatus.CANCELLED, ReportStatus.ENTERED_IN_ERROR)


def report_sources(since: datetime | None) -> QuerySet[DiagnosticReport, dict[str, Any]]:
    """Reports that may have changed since `since` (all when None): a report has no
    `updated_at`, so: made, released or reviewed since, with a critical alert raised or
    acknowledged since, or of a patient changed since (a move); and every report still
    counted that no longer should be: held back for a review after its release (`release.hold`
    takes `released_at` back) or cancelled by the laboratory after it (a later HL7 message),
    neither of which leaves a time to look for."""
    rows = DiagnosticReport.objects.all()
    if since is not None:
        alerted = CriticalAlert.objects.filter(
            Q(raised_at__gte=since) | Q(acknowledged_at__gte=since)
        ).values("observation__report_id")
        # Few: such a report's fact goes in the run that finds it. Listed once a run rather
        # than as a subquery every chunk would evaluate again over all the facts.
        uncounted = list(
            DiagnosticReport.objects.filter(
                Q(released_at__isnull=True) | Q(status__in=NOT_COUNTED_REPORTS)
            )
            .filter(Exists(ResultFact.objects.filter(report_id=OuterRef("pk"))))
            .values_list("pk", flat=True)
        )
        rows = rows.filter(
            Q(created_at__gte=since)
            | Q(released_at__gte=since)
            | Q(reviewed_at__gte=since)
            | Q(pk__in=alerted)
            | moved_since(since)
            | Q(pk__in=uncounted)
        )
    return rows.values(*REPORT_SOURCE_FIELDS)


def slowest_acknowledgement(alerts: Iterable[tuple[datetime, datetime | None]]) -> int | None:
    """Minutes from raising to acknowledging the slowest of a report's alerts; None when there
    is none or one is still unacknowledged (its time is not known yet)."""
    minutes = []
    for raised, acknowledged in alerts:
        if acknowledged is None:
            return None
        minutes.append(minutes_between(raised, acknowledged))
    return max(minutes) if minutes else None


def report_facts(sources: Sequence[dict[str, Any]], *, now: datetime) -> dict[int, FactRow | None]:
    """Fact rows of a chunk of `report_sources` rows, in two queries. `now` is unused (a
    result's figures do not change with time) and taken for the readers' common shape."""
    ids = [row["pk"] for row in sources]
    order_ids = [row["order_id"] for row in sources if row["order_id"] is not None]
    collected = dict(
        Specimen.objects.filter(order_id__in=order_ids, collected_at__isnull=False)
        .values("order_id")
        .annotate(first=Min("collected_at"))
        .values_list("order_id", "first")
    )
    alerts: dict[int, list[tuple[datetime, datetime | None]]] = defaultdict(list)
    for report_id, raised_at, acknowledged_at in CriticalAlert.objects.filter(
        observation__report_id__in=ids
    ).values_list("observation__report_id", "raised_at", "acknowledged_at"):
        alerts[report_id].append((raised_at, acknowledged_at))
    facts: dict[int, FactRow | None] = {}
    for row in sources:
        if row["released_at"] is None or row["status"] in NOT_COUNTED_REPORTS:
            facts[row["pk"]] = None
            continue
        start = row["order__placed_at"] or collected.get(row["order_id"])
        raised = alerts.get(row["pk"], [])
        facts[row["pk"]] = {
            "month": month_of(row["released_at"]),
            "region": row["patient__home_settlement__region"],
            "settlement_id": row["patient__home_settlement_id"],
            "facility_id": row["order__ordering_facility_id"] or row["patient__home_facility_id"],
            "category": row["category"],
            "minutes_turnaround": (
                minutes_between(start, row["released_at"]) if start is not None else None
            ),
            "critical_alerts": len(raised),
            "critical_ack_minutes": slowest_acknowledgement(raised),
        }
    return facts
