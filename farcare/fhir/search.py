"""FHIR search semantics over Django querysets: token (`system|code`), string (starts-with by
default, `:exact`, `:contains`), date with prefixes (eq ne lt gt le ge sa eb), reference, `_id`,
`_lastUpdated`, `_sort`, and keyset paging whose `next` links stay stable however far a client
pages."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from typing import Any

from django.db.models import F, Q, QuerySet

from farcare.patients.identifiers import normalise_text

from .errors import bad_request, refuse_nul
from .registry import Handler, SearchParam

CONTROL = {
    "_count",
    "_sort",
    "_include",
    "_revinclude",
    "_summary",
    "_format",
    "_cursor",
    "_total",
    "_elements",
    "_pretty",
}
DEFAULT_COUNT = 50
MAX_COUNT = 500
PREFIXES = ("eq", "ne", "lt", "gt", "le", "ge", "sa", "eb", "ap")
_DATE = re.compile(
    r"^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$"
)


@dataclass(frozen=True)
class Window:
    """The interval a FHIR date value stands for (a year, a day, a second...)."""

    start: datetime
    end: datetime  # exclusive


def parse_date(value: str) -> Window:
    match = _DATE.match(value)
    if not match:
        raise bad_request(f"Not a FHIR date: {value!r}")
    year, month, day, hour, minute, second, zone = match.groups()
    tz: tzinfo = UTC
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        hours, minutes = int(zone[1:3]), int(zone[4:6])
        tz = timezone(sign * timedelta(hours=hours, minutes=minutes))
    try:
        if hour is not None:
            start = datetime(
                int(year), int(month), int(day), int(hour), int(minute), int(second or 0), tzinfo=tz
            )
            step = timedelta(seconds=1) if second else timedelta(minutes=1)
            return Window(start, start + step)
        if day is not None:
            start = datetime(int(year), int(month), int(day), tzinfo=tz)
            return Window(start, start + timedelta(days=1))
        if month is not None:
            start = datetime(int(year), int(month), 1, tzinfo=tz)
            following = datetime(int(year) + (int(month) == 12), int(month) % 12 + 1, 1, tzinfo=tz)
            return Window(start, following)
        start = datetime(int(year), 1, 1, tzinfo=tz)
        return Window(start, datetime(int(year) + 1, 1, 1, tzinfo=tz))
    except ValueError as error:
        raise bad_request(f"Not a valid date: {value!r}") from error


def date_q(path: str, raw: str, *, is_date_field: bool) -> Q:
    prefix = raw[:2] if raw[:2] in PREFIXES else "eq"
    value = raw[2:] if raw[:2] in PREFIXES else raw
    window = parse_date(value)

    def bound(moment: datetime) -> Any:
        return moment.date() if is_date_field else moment

    start, end = bound(window.start), bound(window.end)
    if prefix in ("eq", "ap"):
        return Q(**{f"{path}__gte": start, f"{path}__lt": end})
    if prefix == "ne":
        return ~Q(**{f"{path}__gte": start, f"{path}__lt": end})
    if prefix in ("lt", "eb"):
        return Q(**{f"{path}__lt": start})
    if prefix in ("gt", "sa"):
        return Q(**{f"{path}__gte": end})
    if prefix == "le":
        return Q(**{f"{path}__lt": end})
    return Q(**{f"{path}__gte": start})  # ge


def string_q(path: str, modifier: str, value: str, *, normalised: bool) -> Q:
    text = normalise_text(value) if normalised else value
    if modifier == "exact":
        return Q(**{path: value}) if not normalised else Q(**{path: text})
    if modifier == "contains":
        return Q(**{f"{path}__{'contains' if normalised else 'icontains'}": text})
    if normalised:
        # The stored key is "family given middle": a name part starts the key or follows a space.
        return Q(**{f"{path}__startswith": text}) | Q(**{f"{path}__contains": f" {text}"})
    return Q(**{f"{path}__istartswith": text})


def token_q(param: SearchParam, modifier: str, value: str) -> Q:
    system, _bar, code = value.rpartition("|") if "|" in value else ("", "", value)
    has_system = "|" in value
    if param.to_q is not None:
        return param.to_q(modifier, system if has_system else "", code)
    if has_system and param.system and system and system != param.system:
        return Q(pk__in=[])
    if modifier == "not":
        return ~Q(**{param.path: code})
    return Q(**{param.path: code})


def reference_q(param: SearchParam, value: str) -> Q:
    # "Patient/<uuid>", a bare "<uuid>", or an absolute URL ending in Type/id.
    parts = value.rstrip("/").split("/")
    if len(parts) >= 2:
        kind, ident = parts[-2], parts[-1]
        if param.target and kind != param.target:
            return Q(pk__in=[])
    else:
        ident = parts[-1]
    return Q(**{param.path: ident})


def apply_params(
    handler: Handler, queryset: QuerySet[Any], params: list[tuple[str, str]]
) -> QuerySet[Any]:
    """AND across parameters, OR across comma-separated values (FHIR search)."""
    for condition in conditions(handler, params):
        queryset = queryset.filter(condition)
    return queryset


def conditions(handler: Handler, params: list[tuple[str, str]]) -> list[Q]:
    """The search parameters' conditions, one per parameter in order (each its own `filter`):
    built without a query or the database; an unknown parameter or modifier, a bad value, is
    refused here."""
    # Every caller's parameters (If-None-Exist, $everything, bundles) pass here before the query.
    refuse_nul([text for pair in params for text in pair], "The search")
    made: list[Q] = []
    for key, raw in params:
        name, _colon, modifier = key.partition(":")
        if name in CONTROL:
            continue
        if modifier and name in ("_id", "_lastUpdated"):
            raise _unknown_modifier(name, modifier)
        if name == "_id":
            made.append(Q(**{f"{handler.lookup}__in": _ids(raw)}))
            continue
        if name == "_lastUpdated":
            if not handler.updated_field:
                raise bad_request(f"{handler.resource_type} does not support _lastUpdated")
            made.append(date_q(handler.updated_field, raw, is_date_field=False))
            continue
        param = handler.search_params.get(name)
        if param is None:
            raise bad_request(
                f"Unknown search parameter {name!r} for {handler.resource_type}",
                expression=[name],
            )
        if modifier not in _modifiers(param):
            raise _unknown_modifier(name, modifier)
        if modifier == "missing":
            made.append(Q(**{f"{param.path}__isnull": raw == "true"}))
            continue
        condition = Q()
        for value in _split(raw):
            condition |= _one(param, modifier, value)
        made.append(condition)
    return made


# The modifiers FarCare implements per parameter type (FHIR R4 §3.1.1.5); any other is refused,
# since ignoring it would answer a different question than the one asked.
MODIFIERS = {
    "string": frozenset({"", "exact", "contains", "missing"}),
    "token": frozenset({"", "not", "missing"}),
    "date": frozenset({"", "missing"}),
    "reference": frozenset({"", "missing"}),
}


def _modifiers(param: SearchParam) -> frozenset[str]:
    allowed = MODIFIERS.get(param.type, frozenset({""}))
    if param.type == "reference" and param.target:
        allowed |= {param.target}  # subject:Patient=<id> names the type the parameter has
    return allowed


def _unknown_modifier(name: str, modifier: str) -> Exception:
    return bad_request(
        f"The modifier :{modifier} is not supported for the search parameter {name!r}.",
        expression=[f"{name}:{modifier}"],
    )


def _one(param: SearchParam, modifier: str, value: str) -> Q:
    if param.to_q is not None and param.type != "token":
        return param.to_q(modifier, "", value)
    if param.type == "token":
        return token_q(param, modifier, value)
    if param.type == "string":
        return string_q(param.path, modifier, value, normalised=param.system == "normalised")
    if param.type == "date":
        return date_q(param.path, value, is_date_field=param.system == "date")
    if param.type == "reference":
        return reference_q(param, value)
    raise bad_request(f"Search type {param.type} is not supported")


def _split(raw: str) -> list[str]:
    # Commas separate alternatives; "\," is a literal comma.
    return [part.replace("\\,", ",") for part in re.split(r"(?<!\\),", raw) if part != ""]


def _ids(raw: str) -> list[str]:
    values = _split(raw)
    import uuid

    valid = []
    for value in values:
        try:
            valid.append(str(uuid.UUID(value)))
        except ValueError:
            continue
    return valid


# --- sorting and paging ---------------------------------------------------------------------


@dataclass(frozen=True)
class Sort:
    field: str
    descending: bool

    @property
    def order(self) -> list[Any]:
        # Empty values first going up and last going down, on SQLite and PostgreSQL alike, so
        # that the cursor below can continue past them.
        if self.descending:
            return [F(self.field).desc(nulls_last=True), F("pk").desc()]
        return [F(self.field).asc(nulls_first=True), F("pk").asc()]


def parse_sort(handler: Handler, raw: str) -> Sort:
    if not raw:
        return Sort(handler.default_sort, False)
    first = raw.split(",")[0].strip()
    descending = first.startswith("-")
    name = first.lstrip("-")
    if name == "_lastUpdated" and handler.updated_field:
        return Sort(handler.updated_field, descending)
    if name == "_id":
        return Sort(handler.lookup, descending)
    param = handler.search_params.get(name)
    if param is None or not param.sortable:
        raise bad_request(f"Cannot sort {handler.resource_type} by {name!r}")
    return Sort(param.path, descending)


def encode_cursor(values: list[Any]) -> str:
    text = json.dumps([_jsonable(value) for value in values])
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date | time):
        return {"t": type(value).__name__, "v": value.isoformat()}
    if value is None or isinstance(value, int | float | str | bool):
        return value
    return str(value)


def _restore(value: Any) -> Any:
    if isinstance(value, dict) and "t" in value:
        kinds: dict[str, Any] = {"datetime": datetime, "date": date, "time": time}
        return kinds[value["t"]].fromisoformat(value["v"])
    return value


def decode_cursor(cursor: str) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()).decode())
        return [_restore(value) for value in values]
    except (ValueError, KeyError) as error:
        raise bad_request("The paging cursor is not valid; start the search again.") from error


def after_cursor(queryset: QuerySet[Any], sort: Sort, cursor: str) -> QuerySet[Any]:
    """Rows strictly after the last row of the previous page, in (field, pk) order."""
    value, pk = decode_cursor(cursor)
    field = sort.field
    if sort.descending:  # non-empty values down, then the empty ones by pk down
        if value is None:
            return queryset.filter(Q(**{f"{field}__isnull": True, "pk__lt": pk}))
        return queryset.filter(
            Q(**{f"{field}__lt": value})
            | Q(**{field: value, "pk__lt": pk})
            | Q(**{f"{field}__isnull": True})
        )
    if value is None:  # the empty ones first by pk, then every non-empty value
        return queryset.filter(
            Q(**{f"{field}__isnull": True, "pk__gt": pk}) | Q(**{f"{field}__isnull": False})
        )
    return queryset.filter(Q(**{f"{field}__gt": value}) | Q(**{field: value, "pk__gt": pk}))


def cursor_of(obj: Any, sort: Sort) -> str:
    value: Any = obj
    for part in sort.field.split("__"):
        value = getattr(value, part)
        if hasattr(value, "pk") and part != sort.field.split("__")[-1]:
            continue
    return encode_cursor([value, obj.pk])


def count_of(params: list[tuple[str, str]]) -> int:
    for key, value in params:
        if key == "_count":
            try:
                count = int(value)
            except ValueError as error:
                raise bad_request("_count must be a whole number") from error
            if count < 0:
                raise bad_request("_count must be 0 or more", expression=["_count"])
            return min(count, MAX_COUNT)
    return DEFAULT_COUNT
