"""Compiled SELECTs and COUNTs kept per query shape.

Most statements an application runs are the same few shapes with new values: `get(id=...)`,
`filter(author=...).order_by("-id").limit(10)`. For a plain shape (equality and order
comparisons on the model's own fields, no joins, annotations or locks) the SQL text and the
hydration plan depend only on the shape, so they are compiled once; each query then only
converts its values.

A shape is cached only when a fresh compile agrees with it: the first compile records the
fields whose values become the parameters, and the cache is used only if converting the values
through them gives exactly the parameters the compiler produced.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from yara_orm.query.compiler import Compiler
from yara_orm.query.expressions import Expression, Q

if TYPE_CHECKING:
    from yara_orm.fields.base import Field
    from yara_orm.query.compiler import SelectPlan, Statements
    from yara_orm.query.queryset import QuerySet

# One entry per (statement kind, model, dialect, filter keys, ordering, limit/offset
# presence); a shape that cannot be cached is remembered as None, not examined again.
_Entry = tuple[str, "SelectPlan | None", tuple["Field[Any]", ...]] | None
_CACHE: dict[tuple[Any, ...], _Entry] = {}
# Shapes come from source code, so they are few; the bound only guards against generated ones.
_LIMIT = 2_048
# Lookups whose SQL is the same for every (non-None, scalar) value: `column <op> placeholder`.
_PLAIN_LOOKUPS = frozenset({"", "exact", "gt", "gte", "lt", "lte"})


def _shape(query: QuerySet[Any]) -> tuple[tuple[Any, ...], list[Any]] | None:
    """The query's shape and its filter values in compile order, or None when it is not a
    plain shape."""
    if (
        query._values is not None
        or query._annotations
        or query._select_related
        or query._only is not None
        or query._group_by
        or query._distinct
        or query._lock is not None
    ):
        return None
    keys: list[Any] = []
    values: list[Any] = []
    for q in query._filters:
        if q.negated or q.connector != "AND":
            return None
        group = []
        for child in q.children:
            if isinstance(child, Q):
                return None
            key, value = child
            if (
                key.partition("__")[2] not in _PLAIN_LOOKUPS
                or value is None
                or isinstance(value, Expression | list | tuple | set | dict)
                or hasattr(value, "_statements")
            ):
                return None
            group.append(key)
            values.append(value)
        keys.append(tuple(group))
    shape = (
        query.model,
        query.client.dialect,
        tuple(keys),
        query._ordering(),
        query._limit is not None,
        bool(query._offset),
    )
    return shape, values


def _parameters(
    query: QuerySet[Any], fields: tuple[Field[Any], ...], values: list[Any]
) -> list[Any]:
    params = [Compiler.db_value(field, value) for field, value in zip(fields, values, strict=True)]
    if query._limit is not None:
        params.append(query._limit)
    if query._offset:
        params.append(query._offset)
    return params


def select(statements: Statements) -> tuple[str, list[Any], SelectPlan]:
    """`statements.select()`, from the cache when the query has a known plain shape."""
    sql, params, plan = _cached("select", statements, statements.select)
    assert plan is not None
    return sql, params, plan


def count(statements: Statements) -> tuple[str, list[Any]]:
    """`statements.count()`, from the cache when the query has a known plain shape."""

    def compile_count() -> tuple[str, list[Any], None]:
        sql, params = statements.count()
        return sql, params, None

    sql, params, _ = _cached("count", statements, compile_count)
    return sql, params


def _cached(
    kind: str,
    statements: Statements,
    compile_statement: Callable[[], tuple[str, list[Any], SelectPlan | None]],
) -> tuple[str, list[Any], SelectPlan | None]:
    query = statements.query
    found = _shape(query)
    if found is None:
        return compile_statement()
    shape, values = found
    shape = (kind, *shape)
    if shape in _CACHE:
        entry = _CACHE[shape]
        if entry is None:
            return compile_statement()
        sql, plan, fields = entry
        return sql, _parameters(query, fields, values), plan
    sql, params, plan = compile_statement()
    _remember(shape, statements.compiler(), query, values, sql, params, plan)
    return sql, params, plan


def _remember(
    shape: tuple[Any, ...],
    compiler: Compiler,
    query: QuerySet[Any],
    values: list[Any],
    sql: str,
    params: list[Any],
    plan: SelectPlan | None,
) -> None:
    if len(_CACHE) >= _LIMIT or (plan is not None and (plan.hidden or plan.related)):
        return
    fields = []
    for group in shape[3]:
        for key in group:
            _alias, field, rest, _ = compiler.walk(key.split("__"))
            if len(rest) > 1 or (rest and rest[0] not in _PLAIN_LOOKUPS) or field.db_kind == "json":
                _CACHE[shape] = None
                return
            fields.append(field)
    frozen = tuple(fields)
    try:
        agrees = _parameters(query, frozen, values) == params
    except Exception:
        agrees = False
    _CACHE[shape] = (sql, plan, frozen) if agrees and not compiler.joins else None
