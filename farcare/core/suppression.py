"""Which counts an aggregate may not show, so that no reader can single out a person.

Primary suppression: a count of 1 to SMALL_CELL - 1 could be one identifiable person, so it is
hidden.

Some counts are part of what adds up without ever being shown (`never_shown`: the consultations
still open, the rest of a row of outcomes). A reader may work them out, so they count as known
like any shown cell (knowing that 40 are still open singles out nobody) and, when small, are
hidden like any small count: the rules below keep them from being worked out. Hiding one costs
no reader anything, so such a count is the first choice of complement.

A line (members beside the total they add up to) says total = sum of members, and a reader can
solve it for what is hidden. `suppress_lines` applies two rules to every line whose total is
shown, and repeats them until nothing changes (a cell hidden for one line is a member or the
total of others):

- a lone hidden cell is no protection: a lone hidden member is the total minus the rest, and a
  lone hidden total is the sum of its members;
- hidden members whose sum is small pin each other: every hidden member is at least 1 (zero is
  never hidden), so with h of them summing to s each lies between 1 and s - (h - 1), and when
  that is below SMALL_CELL the reader knows every one of them is small (22 = 1 + 1 + 20 with the
  20 shown: both hidden cells are exactly 1). A line is safe only when s >= (h - 1) + SMALL_CELL.

An unsafe line hides its smallest shown non-zero member (which gives away the least; ties go to
the key whose repr sorts first; a count never shown goes first), or its total when no member is
left to hide.

Rules line by line do not see equations solved together. A page that shows a two-way table (the
residents of each settlement by outcome, beside the settlement's consultations and each
outcome's total of the region) can leave a cell that only the lines taken together give away.
So `protect` follows the greedy rules with an audit: `determined` finds, by exact linear algebra
over every line that adds up, each hidden cell whose value follows from the shown ones, and
`protect` hides one more cell beside each and starts again until no hidden cell is determined.

Zero is never hidden and never chosen as a complement: a zero reveals nobody, and hiding a
known zero protects nothing (the reader can still subtract it).

A line need not add up: a facility's patients may live in another region, so the region's
residents are no total of the facilities in it. A reader who takes it for an equation is off
by the difference, often small, so the rules still hide a second member beside a lone hidden
one there, as a precaution; but never such a line's total (it is no equation, so hiding its
total protects nothing, and the total is the true total of other lines). That is also why a
zero total is never chosen: a total that adds up over a hidden member is at least 1.

Pure: no ORM; callers pass counts and the lines their pages (or any other reader) can show.
"""

from __future__ import annotations

import heapq
import random
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)

# Counts below this (and above zero) are not shown.
SMALL_CELL = 5
# What a hidden count reads as, wherever it is printed.
SUPPRESSED_TEXT = "×"

Rational = int | Fraction


def is_small(count: int) -> bool:
    """A count that could single out a person: 1 to SMALL_CELL - 1."""
    return 0 < count < SMALL_CELL


@dataclass(frozen=True)
class Line(Generic[K]):
    """Cells a reader sees side by side with the total they add up to (settlements of a region
    with the region's cell, say). `total` is None when no total is shown: then nothing can be
    worked out by subtraction and the line needs no complementary cell."""

    total: K | None
    members: tuple[K, ...]


def _ordered(lines: Iterable[Line[K]]) -> list[Line[K]]:
    """The lines without repeated members, in an order that does not depend on the caller's."""
    return sorted(
        (Line(line.total, tuple(dict.fromkeys(line.members))) for line in lines),
        key=lambda line: (repr(line.total), tuple(repr(member) for member in line.members)),
    )


def suppress_lines(
    counts: Mapping[K, int],
    lines: Iterable[Line[K]],
    *,
    never_shown: Iterable[K] = (),
    hidden: Iterable[K] = (),
) -> set[K]:
    """The keys to hide: every small count (besides `hidden`, already decided), then
    complementary cells until every line with a shown total is safe (see the module's
    docstring), `never_shown` ones first. The result holds the `never_shown` keys hidden; the
    caller has nothing to hide for them. A key missing from `counts` counts as zero.

    Deterministic: the same counts and lines, in any order, hide the same keys (lines are
    visited in a fixed order, and ties between equally small complements go to the key whose
    repr sorts first)."""

    def count(key: K) -> int:
        return counts.get(key, 0)

    chosen: set[K] = {key for key, value in counts.items() if is_small(value)}
    chosen |= set(hidden)
    free = frozenset(never_shown)
    ordered = _ordered(lines)
    lines_of: dict[K, list[int]] = defaultdict(list)
    for index, line in enumerate(ordered):
        for cell in (line.total, *line.members):
            if cell is not None:
                lines_of[cell].append(index)
    # A line needs another look only when one of its cells was hidden since it was last seen.
    dirty = [line.total is not None for line in ordered]
    while any(dirty):
        for index, line in enumerate(ordered):
            if not dirty[index]:
                continue
            dirty[index] = False
            cell = _complement(line, count, chosen, free)
            if cell is None:
                continue
            chosen.add(cell)
            for other in lines_of[cell]:
                dirty[other] = ordered[other].total is not None
    return chosen


def _complement(
    line: Line[K], count: Callable[[K], int], hidden: set[K], free: frozenset[K]
) -> K | None:
    """The cell an unsafe line hides next, or None when the line is safe (or nothing non-zero
    is left to hide in it)."""
    if line.total is None:
        return None
    if line.total in hidden:
        # A hidden total is the sum of its members only when none of them is hidden.
        if any(member in hidden for member in line.members):
            return None
    else:
        secret = [member for member in line.members if member in hidden]
        if not secret:
            return None
        if len(secret) > 1 and sum(map(count, secret)) >= len(secret) - 1 + SMALL_CELL:
            return None
    candidates = [m for m in line.members if m not in hidden and count(m) > 0]
    if candidates:
        return min(candidates, key=lambda m: (m not in free, count(m), repr(m)))
    # Only the total of a line that adds up: one that does not is no equation, so hiding its
    # total protects nothing, and would cost a figure that is the true total of other lines.
    # (A total that adds up over a hidden member is not zero.)
    if line.total not in hidden and count(line.total) == sum(map(count, line.members)):
        return line.total
    return None


def determined(lines: Iterable[Line[K]], hidden: Iterable[K]) -> set[K]:
    """The hidden cells whose value follows exactly from the shown cells and the lines, each
    taken as the equation total - sum(members) = 0 (a line without a total says nothing).

    Exact linear algebra over the hidden cells: a cell is determined when its coordinate is zero
    in every solution of the homogeneous system, that is in every vector of the null space. The
    system is sparse (a cell is in two or three lines) and can hold thousands of hidden cells
    in one connected piece (every facility's declined and cancelled counts, bound together by
    the outcomes' totals), so dense methods (an SVD is cubic in the cells) are too slow here:
    sparse elimination over the rationals (the fewest-cells line first, the rarest cell as
    pivot) brings it to echelon form, and two null vectors with random free coordinates stand
    for the whole null space. A cell that is determined is zero in both whatever the draw; one
    that is not is zero in a draw with a chance below 2**-60, which at worst hides a cell more.
    Deterministic (fixed seed)."""
    secret = set(hidden)
    rows: list[dict[int, Rational]] = []
    index: dict[K, int] = {}
    keys: list[K] = []
    for line in _ordered(lines):
        if line.total is None:
            continue
        coefficients: dict[K, int] = defaultdict(int)
        coefficients[line.total] += 1
        for member in line.members:
            coefficients[member] -= 1
        row: dict[int, Rational] = {}
        for key, coefficient in coefficients.items():
            if key in secret and coefficient:
                if key not in index:
                    index[key] = len(keys)
                    keys.append(key)
                row[index[key]] = coefficient
        if row:
            rows.append(row)
    pivots = _echelon(rows)
    rng = random.Random(18)
    zero = set(range(len(keys)))
    for _draw in range(2):
        vector = _null_vector(pivots, len(keys), rng)
        zero = {variable for variable in zero if vector[variable] == 0}
    return {keys[variable] for variable in zero}


def _echelon(rows: list[dict[int, Rational]]) -> list[tuple[int, dict[int, Rational]]]:
    """Gaussian elimination in place: (pivot variable, its row) in the order eliminated. A
    pivot's row holds only variables that are free or eliminated after it."""
    containing: dict[int, set[int]] = defaultdict(set)
    for number, row in enumerate(rows):
        for variable in row:
            containing[variable].add(number)
    waiting = [(len(row), number) for number, row in enumerate(rows)]
    heapq.heapify(waiting)
    done: set[int] = set()
    pivots: list[tuple[int, dict[int, Rational]]] = []
    while waiting:
        length, number = heapq.heappop(waiting)
        row = rows[number]
        if number in done or length != len(row):
            continue  # an outdated entry: the row has changed since and is queued again
        done.add(number)
        for variable in row:
            containing[variable].discard(number)
        if not row:
            continue  # a consequence of the lines before it
        pivot = min(row, key=lambda variable: (len(containing[variable]), variable))
        for other in sorted(containing[pivot]):
            target = rows[other]
            factor = _divide(target[pivot], row[pivot])
            for variable, coefficient in row.items():
                value = target.get(variable, 0) - factor * coefficient
                if value:
                    if variable not in target:
                        containing[variable].add(other)
                    target[variable] = value
                elif variable in target:
                    del target[variable]
                    containing[variable].discard(other)
            heapq.heappush(waiting, (len(target), other))
        pivots.append((pivot, row))
    return pivots


def _divide(numerator: Rational, denominator: Rational) -> Rational:
    # The lines' coefficients are ±1 and most pivots stay ±1: integers where they can be.
    if isinstance(numerator, int) and isinstance(denominator, int) and numerator % denominator == 0:
        return numerator // denominator
    return Fraction(numerator) / denominator


def _null_vector(
    pivots: list[tuple[int, dict[int, Rational]]], size: int, rng: random.Random
) -> list[Rational]:
    """A solution of the homogeneous system: random free variables, the pivots solved from
    the last eliminated back to the first."""
    bound = {pivot for pivot, _row in pivots}
    vector: list[Rational] = [
        0 if variable in bound else rng.randrange(1, 2**62) for variable in range(size)
    ]
    for pivot, row in reversed(pivots):
        rest = sum(coefficient * vector[v] for v, coefficient in row.items() if v != pivot)
        vector[pivot] = _divide(-rest, row[pivot])
    return vector


def protect(
    counts: Mapping[K, int], lines: Iterable[Line[K]], *, never_shown: Iterable[K] = ()
) -> set[K]:
    """The keys to hide: `suppress_lines`, then until `determined` finds no hidden cell, one
    more cell hidden beside each determined one and the greedy rules again. `never_shown` as
    for `suppress_lines`: counts that add up without being shown, the first complements.

    The audit solves every line that adds up (its total is the sum of its members' counts): a
    line that does not (a region's residents beside the facilities in it, some of whose
    patients live elsewhere) is no equation a reader can solve, though the greedy rules still
    apply to it. A line that adds up by chance is solved too, since a reader may take it for
    one. Beside a determined cell goes the smallest shown non-zero member of a line holding it,
    else that line's shown total; if every line holding it is hidden all through, the search
    widens to the lines of their hidden cells (a determined cell always has a shown non-zero
    cell in its part of the system, or its value would be 0)."""

    def count(key: K) -> int:
        return counts.get(key, 0)

    every = _ordered(lines)
    never = frozenset(never_shown)
    equations = [
        line
        for line in every
        if line.total is not None and count(line.total) == sum(map(count, line.members))
    ]
    lines_of: dict[K, list[Line[K]]] = defaultdict(list)
    for line in equations:
        for cell in (line.total, *line.members):
            if cell is not None:
                lines_of[cell].append(line)
    hidden = suppress_lines(counts, every, never_shown=never)
    while True:
        found = determined(equations, hidden)
        if not found:
            return hidden
        added: set[K] = set()
        near_added: set[K] = set()
        for cell in sorted(found, key=repr):
            if cell in near_added:
                continue  # the cell just hidden beside a neighbour may do; looked at again
            choice = _beside(cell, lines_of, count, hidden | added, never)
            if choice is None:
                continue
            added.add(choice)
            for line in lines_of[choice]:
                near_added.update(c for c in (line.total, *line.members) if c is not None)
        if not added:
            # Cannot happen for counts that add up: see the docstring. Hide what is left
            # rather than show a determined cell.
            added = {c for cell in found for line in lines_of[cell] for c in _cells(line)}
            added = {c for c in added if count(c) > 0} - hidden
            if not added:
                return hidden
        hidden = suppress_lines(counts, every, never_shown=never, hidden=hidden | added)


def _cells(line: Line[K]) -> tuple[K, ...]:
    return line.members if line.total is None else (line.total, *line.members)


def _beside(
    cell: K,
    lines_of: Mapping[K, list[Line[K]]],
    count: Callable[[K], int],
    hidden: set[K],
    free: frozenset[K],
) -> K | None:
    """The cell to hide so that `cell` is no longer determined: the smallest shown non-zero
    member of a line holding it (one never shown first), else the smallest such total; a
    breadth-first search through hidden cells' lines when its own lines have none."""
    seen: set[K] = {cell}
    frontier = [cell]
    while frontier:
        near = [line for c in frontier for line in lines_of.get(c, [])]
        members = {m for line in near for m in line.members if m not in hidden and count(m) > 0}
        if members:
            return min(members, key=lambda m: (m not in free, count(m), repr(m)))
        totals = {
            line.total
            for line in near
            if line.total is not None and line.total not in hidden and count(line.total) > 0
        }
        if totals:
            return min(totals, key=lambda t: (t not in free, count(t), repr(t)))
        reached = {c for line in near for c in _cells(line) if c in hidden} - seen
        seen |= reached
        frontier = sorted(reached, key=repr)
    return None


def suppress(count: int) -> str:
    """A count on its own (no line, no total beside it): shown unless it is small."""
    return SUPPRESSED_TEXT if is_small(count) else str(count)


def shown(count: int, *, hidden: bool) -> str:
    """A count as printed once `suppress_lines` has decided: every hidden cell reads the same,
    so a reader cannot tell a small count from its complement."""
    return SUPPRESSED_TEXT if hidden else str(count)
