"""A search's page and count statements, compiled once per shape of its conditions.

Building and compiling the page's query through the ORM cost a search more than running it.
The conditions themselves (`search.conditions`: Q objects, built without the database) are
cheap; what varies from one search to the next of the same kind is only the text in their
leaves (a SNILS, a folded family name). So the SQL is compiled once per *shape* — the reader's
scope, the page size, the Q tree with each text leaf replaced by a stand-in — and each search
puts its own texts into the parameters where the stand-ins came out: as they are, or escaped for
LIKE where a pattern lookup put them (`connection.ops.prep_for_like_query`; the stand-ins carry
`_` and `%`, so which one it was shows). A shape whose stand-ins do not come out whole (a leaf
the field converts, a UUID) is compiled for each search instead, as Django's path does."""

from __future__ import annotations

import copy
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Q
from django.db.models.expressions import RawSQL

from .. import lean
from .. import search as searching
from ..registry import Handler

_MARK = f"Zq{secrets.token_hex(8)}"
SHAPES_MAX = 1024


@dataclass(frozen=True)
class _Binding:
    """Where a parameter comes from: a constant, or text leaf `leaf` between `prefix` and
    `suffix`, LIKE-escaped or not."""

    constant: Any = None
    leaf: int = -1
    prefix: str = ""
    suffix: str = ""
    escaped: bool = False


@dataclass(frozen=True)
class Statement:
    sql: str
    bindings: tuple[_Binding, ...]

    @property
    def patterned(self) -> bool:
        """Whether a text is a LIKE pattern here: then the statement is planned for its value
        each time (a generic plan cannot see the pattern, and scans the table)."""
        return any(binding.escaped for binding in self.bindings)

    def params(
        self, texts: list[str], escape: Callable[[str], str], adapt: Any, now: Any
    ) -> list[Any]:
        values = [
            binding.constant
            if binding.leaf < 0
            else binding.prefix
            + (escape(texts[binding.leaf]) if binding.escaped else texts[binding.leaf])
            + binding.suffix
            for binding in self.bindings
        ]
        # The scope's moment (break-glass grants) is a stand-in too: lean.py's.
        return lean.bound(tuple(values), adapt, "", now)


@dataclass(frozen=True)
class SearchStatements:
    page: Statement
    count: Statement  # SELECT COUNT(*) of every match


def texts_of(conditions: list[Q]) -> list[str]:
    """The text leaves of `conditions`, in the order `shape` and the stand-ins number them."""
    found: list[str] = []
    for condition in conditions:
        _walk(condition, found)
    return found


def _children(node: Q) -> list[Any]:
    """A Q's children: Q objects and (lookup, value) leaves."""
    return list(node.children)


def _walk(node: Q, found: list[str]) -> None:
    for child in _children(node):
        if isinstance(child, Q):
            _walk(child, found)
        elif type(child[1]) is str:
            found.append(child[1])


def shape(conditions: list[Q]) -> Hashable:
    """The conditions with every text leaf abstracted (other values kept as they are); raises
    TypeError for a value that cannot be part of a key."""
    return tuple(_shape(condition) for condition in conditions)


def _shape(node: Q) -> Hashable:
    parts: list[Hashable] = []
    for child in _children(node):
        if isinstance(child, Q):
            parts.append(_shape(child))
        else:
            lookup, value = child
            if type(value) is str:
                parts.append((lookup, str))
            else:
                hash(value := tuple(value) if isinstance(value, list) else value)
                parts.append((lookup, type(value), value))
    return (node.connector, node.negated, tuple(parts))


def _with_stand_ins(node: Q, counter: list[int]) -> Q:
    rebuilt = copy.copy(node)
    children: list[Any] = []
    for child in _children(node):
        if isinstance(child, Q):
            children.append(_with_stand_ins(child, counter))
        elif type(child[1]) is str:
            children.append((child[0], _stand_in(counter[0])))
            counter[0] += 1
        else:
            children.append(child)
    rebuilt.children = children
    return rebuilt


def _stand_in(index: int) -> str:
    return f"{_MARK}{index}x_%"


class Shapes:
    """The compiled statements by shape (an LRU; None: a shape compiled per search)."""

    def __init__(self) -> None:
        self._compiled: OrderedDict[Hashable, SearchStatements | None] = OrderedDict()
        self._lock = threading.Lock()

    def statements(
        self,
        handler: Handler,
        conditions: list[Q],
        scope: tuple[str, tuple[Any, ...]],
        size: int,
        wrapper: BaseDatabaseWrapper,
    ) -> SearchStatements:
        """The statements for this search's shape, compiled now if new; for a shape that does
        not compile with stand-ins, compiled for this search (its texts as constants)."""
        try:
            key: Hashable = (handler.resource_type, scope, size, shape(conditions))
        except TypeError:
            return _compile(handler, conditions, scope, size, wrapper, leaves=0)
        with self._lock:
            if key in self._compiled:
                self._compiled.move_to_end(key)
                found = self._compiled[key]
                if found is not None:
                    return found
                return _compile(handler, conditions, scope, size, wrapper, leaves=0)
        counter = [0]
        standing = [_with_stand_ins(condition, counter) for condition in conditions]
        try:
            made: SearchStatements | None = _compile(
                handler, standing, scope, size, wrapper, leaves=counter[0]
            )
        except Exception:  # a leaf the field will not take as text: per search
            made = None
        with self._lock:
            self._compiled[key] = made
            while len(self._compiled) > SHAPES_MAX:
                self._compiled.popitem(last=False)
        if made is None:
            return _compile(handler, conditions, scope, size, wrapper, leaves=0)
        return made


def _compile(
    handler: Handler,
    conditions: list[Q],
    scope: tuple[str, tuple[Any, ...]],
    size: int,
    wrapper: BaseDatabaseWrapper,
    *,
    leaves: int,
) -> SearchStatements:
    """The page (size + 1 rows: one more tells whether a next page exists) and the count, with
    the scope's parameters as lean.py keeps them (its moment a stand-in); `leaves` text leaves
    are stand-ins to bind (0: the conditions' own texts are constants)."""
    scope_sql, scope_template = scope
    matching = handler.all_objects()
    for condition in conditions:
        matching = matching.filter(condition)
    # The policy's scope as Django's path compiled it (lean.remember_scope).
    matching = matching.filter(
        **{f"{handler.hot_search_scope}__in": RawSQL(scope_sql, scope_template)}  # noqa: S611
    )
    sort = searching.parse_sort(handler, "")
    page = matching.order_by(*sort.order).values_list(handler.lookup, "pk", sort.field)
    count = matching.order_by().values("pk")
    page_sql, page_params = page[: size + 1].query.get_compiler(connection=wrapper).as_sql()
    count_sql, count_params = count.query.get_compiler(connection=wrapper).as_sql()
    escape = wrapper.ops.prep_for_like_query
    return SearchStatements(
        page=Statement(page_sql, _bindings(page_params, leaves, escape)),
        count=Statement(
            f"SELECT COUNT(*) FROM ({count_sql}) AS matching",  # noqa: S608 (compiled)
            _bindings(count_params, leaves, escape),
        ),
    )


def _bindings(params: Any, leaves: int, escape: Callable[[str], str]) -> tuple[_Binding, ...]:
    made: list[_Binding] = []
    seen: set[int] = set()
    for value in params:
        binding = _Binding(constant=value)
        if isinstance(value, str) and _MARK in value:
            binding = _found(value, leaves, escape)
            seen.add(binding.leaf)
        made.append(binding)
    if seen != set(range(leaves)):
        raise ValueError("A stand-in did not come out as (part of) a parameter.")
    return tuple(made)


def _found(value: str, leaves: int, escape: Callable[[str], str]) -> _Binding:
    for index in range(leaves):
        for escaped in (True, False):
            mark = escape(_stand_in(index)) if escaped else _stand_in(index)
            prefix, found, suffix = value.partition(mark)
            if found and _MARK not in prefix + suffix:
                return _Binding(leaf=index, prefix=prefix, suffix=suffix, escaped=escaped)
    raise ValueError(f"A parameter holds a stand-in changed on its way: {value!r}")
