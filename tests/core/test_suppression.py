"""Small counts are hidden, and so is a second count wherever a shown total would give the first
away by subtraction, or pin it among small ones, or where the lines solved together would
(farcare.core.suppression)."""

import itertools
import random

import numpy as np
import pytest

from farcare.core.suppression import (
    SMALL_CELL,
    SUPPRESSED_TEXT,
    Line,
    determined,
    is_small,
    protect,
    shown,
    suppress,
    suppress_lines,
)


def _derivable(counts, lines, hidden):
    """Hidden cells a reader could work out exactly, going through the lines one unknown at a
    time: a line's only unknown cell is its total minus the rest, or the sum of its members."""
    known = set(counts) - set(hidden)
    progress = True
    while progress:
        progress = False
        for line in lines:
            if line.total is None:
                continue
            unknown = [c for c in (line.total, *line.members) if c not in known]
            if len(unknown) == 1:
                known.add(unknown[0])
                progress = True
    return known & set(hidden)


def _solvable(lines, hidden):
    """Hidden cells that follow exactly from all the lines solved together, found independently
    of `determined`: the null space of the lines over the hidden cells, by SVD; a cell is
    determined when every null vector is zero there."""
    unknown = sorted({c for line in lines for c in (line.total, *line.members) if c in hidden})
    column = {cell: i for i, cell in enumerate(unknown)}
    rows = []
    for line in lines:
        if line.total is None:
            continue
        row = np.zeros(len(unknown))
        if line.total in column:
            row[column[line.total]] += 1
        for member in dict.fromkeys(line.members):
            if member in column:
                row[column[member]] -= 1
        rows.append(row)
    if not unknown:
        return set()
    matrix = np.array(rows) if rows else np.zeros((1, len(unknown)))
    _u, singular, vt = np.linalg.svd(matrix)
    rank = int((singular > 1e-9).sum())
    null = vt[rank:]
    return {cell for cell, i in column.items() if np.all(np.abs(null[:, i]) < 1e-9)}


def test_only_counts_of_one_to_four_are_small() -> None:
    assert SMALL_CELL == 5
    assert [n for n in range(8) if is_small(n)] == [1, 2, 3, 4]
    assert suppress(3) == SUPPRESSED_TEXT
    assert suppress(0) == "0"
    assert suppress(5) == "5"
    assert shown(12, hidden=True) == SUPPRESSED_TEXT
    assert shown(12, hidden=False) == "12"


def test_a_settlement_with_three_consultations_takes_the_next_smallest_with_it() -> None:
    # A settlement with 3 consultations is hidden and, because its region's total is shown, so
    # is the next smallest settlement, so 3 cannot be found by subtraction.
    counts = {"Chukotka": 40, "Uelen": 3, "Lorino": 7, "Lavrentiya": 30}
    lines = [Line("Chukotka", ("Uelen", "Lorino", "Lavrentiya"))]

    hidden = suppress_lines(counts, lines)

    assert hidden == {"Uelen", "Lorino"}
    assert _derivable(counts, lines, hidden) == set()


def test_without_a_total_beside_it_a_small_settlement_is_hidden_alone() -> None:
    counts = {"Uelen": 3, "Lorino": 7, "Lavrentiya": 30}
    hidden = suppress_lines(counts, [Line(None, ("Uelen", "Lorino", "Lavrentiya"))])
    assert hidden == {"Uelen"}


def test_two_small_settlements_protect_each_other_when_either_could_be_five_or_more() -> None:
    # The region shows 3 + 4 = 7 together: either could be 6 and the other 1.
    counts = {"Chukotka": 37, "Uelen": 3, "Lorino": 4, "Lavrentiya": 30}
    hidden = suppress_lines(counts, [Line("Chukotka", ("Uelen", "Lorino", "Lavrentiya"))])
    assert hidden == {"Uelen", "Lorino"}


@pytest.mark.parametrize(
    ("small", "total"),
    [((1, 1), 22), ((3, 2), 25), ((2, 2, 2), 26)],
)
def test_hidden_cells_whose_sum_is_tiny_take_another_with_them(small, total) -> None:
    # 22 = 1 + 1 + 20 with the 20 shown: two hidden cells summing to 2 are both exactly 1 (zero
    # is never hidden). 3 + 2 = 5 leaves each between 1 and 4, and 2 + 2 + 2 = 6 each between
    # 1 and 4 too: the reader knows they are all small. So the 20 goes as well.
    counts = {f"s{i}": count for i, count in enumerate(small)} | {"big": 20, "region": total}
    line = Line("region", (*(f"s{i}" for i in range(len(small))), "big"))

    hidden = suppress_lines(counts, [line])

    assert hidden == set(counts) - {"region"}
    secret = sum(counts[key] for key in hidden)
    assert secret - (len(hidden) - 1) >= SMALL_CELL  # any one of them could be 5 or more


def test_a_row_of_outcomes_in_a_closed_month_hides_a_second_outcome_beside_one_declined() -> None:
    # A region's 13 consultations: 12 answered, 1 declined, none still open. The open ones are
    # never shown, but a reader who knows the month is closed knows they are 0, so 13 - 12 is
    # the declined one: the answered count goes with it.
    counts = {"consultations": 13, "answered": 12, "declined": 1, "not_answered": 0, "open": 0}
    line = Line("consultations", ("answered", "declined", "not_answered", "open"))

    hidden = suppress_lines(counts, [line], never_shown=["open"])

    assert hidden == {"declined", "answered"}


def test_a_small_count_never_shown_is_hidden_like_any_other() -> None:
    # Three consultations still open this month: never shown, and not to be found as 50 - 40 - 7.
    counts = {"consultations": 50, "answered": 40, "declined": 7, "open": 3}
    line = Line("consultations", ("answered", "declined", "open"))

    assert suppress_lines(counts, [line], never_shown=["open"]) == {"open", "declined"}


def test_a_count_never_shown_is_the_first_complement_since_hiding_it_costs_nothing() -> None:
    # One declined among 50: the 7 still open hide it, and every shown figure stays. Forty
    # still open, with none of the outcomes small, single out nobody: nothing is hidden.
    counts = {"consultations": 50, "answered": 42, "declined": 1, "open": 7}
    line = Line("consultations", ("answered", "declined", "open"))
    assert suppress_lines(counts, [line], never_shown=["open"]) == {"declined", "open"}

    busy = {"consultations": 50, "answered": 5, "declined": 5, "open": 40}
    assert suppress_lines(busy, [line], never_shown=["open"]) == set()


def test_a_zero_is_shown_and_never_taken_as_the_complement() -> None:
    # Hiding Lorino's known 0 would protect nothing: 3 would still be the region minus 30.
    counts = {"Chukotka": 33, "Uelen": 3, "Lorino": 0, "Lavrentiya": 30}
    hidden = suppress_lines(counts, [Line("Chukotka", ("Uelen", "Lorino", "Lavrentiya"))])
    assert hidden == {"Uelen", "Lavrentiya"}
    assert "Lorino" not in hidden


def test_when_no_other_settlement_can_be_hidden_the_region_total_is() -> None:
    # The only other settlement had nobody: the region's 3 would be Uelen's 3.
    counts = {"Chukotka": 3, "Uelen": 3, "Lorino": 0}
    hidden = suppress_lines(counts, [Line("Chukotka", ("Uelen", "Lorino"))])
    assert hidden == {"Uelen", "Chukotka"}


def test_a_hidden_region_makes_the_line_of_regions_hide_another_region() -> None:
    # Uelen (3) is small; its region's total is shown, and the region's only other settlement
    # had nobody, so the region is hidden. Now the line of regions has one hidden region beside
    # the shown total of all regions, so the next smallest region goes too: otherwise Chukotka's
    # 3 (and Uelen's) would be all minus Sakha minus Primorye.
    counts = {
        "all": 3 + 20 + 50,
        "Chukotka": 3,
        "Sakha": 20,
        "Primorye": 50,
        "Uelen": 3,
        "Lorino": 0,
        "Yakutsk": 12,
        "Mirny": 8,
        "Vladivostok": 50,
    }
    lines = [
        Line("all", ("Chukotka", "Sakha", "Primorye")),
        Line("Chukotka", ("Uelen", "Lorino")),
        Line("Sakha", ("Yakutsk", "Mirny")),
        Line("Primorye", ("Vladivostok",)),
    ]

    hidden = suppress_lines(counts, lines)

    # Sakha's settlements cannot all stay shown either: Sakha would be their sum, and Chukotka
    # all minus Sakha minus Primorye. The smallest, Mirny, goes with it.
    assert hidden == {"Uelen", "Chukotka", "Sakha", "Mirny"}
    assert _derivable(counts, lines, hidden) == set()


def test_a_complement_in_one_line_can_leave_a_lone_hidden_cell_in_another() -> None:
    # Settlement level: Uelen (2) takes Lorino (6) as its complement. Lorino is also counted in
    # a facility line whose total is shown, where it is now the lone hidden member, so the
    # smallest other member of that line goes too.
    counts = {"region": 2 + 6 + 40, "Uelen": 2, "Lorino": 6, "Lavrentiya": 40, "Lorino post": 6}
    counts |= {"district": 6 + 9 + 11, "Lorino clinic": 9, "Nunligran post": 11}
    lines = [
        Line("region", ("Uelen", "Lorino", "Lavrentiya")),
        Line("district", ("Lorino", "Lorino clinic", "Nunligran post")),
    ]

    hidden = suppress_lines(counts, lines)

    assert hidden == {"Uelen", "Lorino", "Lorino clinic"}
    assert _derivable(counts, lines, hidden) == set()


def test_equal_complements_are_chosen_by_key_so_every_reader_hides_the_same_cell() -> None:
    counts = {"all": 3 + 8 + 8, "b": 8, "a": 8, "c": 3}
    lines = [Line("all", ("b", "a", "c"))]
    assert suppress_lines(counts, lines) == {"c", "a"}


def test_the_same_counts_hide_the_same_cells_whatever_order_the_lines_come_in() -> None:
    counts = {
        "all": 100,
        "r1": 9,
        "r2": 31,
        "r3": 60,
        "s1": 4,
        "s2": 5,
        "s3": 6,
        "s4": 25,
        "s5": 60,
    }
    lines = [
        Line("all", ("r1", "r2", "r3")),
        Line("r1", ("s1", "s2")),
        Line("r2", ("s3", "s4")),
        Line("r3", ("s5",)),
    ]
    answers = {frozenset(suppress_lines(counts, order)) for order in itertools.permutations(lines)}
    assert len(answers) == 1
    (hidden,) = answers
    assert _derivable(counts, lines, set(hidden)) == set()


@pytest.mark.parametrize("seed", range(40))
def test_nothing_small_can_be_worked_out_from_any_shown_total(seed: int) -> None:
    import random

    rng = random.Random(seed)
    regions = {f"r{r}": [f"r{r}s{s}" for s in range(rng.randint(1, 4))] for r in range(4)}
    counts = {s: rng.choice([0, 0, 1, 2, 3, 4, 5, 6, 9, 20]) for ss in regions.values() for s in ss}
    for region, settlements in regions.items():
        counts[region] = sum(counts[s] for s in settlements)
    counts["all"] = sum(counts[r] for r in regions)
    lines = [Line("all", tuple(regions))] + [Line(r, tuple(ss)) for r, ss in regions.items()]

    hidden = suppress_lines(counts, lines)

    assert {k for k, v in counts.items() if is_small(v)} <= hidden
    assert all(counts[k] > 0 for k in hidden)
    assert _derivable(counts, lines, hidden) == set()


# The review's month (cells.month_cells before per-form counts were limited to "all"): settlements
# of three regions by form, with their regions and the total, as the greedy rules left them.
FORMS = ("", "emergency", "urgent", "planned")
GRID = {
    "all": (65, 22, 28, 15),
    "R0": (12, 2, 9, 1),
    "R1": (51, 20, 17, 14),
    "R2": (2, 0, 2, 0),
    "R0s0": (3, 1, 2, 0),
    "R0s1": (0, 0, 0, 0),
    "R0s2": (9, 1, 7, 1),
    "R1s0": (25, 13, 5, 7),
    "R1s1": (25, 6, 12, 7),
    "R1s2": (1, 1, 0, 0),
    "R2s0": (2, 0, 2, 0),
}
GRID_REGIONS = {"R0": ("R0s0", "R0s1", "R0s2"), "R1": ("R1s0", "R1s1", "R1s2"), "R2": ("R2s0",)}
GREEDY_HIDDEN = {("R0", form) for form in FORMS} | {
    ("R1", "emergency"),
    ("R1", "planned"),
    ("R2", ""),
    ("R2", "urgent"),
    ("R0s0", ""),
    ("R0s0", "emergency"),
    ("R0s0", "urgent"),
    ("R0s2", "emergency"),
    ("R0s2", "planned"),
    ("R1s0", ""),
    ("R1s0", "planned"),
    ("R1s2", ""),
    ("R1s2", "emergency"),
    ("R2s0", ""),
    ("R2s0", "urgent"),
}


def _grid():
    counts = {(key, form): row[i] for key, row in GRID.items() for i, form in enumerate(FORMS)}
    lines = []
    for form in FORMS:
        lines.append(Line(("all", form), tuple((region, form) for region in GRID_REGIONS)))
        for region, settlements in GRID_REGIONS.items():
            lines.append(Line((region, form), tuple((s, form) for s in settlements)))
    for key in GRID:
        lines.append(Line((key, ""), tuple((key, form) for form in FORMS[1:])))
    return counts, lines


def test_the_reviews_grid_of_settlements_by_form_gives_a_cell_away_when_solved_together() -> None:
    counts, lines = _grid()
    # No line has a lone hidden cell: the reader who goes line by line gets nowhere...
    assert _derivable(counts, lines, GREEDY_HIDDEN) == set()
    # ...but the lines solved together give Uelen's one emergency consultation exactly.
    assert determined(lines, GREEDY_HIDDEN) == {("R0s0", "emergency")}
    assert _solvable(lines, GREEDY_HIDDEN) == {("R0s0", "emergency")}


def test_protect_leaves_no_cell_of_the_grid_determined() -> None:
    counts, lines = _grid()

    hidden = protect(counts, lines)

    assert {key for key, count in counts.items() if is_small(count)} <= hidden
    assert all(counts[key] > 0 for key in hidden)
    assert determined(lines, hidden) == set()
    assert _solvable(lines, hidden) == set()
    assert _derivable(counts, lines, hidden) == set()


def test_a_hidden_total_whose_members_are_all_shown_is_determined() -> None:
    lines = [Line("region", ("a", "b")), Line("all", ("region", "other"))]
    assert determined(lines, {"region"}) == {"region"}
    assert determined(lines, {"region", "other"}) == {"region", "other"}
    assert determined(lines, {"region", "a", "other"}) == set()


@pytest.mark.parametrize("seed", range(5))
def test_determined_agrees_with_the_null_space_of_the_lines(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(60):
        keys = list(range(rng.randint(2, 12)))
        lines = []
        for _ in range(rng.randint(1, 8)):
            members = rng.sample(keys, rng.randint(1, min(5, len(keys))))
            total = rng.choice([None, *(k for k in keys if k not in members)])
            lines.append(Line(total, tuple(members)))
        hidden = set(rng.sample(keys, rng.randint(0, len(keys))))
        assert determined(lines, hidden) == _solvable(lines, hidden)


def test_a_line_that_does_not_add_up_hides_no_zero_and_is_not_solved() -> None:
    # A post in Chukotka asked for two residents of Sakha; Chukotka's own residents asked for
    # nobody. The line "Chukotka's facilities beside Chukotka's residents" does not add up: a
    # precaution, whose only other cell is a zero that would read as hidden for nothing.
    counts = {"all": 32, "Chukotka": 0, "Sakha": 32, "Uelen post": 2, "Yakutsk hub": 30}
    lines = [
        Line("all", ("Chukotka", "Sakha")),
        Line("all", ("Uelen post", "Yakutsk hub")),
        Line("Chukotka", ("Uelen post",)),
    ]

    hidden = protect(counts, lines)

    assert hidden == {"Uelen post", "Yakutsk hub"}
    assert "Chukotka" not in hidden


def test_protect_hides_the_same_cells_whatever_order_the_lines_come_in() -> None:
    counts, lines = _grid()
    rng = random.Random(7)
    answers = set()
    for _ in range(5):
        rng.shuffle(lines)
        answers.add(frozenset(protect(counts, lines)))
    assert len(answers) == 1


def _two_way(rng: random.Random):
    """Places (regions and their settlements) by columns (forms, or outcomes with a column
    never shown) with both margins: the shape of table greedy rules alone can leave open."""
    columns = [f"c{i}" for i in range(rng.randint(2, 4))]
    regions = {f"r{r}": [f"r{r}s{s}" for s in range(rng.randint(1, 3))] for r in range(3)}
    counts = {}
    for settlements in regions.values():
        for s in settlements:
            for c in columns:
                counts[(s, c)] = rng.choice([0, 0, 1, 1, 2, 3, 4, 5, 7, 12, 30])
    for region, settlements in regions.items():
        for c in columns:
            counts[(region, c)] = sum(counts[(s, c)] for s in settlements)
    for c in columns:
        counts[("all", c)] = sum(counts[(r, c)] for r in regions)
    places = ["all", *regions, *(s for ss in regions.values() for s in ss)]
    for place in places:
        counts[(place, "")] = sum(counts[(place, c)] for c in columns)
    lines = []
    for c in ["", *columns]:
        lines.append(Line(("all", c), tuple((r, c) for r in regions)))
        for region, settlements in regions.items():
            lines.append(Line((region, c), tuple((s, c) for s in settlements)))
    for place in places:
        lines.append(Line((place, ""), tuple((place, c) for c in columns)))
    # The last column is never shown (consultations still open).
    never = [(place, columns[-1]) for place in places] if rng.random() < 0.5 else []
    return counts, lines, never


@pytest.mark.parametrize("seed", range(40))
def test_after_protect_no_hidden_cell_of_a_two_way_table_can_be_worked_out(seed: int) -> None:
    counts, lines, never = _two_way(random.Random(seed))

    hidden = protect(counts, lines, never_shown=never)

    assert {key for key, count in counts.items() if is_small(count)} <= hidden
    assert all(counts[key] > 0 for key in hidden)
    assert _solvable(lines, hidden) == set()
    for line in lines:
        secret = [m for m in line.members if m in hidden]
        if line.total not in hidden and secret:
            assert len(secret) >= 2
            assert sum(counts[m] for m in secret) >= len(secret) - 1 + SMALL_CELL
