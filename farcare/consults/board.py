"""The coordinator's board narrowed by filters: district, specialty, form, NEWS2 band and
deadline, each a GET parameter (a link works without script, and the live refresh asks for the
same address), with how many requests each choice would show beside it and the total.

A coordinator's board holds the open requests of their region (the access policy gives them no
other), so the region is the board itself and it is narrowed by district: the district hospital
whose posts a request came from (a post's first district hospital up the referral chain; a
hospital is its own district). Counts are those of faceted search: beside each choice, how many
requests it would show with the other filters kept. They are counted here over the region's
open requests (a few hundred facts, one query), not by a query per choice."""

from __future__ import annotations

from collections import Counter, defaultdict, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from django.db.models import QuerySet
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from farcare.accounts.models import User
from farcare.clinical.news2 import Risk as News2Risk
from farcare.core import values as values_shown
from farcare.network.models import Facility, FacilityKind, ReferralLink, Specialty

from .models import OPEN_STATUSES, Consultation, ConsultForm
from .selectors import WORKLIST_LIMIT, Risk, board_queryset, risk_of

FACETS: tuple[str, ...] = ("district", "specialty", "form", "news2", "deadline")
NO_SCORE = "none"

FACET_LABELS: dict[str, str | Promise] = {
    "district": gettext_lazy("District"),
    "specialty": gettext_lazy("Specialty"),
    "form": gettext_lazy("Form"),
    "news2": "NEWS2",  # a score's name, the same in every language
    "deadline": gettext_lazy("Deadline"),
}

# The deadline's colours (selectors.Risk) as a coordinator names them, the most pressing first.
DEADLINE_LABELS = {
    Risk.BREACHED: gettext_lazy("overdue"),
    Risk.HIGH: gettext_lazy("near the deadline"),
    Risk.WATCH: gettext_lazy("half the time gone"),
    Risk.PAUSED: gettext_lazy("clock stopped"),
    Risk.OK: gettext_lazy("in time"),
}


# --- pure: which requests a choice shows, and how many ----------------------------------------


def district_of(facility_id: int, kinds: Mapping[int, str], up: Mapping[int, Sequence[int]]) -> int:
    """The nearest facility at or above `facility_id` in the referral chain that is not a post
    (breadth first, links in rank order); the facility itself when nothing is above it."""
    queue = deque([facility_id])
    seen = {facility_id}
    while queue:
        current = queue.popleft()
        if kinds.get(current, FacilityKind.FELDSHER_POST) != FacilityKind.FELDSHER_POST:
            return current
        for target in up.get(current, ()):
            if target not in seen:
                seen.add(target)
                queue.append(target)
    return facility_id


@dataclass(frozen=True)
class BoardCase:
    """What the filters read of one open request: its value for each facet."""

    pk: int
    values: Mapping[str, str]


def matching(
    cases: Sequence[BoardCase], chosen: Mapping[str, str], skip: str = ""
) -> list[BoardCase]:
    """The requests every chosen filter (but `skip`) lets through."""
    wanted = [(facet, value) for facet, value in chosen.items() if value and facet != skip]
    return [case for case in cases if all(case.values[f] == v for f, v in wanted)]


def facet_counts(cases: Sequence[BoardCase], chosen: Mapping[str, str]) -> dict[str, Counter[str]]:
    """Per facet and value: how many requests choosing that value would show, the other
    facets' choices kept."""
    return {
        facet: Counter(case.values[facet] for case in matching(cases, chosen, skip=facet))
        for facet in FACETS
    }


def query_with(chosen: Mapping[str, str], facet: str, value: str) -> str:
    """The board's query string with `facet` set to `value` ('' drops it), in FACETS order."""
    changed = {**chosen, facet: value}
    return "?" + urlencode([(f, changed[f]) for f in FACETS if changed.get(f)])


@dataclass(frozen=True)
class Option:
    value: str
    label: str
    count: int
    chosen: bool
    query: str


@dataclass(frozen=True)
class Facet:
    name: str
    label: str
    every: Option  # "all", the facet not narrowed
    options: list[Option]


def facets(
    cases: Sequence[BoardCase],
    chosen: Mapping[str, str],
    values: Mapping[str, Sequence[tuple[str, str]]],
    keep_empty: frozenset[str] = frozenset({"form", "deadline"}),
) -> list[Facet]:
    """Each facet's choices, labelled and counted. A choice that would show nothing is left out
    (a district with no open request), except where an empty count says something (no overdue
    request) or the choice is the one made."""
    counts = facet_counts(cases, chosen)
    made = []
    for facet in FACETS:
        options = [
            Option(
                value=value,
                label=label,
                count=counts[facet][value],
                chosen=chosen.get(facet) == value,
                query=query_with(chosen, facet, value),
            )
            for value, label in values[facet]
            if counts[facet][value] or facet in keep_empty or chosen.get(facet) == value
        ]
        every = Option(
            value="",
            label=_("all"),
            count=sum(counts[facet].values()),
            chosen=not chosen.get(facet),
            query=query_with(chosen, facet, ""),
        )
        made.append(Facet(facet, str(FACET_LABELS[facet]), every, options))
    return made


# --- the board for a coordinator ----------------------------------------------------------------


@dataclass(frozen=True)
class Board:
    facets: list[Facet]
    chosen: dict[str, str]
    total: int  # open requests the filters let through
    open_total: int  # open requests of the region
    consultations: QuerySet[Consultation]  # what the list shows (at most WORKLIST_LIMIT)


def _districts(facility_ids: set[int]) -> dict[int, Facility]:
    kinds = dict(Facility.objects.values_list("pk", "kind"))
    up: dict[int, list[int]] = defaultdict(list)
    for source_id, target_id in ReferralLink.objects.order_by("rank").values_list(
        "source_id", "target_id"
    ):
        up[source_id].append(target_id)
    district_ids = {pk: district_of(pk, kinds, up) for pk in facility_ids}
    named = Facility.objects.in_bulk(set(district_ids.values()))
    return {pk: named[district] for pk, district in district_ids.items()}


def coordinator_filtered_board(user: User, query: Mapping[str, str], now: datetime) -> Board:
    """The coordinator's board as `query` narrows it (unknown values are ignored)."""
    region = user.facility.region if user.facility else ""
    facts = list(
        Consultation.objects.filter(requesting_facility__region=region, status__in=OPEN_STATUSES)
        .values_list(
            "pk",
            "requesting_facility_id",
            "specialty_id",
            "form",
            "news2_band",
            "status",
            "received_at",
            "deadline_at",
            "paused_at",
        )
        .order_by("deadline_at", "pk")
    )
    districts = _districts({row[1] for row in facts})
    specialties = Specialty.objects.in_bulk({row[2] for row in facts})
    cases = [
        BoardCase(
            pk=pk,
            values={
                "district": str(districts[facility_id].uuid),
                "specialty": specialties[specialty_id].code,
                "form": form,
                "news2": band if band in News2Risk.values else NO_SCORE,
                "deadline": risk_of(
                    status=status,
                    received_at=received_at,
                    deadline_at=deadline_at,
                    paused_at=paused_at,
                    now=now,
                ),
            },
        )
        for (
            pk,
            facility_id,
            specialty_id,
            form,
            band,
            status,
            received_at,
            deadline_at,
            paused_at,
        ) in facts
    ]
    values: dict[str, list[tuple[str, str]]] = {
        "district": sorted(
            {(str(f.uuid), f.name) for f in districts.values()}, key=lambda item: item[1]
        ),
        "specialty": sorted(
            ((s.code, s.name) for s in specialties.values()), key=lambda item: item[1]
        ),
        "form": [(str(value), str(label)) for value, label in ConsultForm.choices],
        "news2": [
            *((str(band), values_shown.news2_band(band)) for band in reversed(News2Risk.values)),
            (NO_SCORE, _("no score")),
        ],
        "deadline": [(str(value), str(label)) for value, label in DEADLINE_LABELS.items()],
    }
    chosen = {
        facet: query.get(facet, "")
        for facet in FACETS
        if query.get(facet, "") in {value for value, _label in values[facet]}
    }
    shown = matching(cases, chosen)
    consultations = board_queryset(user)
    if chosen:
        # The first page of what the filters let through, in the board's order (deadline).
        consultations = consultations.filter(pk__in=[case.pk for case in shown[:WORKLIST_LIMIT]])
    return Board(
        facets=facets(cases, chosen, values),
        chosen=chosen,
        total=len(shown),
        open_total=len(cases),
        consultations=consultations[:WORKLIST_LIMIT],
    )


# What the coordinator's home page counts, each a link to the board so narrowed.
SUMMARY = (
    ("deadline", Risk.BREACHED),
    ("deadline", Risk.HIGH),
    ("form", ConsultForm.EMERGENCY),
    ("news2", News2Risk.HIGH),
)


def summary(board: Board) -> list[tuple[Facet, Option]]:
    """The board's pressing counts: overdue, near the deadline, emergencies, NEWS2 high."""
    found = []
    for name, value in SUMMARY:
        for facet in board.facets:
            for option in facet.options:
                if facet.name == name and option.value == value:
                    found.append((facet, option))
    return found
