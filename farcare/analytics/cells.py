"""One month's indicator cells from that month's facts, and which of them no reader may show
(issue 18). Pure: `compute` loads the facts and writes what this returns.

A cell is an indicator of a place (or specialty, or partner hospital) in the month, for all
consultation forms or one, and for all consultations or the cross-border ones only (the
partner's view). Every fact is counted in the "all" cell, its region, its settlement and its
facility (and a consultation in its specialty and its partner's cell); a cross-border one also
in the cross-border cells of all, its region, specialty and partner (the partner's view has no
finer place).

Which cells exist: every one that at least one fact falls in; for consultations, also a zero
count and a zero rate for every settlement and region with residents, so that a place nobody
asked for help from shows 0 rather than nothing (equal access means showing who gets nothing).
Minutes and shares exist only over at least one event.

Per-form counts exist for "all" only: the consultations of one form in a settlement, beside
the settlement's consultations of every form and the form's total over the region, would be a
two-way table (settlements by forms, with both margins), and such tables give hidden cells away
when their equations are solved together. Per-form medians, 90th percentiles and deadline
shares stay for every place (hidden over fewer than SMALL_CELL events; their counts are never
shown).

Suppression is decided here once, over every line a page can show (`lines`), for all cells of
the month together: COUNT cells by `core.suppression.protect` (the greedy rules, then an audit
of every line that adds up until no hidden cell is determined by them), with two kinds of count
that no page shows but a reader can work out: the consultations still open (a place's
consultations less its outcomes) and the domestic ones (everyone's figure less the cross-border
one: a home analyst reads both views); a RATE is hidden with the count it follows;
a MINUTES or SHARE figure is hidden over fewer than SMALL_CELL events; the training coverage
share is hidden with its count of trained staff as well, since staff × share gives that count
back.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from farcare.core.suppression import SMALL_CELL, Line, protect

from .indicators import BY_CODE, Kind, percentile
from .models import Outcome

# (indicator, dimension, key, form, cross_border)
CellId = tuple[str, str, str, str, bool]
# (indicator, dimension, key, form): a cell within one view (cross-border or not).
Member = tuple[str, str, str, str]

ALL = ("all", "all")
# The dimensions of cross-border figures (the partner's view): nothing finer than a region, so
# no settlement's or facility's few cross-border requests are counted where no page shows them.
CROSS_BORDER_DIMENSIONS = ("all", "region", "specialty", "partner")
# Places that have a population for the rate per 1,000 residents.
RATE_DIMENSIONS = ("all", "region", "settlement")
# A share that multiplied by its count (shown beside it) gives back a count: hidden with it.
SHARE_OF_COUNT = {"training_coverage_share": "trained_staff"}
OUTCOME_COUNTS = {
    Outcome.ANSWERED: "answered",
    Outcome.REJECTED: "declined",
    Outcome.FAILED: "not_answered",
    Outcome.CANCELLED: "cancelled",
}
# The consultations still open: the rest of a place's consultations once its outcomes are
# counted. Never a cell of its own (nothing to show before the month is over), but part of the
# equation consultations = answered + declined + not answered + cancelled + open, and of its
# places' lines, as a count that is never shown (`core.suppression`).
OPEN = "open"
# Everyone's figure less the cross-border one ("domestic consultations", say): never a cell
# either, but what a reader of both views can work out.
DOMESTIC = "domestic"


@dataclass(frozen=True)
class Figure:
    count: int
    value: float | None
    suppressed: bool = False


@dataclass(frozen=True)
class Where:
    """A fact's places as cell keys: region name, settlement and facility UUIDs."""

    region: str
    settlement: str
    facility: str

    def places(self) -> tuple[tuple[str, str], ...]:
        return (
            ALL,
            ("region", self.region),
            ("settlement", self.settlement),
            ("facility", self.facility),
        )


@dataclass(frozen=True)
class ConsultRow:
    where: Where
    specialty: str  # code
    partner: str  # the partner facility's UUID, "" when not cross-border
    form: str
    outcome: str
    minutes: int | None
    deadline_met: bool | None
    escalated: bool
    rerouted: bool

    @property
    def cross_border(self) -> bool:
        return bool(self.partner)


@dataclass(frozen=True)
class TransferRow:
    where: Where
    counted: bool  # an evacuation (not cancelled, not ended by treatment on site)
    minutes: int | None  # first contact to arrival
    within_target: bool | None


@dataclass(frozen=True)
class ResultRow:
    where: Where
    minutes: int | None
    ack_minutes: int | None


@dataclass(frozen=True)
class StaffRow:
    """A member of the clinical staff, by their facility's place, and whether they attended a
    session that month."""

    where: Where
    trained: bool


@dataclass(frozen=True)
class Geography:
    """What lines and rates need: the region of every settlement and facility key, and the
    residents of every place with a population ("all", regions, settlements)."""

    settlement_region: dict[str, str]
    facility_region: dict[str, str]
    population: dict[tuple[str, str], int]


@dataclass
class _Consults:
    count: int = 0
    minutes: list[int] = field(default_factory=list)
    judged: int = 0
    met: int = 0
    escalated: int = 0
    rerouted: int = 0
    outcomes: dict[str, int] = field(default_factory=lambda: defaultdict(int))


@dataclass(frozen=True)
class _Cell:
    """Where a group's figures go: one (dimension, key, form, view)."""

    cells: dict[CellId, Figure]
    dimension: str
    key: str
    form: str
    cross: bool

    def put(self, code: str, count: int, value: float | None) -> None:
        indicator = BY_CODE[code]
        if (self.cross and not indicator.cross_border) or (self.form and not indicator.by_form):
            return
        if self.form and indicator.kind == Kind.COUNT and (self.dimension, self.key) != ALL:
            return  # per-form counts of "all" only (see the module's docstring)
        if indicator.kind in (Kind.MINUTES, Kind.SHARE) and count == 0:
            return  # nothing to compute it from
        self.cells[(code, self.dimension, self.key, self.form, self.cross)] = Figure(count, value)


def _consult_cells(rows: Iterable[ConsultRow], geography: Geography) -> dict[CellId, Figure]:
    groups: dict[tuple[str, str, str, bool], _Consults] = defaultdict(_Consults)
    any_row = False
    for row in rows:
        any_row = True
        places = [*row.where.places(), ("specialty", row.specialty)]
        if row.partner:
            places.append(("partner", row.partner))
        views = (False, True) if row.cross_border else (False,)
        for dimension, key in places:
            for form in ("", row.form):
                for cross in views:
                    if dimension == "partner" and not cross:
                        continue  # partner hospitals have cross-border figures only
                    if cross and dimension not in CROSS_BORDER_DIMENSIONS:
                        continue  # no page shows them: hidden cells there would cost
                    group = groups[(dimension, key, form, cross)]
                    group.count += 1
                    if row.minutes is not None:
                        group.minutes.append(row.minutes)
                    if row.deadline_met is not None:
                        group.judged += 1
                        group.met += row.deadline_met
                    group.escalated += row.escalated
                    group.rerouted += row.rerouted
                    group.outcomes[row.outcome] += 1
    if any_row:
        # A place with residents and no consultation shows 0, not nothing.
        for (dimension, key), people in geography.population.items():
            if people > 0:
                groups.setdefault((dimension, key, "", False), _Consults())
    cells: dict[CellId, Figure] = {}
    for (dimension, key, form, cross), group in groups.items():
        cell = _Cell(cells, dimension, key, form, cross)
        cell.put("consultations", group.count, group.count)
        if dimension in RATE_DIMENSIONS and not form and not cross:
            people = geography.population.get((dimension, key), 0)
            rate = group.count / people * 1000 if people else None
            cell.put("consultations_per_1000", group.count, rate)
        if group.count == 0:
            continue  # a zero place shows its count and rate only
        cell.put("conclusion_minutes_median", len(group.minutes), percentile(group.minutes, 0.5))
        cell.put("conclusion_minutes_p90", len(group.minutes), percentile(group.minutes, 0.9))
        share = group.met / group.judged if group.judged else None
        cell.put("deadline_met_share", group.judged, share)
        cell.put("escalated", group.escalated, group.escalated)
        cell.put("rerouted", group.rerouted, group.rerouted)
        for outcome, code in OUTCOME_COUNTS.items():
            number = group.outcomes.get(outcome, 0)
            cell.put(code, number, number)
    return cells


def _transfer_cells(rows: Iterable[TransferRow]) -> dict[CellId, Figure]:
    count: dict[tuple[str, str], int] = defaultdict(int)
    minutes: dict[tuple[str, str], list[int]] = defaultdict(list)
    judged: dict[tuple[str, str], int] = defaultdict(int)
    within: dict[tuple[str, str], int] = defaultdict(int)
    for row in rows:
        if not row.counted:
            continue
        for place in row.where.places():
            count[place] += 1
            if row.minutes is not None:
                minutes[place].append(row.minutes)
            if row.within_target is not None:
                judged[place] += 1
                within[place] += row.within_target
    cells: dict[CellId, Figure] = {}
    for (dimension, key), number in count.items():
        cells[("transfers", dimension, key, "", False)] = Figure(number, number)
        values = minutes[(dimension, key)]
        if values:
            cells[("transfer_minutes_median", dimension, key, "", False)] = Figure(
                len(values), percentile(values, 0.5)
            )
        total = judged[(dimension, key)]
        if total:
            cells[("transfer_within_24h_share", dimension, key, "", False)] = Figure(
                total, within[(dimension, key)] / total
            )
    return cells


def _result_cells(rows: Iterable[ResultRow]) -> dict[CellId, Figure]:
    count: dict[tuple[str, str], int] = defaultdict(int)
    minutes: dict[tuple[str, str], list[int]] = defaultdict(list)
    acks: dict[tuple[str, str], list[int]] = defaultdict(list)
    for row in rows:
        for place in row.where.places():
            count[place] += 1
            if row.minutes is not None:
                minutes[place].append(row.minutes)
            if row.ack_minutes is not None:
                acks[place].append(row.ack_minutes)
    cells: dict[CellId, Figure] = {}
    for (dimension, key), number in count.items():
        cells[("results", dimension, key, "", False)] = Figure(number, number)
        values = minutes[(dimension, key)]
        if values:
            for code, share in (("result_minutes_median", 0.5), ("result_minutes_p90", 0.9)):
                cells[(code, dimension, key, "", False)] = Figure(
                    len(values), percentile(values, share)
                )
        waits = acks[(dimension, key)]
        if waits:
            cells[("critical_ack_minutes_median", dimension, key, "", False)] = Figure(
                len(waits), percentile(waits, 0.5)
            )
    return cells


def _training_cells(rows: Iterable[StaffRow]) -> dict[CellId, Figure]:
    staff: dict[tuple[str, str], int] = defaultdict(int)
    trained: dict[tuple[str, str], int] = defaultdict(int)
    for row in rows:
        for place in row.where.places():
            staff[place] += 1
            trained[place] += row.trained
    cells: dict[CellId, Figure] = {}
    for (dimension, key), number in staff.items():
        attended = trained[(dimension, key)]
        cells[("trained_staff", dimension, key, "", False)] = Figure(attended, attended)
        cells[("training_coverage_share", dimension, key, "", False)] = Figure(
            number, attended / number
        )
    return cells


def month_cells(
    *,
    consults: Iterable[ConsultRow],
    transfers: Iterable[TransferRow],
    results: Iterable[ResultRow],
    staff: Iterable[StaffRow],
    geography: Geography,
) -> dict[CellId, Figure]:
    """Every cell of one month, suppression decided."""
    cells = {
        **_consult_cells(consults, geography),
        **_transfer_cells(transfers),
        **_result_cells(results),
        **_training_cells(staff),
    }
    return suppressed(cells, geography)


def lines(members: Iterable[Member], geography: Geography) -> list[Line[Member]]:
    """The lines a page can show of one view's count cells, per indicator and for all forms
    and for each form (a page narrowed to one form shows that form's cells beside that form's
    total): the regions, the facilities, the specialties and the partners each with the "all"
    total; per region its settlements, and its facilities, with the region's cell as total (for
    facilities a precaution: a facility's patients may live elsewhere, so that line need not
    add up); each key's cells per form with its cell of all forms; and each key's outcomes with
    its consultations (the open ones a member never shown, whose own place lines come with
    them when `members` holds them)."""
    found: list[Line[Member]] = []
    groups: dict[tuple[str, str], list[Member]] = defaultdict(list)
    for member in members:
        groups[(member[0], member[3])].append(member)
    for (code, form), group in sorted(groups.items()):
        found.extend(_place_lines(group, code, form, geography))
    per_key: dict[tuple[str, str, str], list[Member]] = defaultdict(list)
    for (_code, form), group in groups.items():
        if form:
            for member in group:
                per_key[member[:3]].append(member)
    for (code, dimension, key), group in per_key.items():
        found.append(Line((code, dimension, key, ""), tuple(sorted(group))))
    outcomes = (*OUTCOME_COUNTS.values(), OPEN)
    for _code, dimension, key, _form in groups.get(("consultations", ""), []):
        found.append(
            Line(
                ("consultations", dimension, key, ""),
                tuple((outcome, dimension, key, "") for outcome in outcomes),
            )
        )
    return [line for line in found if line.members]


def _place_lines(
    members: list[Member], code: str, form: str, geography: Geography
) -> list[Line[Member]]:
    total: Member = (code, "all", "all", form)
    by_dimension: dict[str, list[Member]] = defaultdict(list)
    settlements: dict[str, list[Member]] = defaultdict(list)
    facilities: dict[str, list[Member]] = defaultdict(list)
    for member in members:
        _code, dimension, key, _form = member
        by_dimension[dimension].append(member)
        if dimension == "settlement":
            settlements[geography.settlement_region.get(key, "")].append(member)
        elif dimension == "facility":
            facilities[geography.facility_region.get(key, "")].append(member)
    found = [
        Line(total, tuple(sorted(by_dimension[dimension])))
        for dimension in ("region", "facility", "specialty", "partner")
    ]
    for region, group in (*settlements.items(), *facilities.items()):
        found.append(Line((code, "region", region, form), tuple(sorted(group))))
    return found


def suppressed(cells: dict[CellId, Figure], geography: Geography) -> dict[CellId, Figure]:
    """The cells with `suppressed` decided (see the module's docstring)."""
    views: dict[bool, dict[Member, int]] = {False: {}, True: {}}
    for (code, dimension, key, form, cross), figure in cells.items():
        if BY_CODE[code].kind == Kind.COUNT:
            views[cross][(code, dimension, key, form)] = figure.count
    counts: dict[CellId, int] = {}
    found: list[Line[CellId]] = []
    never_shown: list[CellId] = []
    for cross, view in views.items():
        still_open = _still_open(view)
        never_shown += [(*member, cross) for member in still_open]
        view |= still_open
        counts |= {(*member, cross): number for member, number in view.items()}
        found += [_in_view(line, cross) for line in lines(view, geography)]
    # Everyone's figure less the cross-border one is the domestic one: never shown, but a
    # reader of both views can subtract them, so it must not give a small count away either.
    for member, number in views[True].items():
        if member[0] == OPEN or member not in views[False]:
            continue
        code, dimension, key, form = member
        domestic: CellId = (f"{DOMESTIC} {code}", dimension, key, form, False)
        counts[domestic] = views[False][member] - number
        never_shown.append(domestic)
        found.append(Line((*member, False), ((*member, True), domestic)))
    hidden = protect(counts, found, never_shown=never_shown)
    decided: dict[CellId, Figure] = {}
    for cell_id, figure in cells.items():
        code, dimension, key, form, cross = cell_id
        indicator = BY_CODE[code]
        if indicator.kind == Kind.COUNT:
            hide = cell_id in hidden
        elif indicator.kind == Kind.RATE:
            hide = (indicator.follows, dimension, key, form, cross) in hidden
        else:
            count_of = SHARE_OF_COUNT.get(code)
            hide = figure.count < SMALL_CELL or (
                count_of is not None and (count_of, dimension, key, form, cross) in hidden
            )
        decided[cell_id] = Figure(figure.count, figure.value, hide)
    return decided


def _in_view(line: Line[Member], cross: bool) -> Line[CellId]:
    total = None if line.total is None else (*line.total, cross)
    return Line(total, tuple((*member, cross) for member in line.members))


def _still_open(counts: dict[Member, int]) -> dict[Member, int]:
    """Each key's open consultations: its consultations less its counted outcomes."""
    return {
        (OPEN, dimension, key, ""): number
        - sum(counts.get((outcome, dimension, key, ""), 0) for outcome in OUTCOME_COUNTS.values())
        for (code, dimension, key, form), number in counts.items()
        if code == "consultations" and not form
    }
