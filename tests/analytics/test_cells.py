"""One month's cells as a reader gets them (farcare.analytics.cells): whatever a reader does with
every total the pages show, solving all of them together, no hidden count comes out exact.

The equations here are written out again from what the figures mean (every consultation is
counted once in its region, settlement, facility, specialty, partner and form, and has one
outcome), not taken from `cells.lines`, so a line the computation forgot shows up as a leak."""

from __future__ import annotations

import random

import numpy as np
import pytest

from farcare.analytics.cells import (
    ConsultRow,
    Geography,
    StaffRow,
    TransferRow,
    Where,
    month_cells,
)
from farcare.analytics.models import Outcome

FORMS = ("emergency", "urgent", "planned")
OUTCOMES = ("answered", "declined", "not_answered", "cancelled")
OUTCOME_OF = {
    Outcome.ANSWERED: "answered",
    Outcome.REJECTED: "declined",
    Outcome.FAILED: "not_answered",
    Outcome.CANCELLED: "cancelled",
}


def _world(rng: random.Random) -> Geography:
    """Three to five regions of one to three settlements of 500 people, one or two facilities
    each (the review's world)."""
    settlement_region: dict[str, str] = {}
    facility_region: dict[str, str] = {}
    population = {("all", "all"): 0}
    for r in range(rng.randint(3, 5)):
        region = f"R{r}"
        population[("region", region)] = 0
        for s in range(rng.randint(1, 3)):
            settlement = f"{region}s{s}"
            settlement_region[settlement] = region
            population[("settlement", settlement)] = 500
            population[("region", region)] += 500
            population[("all", "all")] += 500
        for f in range(rng.randint(1, 2)):
            facility_region[f"{region}f{f}"] = region
    return Geography(settlement_region, facility_region, population)


def _month(rng: random.Random, geography: Geography, abroad: float) -> list[ConsultRow]:
    """Requests of each settlement's residents: mostly at their own region's facilities (a
    share `abroad` elsewhere), some to partners abroad, some still open."""
    rows = []
    facilities = list(geography.facility_region)
    outcomes = [Outcome.ANSWERED] * 6 + [
        Outcome.REJECTED,
        Outcome.FAILED,
        Outcome.CANCELLED,
        Outcome.OPEN,
    ]
    for settlement, region in geography.settlement_region.items():
        own = [f for f in facilities if geography.facility_region[f] == region]
        for _ in range(rng.choice([0, 1, 2, 3, 6, 9, 15, 25])):
            facility = rng.choice(facilities if rng.random() < abroad else own)
            rows.append(
                ConsultRow(
                    where=Where(region, settlement, facility),
                    specialty=rng.choice(["cardiology", "neurology", "surgery"]),
                    partner=rng.choice(["", "", "", "P1", "P2"]),
                    form=rng.choice(FORMS),
                    outcome=rng.choice(outcomes),
                    minutes=10,
                    deadline_met=True,
                    escalated=rng.random() < 0.2,
                    rerouted=False,
                )
            )
    return rows


def _equations(cells, geography: Geography):
    """Every equation that holds between the counts of both views (everyone's and the
    cross-border ones), each a list of (cell, ±1); a cell missing from `cells` is a known zero.
    ("open", ...) cells (still open) and ("domestic", ...) ones (everyone's less cross-border)
    are never shown."""
    keys: dict[tuple[str, str, bool], list[str]] = {}
    for code, dimension, key, form, cross in cells:
        if not form:
            keys.setdefault((code, dimension, cross), []).append(key)
    equations = []
    for cross in (False, True):

        def cell(code: str, dimension: str, key: str, form: str = "", x: bool = cross) -> tuple:
            return (code, dimension, key, form, x)

        # The cross-border view has nothing finer than a region (no page shows it).
        for code in ("consultations", *OUTCOMES, "escalated", "transfers", "trained_staff"):
            consult = code not in ("transfers", "trained_staff")
            if cross and not consult:
                continue
            every = [(cell(code, "all", "all"), 1)]
            dimensions = ["region", "specialty", "partner"] if cross else ["region", "facility"]
            if consult and not cross:
                dimensions.append("specialty")
            for dimension in dimensions:
                members = keys.get((code, dimension, cross), [])
                equations.append(every + [(cell(code, dimension, k), -1) for k in members])
            for region in set(geography.settlement_region.values()) if not cross else ():
                total = [(cell(code, "region", region), 1)]
                settlements = [
                    s
                    for s in keys.get((code, "settlement", cross), [])
                    if geography.settlement_region[s] == region
                ]
                equations.append(total + [(cell(code, "settlement", s), -1) for s in settlements])
                if code == "trained_staff":  # staff are counted where they work: this one holds
                    facilities = [
                        f
                        for f in keys.get((code, "facility", cross), [])
                        if geography.facility_region[f] == region
                    ]
                    equations.append(total + [(cell(code, "facility", f), -1) for f in facilities])
        equations.append(
            [(cell("consultations", "all", "all"), 1)]
            + [(cell("consultations", "all", "all", form), -1) for form in FORMS]
        )
        for dimension in ("all", "region", "settlement", "facility", "specialty", "partner"):
            for key in keys.get(("consultations", dimension, cross), []):
                equations.append(
                    [(cell("consultations", dimension, key), 1)]
                    + [(cell(outcome, dimension, key), -1) for outcome in OUTCOMES]
                    + [(cell("open", dimension, key), -1)]
                )
    # Everyone's = cross-border + domestic, for every cross-border cell but a partner's.
    for code, dimension, key, form, cross in cells:
        if cross and dimension != "partner" and code in ("consultations", *OUTCOMES, "escalated"):
            everyone, cross_border = (
                (code, dimension, key, form, False),
                (code, dimension, key, form, True),
            )
            domestic = ("domestic", code, dimension, key, form)
            equations.append([(everyone, 1), (cross_border, -1), (domestic, -1)])
    return equations


def _never_shown(cells) -> dict:
    """The counts no page shows: still open, and domestic (everyone's less cross-border)."""
    found = {}
    for (code, dimension, key, form, cross), figure in cells.items():
        if code == "consultations" and not form:
            answered = sum(
                cells[(o, dimension, key, "", cross)].count
                for o in OUTCOMES
                if (o, dimension, key, "", cross) in cells
            )
            found[("open", dimension, key, "", cross)] = figure.count - answered
        if cross and (code, dimension, key, form, False) in cells:
            everyone = cells[(code, dimension, key, form, False)].count
            found[("domestic", code, dimension, key, form)] = everyone - figure.count
    return found


def _worked_out(cells, geography: Geography) -> dict:
    """Hidden counts (and small counts never shown) that follow exactly from the shown ones and
    the equations, by the null space of the equations over the unknowns."""
    never = _never_shown(cells)
    equations = _equations(cells, geography)
    unknown = {
        c
        for equation in equations
        for c, _sign in equation
        if (c in cells and cells[c].suppressed) or never.get(c, 0) > 0
    }
    exact = set()
    for part in _connected(equations, unknown):
        column = {c: i for i, c in enumerate(sorted(part, key=repr))}
        rows = [e for e in equations if any(c in column for c, _sign in e)]
        matrix = np.zeros((len(rows), len(column)))
        for row, equation in enumerate(rows):
            for c, sign in equation:
                if c in column:
                    matrix[row, column[c]] += sign
        _u, singular, vt = np.linalg.svd(matrix)
        null = vt[int((singular > 1e-9).sum()) :]
        exact |= {c for c, i in column.items() if np.all(np.abs(null[:, i]) < 1e-9)}
    # A count never shown worked out exactly is no leak unless it is small.
    return {
        c: cells[c].count if c in cells else never[c]
        for c in exact
        if c in cells or 0 < never[c] < 5
    }


def _connected(equations, unknown: set) -> list[set]:
    """The unknowns in groups that no equation joins (solved apart, each a small matrix)."""
    parent = {c: c for c in unknown}

    def root(c):
        while parent[c] != c:
            parent[c] = parent[parent[c]]
            c = parent[c]
        return c

    for equation in equations:
        inside = [c for c, _sign in equation if c in unknown]
        for c in inside[1:]:
            parent[root(c)] = root(inside[0])
    groups: dict = {}
    for c in unknown:
        groups.setdefault(root(c), set()).add(c)
    return list(groups.values())


def _staff(rng: random.Random, geography: Geography) -> list[StaffRow]:
    staff = []
    for facility, region in geography.facility_region.items():
        settlement = next(s for s, r in geography.settlement_region.items() if r == region)
        for _ in range(rng.choice([0, 2, 3, 8])):
            staff.append(StaffRow(Where(region, settlement, facility), rng.random() < 0.5))
    return staff


def _transfers(rows: list[ConsultRow], rng: random.Random) -> list[TransferRow]:
    return [TransferRow(row.where, True, 600, True) for row in rows if rng.random() < 0.15]


@pytest.mark.parametrize("abroad", [0.0, 0.3])
def test_no_hidden_count_of_a_hundred_random_months_can_be_worked_out(abroad: float) -> None:
    rng = random.Random(18)
    for _month_number in range(50):
        geography = _world(rng)
        rows = _month(rng, geography, abroad)
        cells = month_cells(
            consults=rows,
            transfers=_transfers(rows, rng),
            results=[],
            staff=_staff(rng, geography),
            geography=geography,
        )
        counts = {c: f for c, f in cells.items() if c[0] in ("consultations", *OUTCOMES)}
        assert all(f.count > 0 for f in counts.values() if f.suppressed)
        assert all(f.suppressed for f in counts.values() if 0 < f.count < 5)
        assert _worked_out(cells, geography) == {}


GEOGRAPHY = Geography(
    settlement_region={"uelen": "R", "lorino": "R", "lavrentiya": "R", "yakutsk": "Q"},
    facility_region={"post": "R", "hub": "Q"},
    population={
        ("all", "all"): 4000,
        ("region", "R"): 3000,
        ("region", "Q"): 1000,
        ("settlement", "uelen"): 1000,
        ("settlement", "lorino"): 1000,
        ("settlement", "lavrentiya"): 1000,
        ("settlement", "yakutsk"): 1000,
    },
)


def _answered(settlement: str, region: str, facility: str, form: str = "planned") -> ConsultRow:
    return ConsultRow(
        Where(region, settlement, facility),
        "cardiology",
        "",
        form,
        Outcome.ANSWERED,
        30,
        True,
        False,
        False,
    )


def test_two_settlements_of_one_request_each_are_not_left_as_the_only_hidden_pair() -> None:
    # The review: region R's 22 = 1 + 1 + 20 with Lavrentiya's 20 shown would say both hidden
    # settlements had exactly one request (a hidden count is never 0).
    rows = (
        [_answered("uelen", "R", "post"), _answered("lorino", "R", "post")]
        + [_answered("lavrentiya", "R", "post")] * 20
        + [_answered("yakutsk", "Q", "hub")] * 30
    )

    cells = month_cells(consults=rows, transfers=[], results=[], staff=[], geography=GEOGRAPHY)

    settlements = [
        cells[("consultations", "settlement", s, "", False)] for s in GEOGRAPHY.settlement_region
    ]
    hidden = [f.count for f in settlements if f.suppressed]
    assert len(hidden) >= 2
    assert sum(hidden) - (len(hidden) - 1) >= 5  # any of them could be 5 or more


def test_a_form_is_counted_for_everyone_only_and_timed_everywhere() -> None:
    rows = [_answered("uelen", "R", "post", form="emergency")] * 6 + [
        _answered("lorino", "R", "post", form="planned")
    ] * 7

    cells = month_cells(consults=rows, transfers=[], results=[], staff=[], geography=GEOGRAPHY)

    per_form_counts = {c[1] for c in cells if c[0] == "consultations" and c[3]}
    assert per_form_counts == {"all"}
    assert cells[("consultations", "all", "all", "emergency", False)].count == 6
    median = cells[("conclusion_minutes_median", "settlement", "uelen", "emergency", False)]
    assert (median.value, median.suppressed) == (30, False)
