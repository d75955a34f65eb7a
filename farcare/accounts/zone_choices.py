"""The time zones the preferences page offers: the network's own first, with the time there and
its offsets, and any other of the ~600 IANA zones found by a few letters of its name, of a place
of the network (in ru, ko or en), or of its offset ("UTC+9", "МСК+6")."""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from django.conf import settings
from django.utils import formats

from farcare.core.timezones import (
    facility_zone_name,
    moscow_offset_label,
    offset_labels,
    utc_offset_label,
)
from farcare.network.selectors import Place, places_of_the_network

PLACES_SHOWN = 3
FOUND_AT_MOST = 12
SHORTEST_QUERY = 2


@cache
def known_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


@dataclass(frozen=True)
class ZoneOption:
    value: str  # what is saved: "" for "my facility's zone"
    key: str  # the IANA name shown
    offsets: str  # "UTC+12, МСК+9" (МСК for Russian readers only)
    local_time: str  # the time there now, as the reader's language writes it
    places: tuple[str, ...] = ()

    @property
    def is_default(self) -> bool:
        return not self.value


@dataclass(frozen=True)
class Found:
    options: list[ZoneOption]
    more: bool  # more zones matched than are shown
    too_short: bool


def _option(
    key: str, now: datetime, places: Sequence[str] = (), *, value: str | None = None
) -> ZoneOption:
    local = now.astimezone(zoneinfo.ZoneInfo(key))
    return ZoneOption(
        value=key if value is None else value,
        key=key,
        offsets=offset_labels(local),
        local_time=formats.time_format(local, "TIME_FORMAT"),
        places=tuple(places[:PLACES_SHOWN]),
    )


def _offset(key: str, now: datetime) -> timedelta:
    return now.astimezone(zoneinfo.ZoneInfo(key)).utcoffset() or timedelta(0)


def _by_zone(places: Iterable[Place]) -> dict[str, list[str]]:
    zones: dict[str, list[str]] = {}
    for place in places:
        zones.setdefault(place.time_zone, []).append(place.name)
    return zones


def network_zones(now: datetime, places: Iterable[Place]) -> list[ZoneOption]:
    """The zones the network's facilities keep, west to east, each with its largest places."""
    zones = _by_zone(places)
    ordered = sorted(zones, key=lambda key: (_offset(key, now), key))
    return [_option(key, now, zones[key]) for key in ordered if key in known_zones()]


def picker_options(*, user: object, chosen: str, now: datetime) -> list[ZoneOption]:
    """The facility's zone first (saved as "", so it follows the facility), then the user's own
    choice if the network does not keep it, then the network's zones."""
    default = facility_zone_name(user)
    if default not in known_zones():
        default = settings.TIME_ZONE
    options = [_option(default, now, value="")]
    network = network_zones(now, places_of_the_network())
    if chosen in known_zones() and chosen not in {option.key for option in network}:
        options.append(_option(chosen, now))
    return options + network


def _folded(text: str) -> str:
    """Forgiving about case, underscores, ё and which minus sign was typed."""
    return text.casefold().replace("_", " ").replace("ё", "е").replace("−", "-").strip()


def _as_offset(wanted: str) -> str:
    """'utc+9', 'мск+6', 'msk-1', '+9' (as UTC) or '' when the query is not an offset."""
    compact = wanted.replace(" ", "").replace("gmt", "utc").replace("msk", "мск")
    if compact[:1] in ("+", "-"):
        compact = "utc" + compact
    return compact if compact.startswith(("utc", "мск")) else ""


def _offset_names(key: str, now: datetime) -> set[str]:
    local = now.astimezone(zoneinfo.ZoneInfo(key))
    return {_folded(utc_offset_label(local)), _folded(moscow_offset_label(local))}


def find_zones(query: str, *, now: datetime) -> Found:
    """Zones whose name, place of the network or offset holds the query: the network's first,
    then west to east."""
    wanted = _folded(query)
    if len(wanted) < SHORTEST_QUERY:
        return Found(options=[], more=False, too_short=bool(wanted))
    places = places_of_the_network()
    network = _by_zone(places)
    named = _by_zone(
        place for place in places if any(wanted in _folded(name) for name in place.spellings)
    )
    matches = set(named) | {key for key in known_zones() if wanted in _folded(key)}
    offset = _as_offset(wanted)
    if offset:
        matches |= {key for key in known_zones() if offset in _offset_names(key, now)}
    ordered = sorted(matches, key=lambda key: (key not in network, _offset(key, now), key))
    return Found(
        options=[
            _option(key, now, named.get(key) or network.get(key) or [])
            for key in ordered[:FOUND_AT_MOST]
        ],
        more=len(ordered) > FOUND_AT_MOST,
        too_short=False,
    )
