"""Search over a composite type (composite.py): each part is searched as a type of its own, and
the pages are merged in the requested order. The paging cursor holds one position per part, so a
`next` link stays stable however far a client pages, as for a single model."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from . import search
from .auth import Principal
from .errors import bad_request
from .registry import Handler

# Parameters every part understands whatever its own search parameters (search.apply_params).
COMMON = {"_id"}


@dataclass
class Page:
    """The parts' querysets for one search, with each part's sort."""

    parts: list[tuple[Handler, QuerySet[Any], search.Sort]]

    def count(self) -> int:
        return sum(queryset.count() for _part, queryset, _sort in self.parts)

    def rows(self, count: int, cursor: str) -> tuple[list[Any], bool, str]:
        """`count` rows after `cursor`, whether more follow, and the cursor of the next page."""
        positions = _decode(cursor, len(self.parts))
        candidates: list[tuple[Any, int, Any]] = []
        for index, (_part, queryset, sort) in enumerate(self.parts):
            query = queryset.order_by(*sort.order)
            if positions[index]:
                query = search.after_cursor(query, sort, positions[index])
            candidates += [(obj, index, _value(obj, sort)) for obj in query[: count + 1]]
        descending = bool(self.parts) and self.parts[0][2].descending
        candidates.sort(
            key=lambda item: (item[2] is not None, item[2], item[1], item[0].pk),
            reverse=descending,
        )
        chosen = candidates[:count]
        for obj, index, _sort_value in chosen:
            positions[index] = search.cursor_of(obj, self.parts[index][2])
        more = len(candidates) > count
        return [obj for obj, _index, _v in chosen], more, _encode(positions) if more else ""


def page(principal: Principal, handler: Handler, params: list[tuple[str, str]]) -> Page:
    """The search of every part that can match; a parameter no part knows is refused."""
    names = {key.partition(":")[0] for key, _value in params} - search.CONTROL - COMMON
    sort_raw = dict(params).get("_sort", "")
    parts: list[tuple[Handler, QuerySet[Any], search.Sort]] = []
    for part in handler.parts:
        if any(not _knows(part, name) for name in names):
            continue  # a parameter of another part: nothing of this part matches it
        # A parameter a part refuses (a value it cannot search) is refused for the type.
        queryset = search.apply_params(part, part.queryset(principal), params)
        parts.append((part, queryset, search.parse_sort(part, sort_raw)))
    unknown = [name for name in names if not any(_knows(part, name) for part in handler.parts)]
    if unknown:
        raise bad_request(
            f"Unknown search parameter {unknown[0]!r} for {handler.resource_type}",
            expression=[unknown[0]],
        )
    return Page(parts)


def _knows(part: Handler, name: str) -> bool:
    if name == "_lastUpdated":
        return bool(part.updated_field)
    return name in part.search_params


def _value(obj: Any, sort: search.Sort) -> Any:
    value: Any = obj
    for name in sort.field.split("__"):
        value = getattr(value, name, None)
        if value is None:
            return None
    if sort.field == "pk" or hasattr(value, "_meta"):
        return obj.pk
    return value


def _encode(positions: list[str]) -> str:
    text = json.dumps(positions)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode(cursor: str, size: int) -> list[str]:
    if not cursor:
        return [""] * size
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        positions = json.loads(base64.urlsafe_b64decode(padded.encode()).decode())
    except ValueError as error:
        raise bad_request("The paging cursor is not valid; start the search again.") from error
    if not isinstance(positions, list) or len(positions) != size:
        raise bad_request("The paging cursor is not valid; start the search again.")
    return [str(position or "") for position in positions]
