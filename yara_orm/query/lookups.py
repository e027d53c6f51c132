"""The lookups a filter key can end in (`__gt`, `__icontains`, `__in`…): each turns a column
and a value into a condition, handing the value over as a parameter."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from yara_orm.exceptions import ValidationError
from yara_orm.query.expressions import Expression, Subquery

if TYPE_CHECKING:
    from yara_orm.fields.base import Field
    from yara_orm.query.compiler import Compiler

DATE_PARTS = (
    "year",
    "quarter",
    "month",
    "week",
    "day",
    "hour",
    "minute",
    "second",
    "microsecond",
)

# Lookups: (compiler, column SQL, field or None, value) -> condition SQL.
Lookup = Callable[["Compiler", str, "Field[Any] | None", Any], str]


def _exact(c: Compiler, column: str, field: Field[Any] | None, value: Any) -> str:
    if value is None:
        return f"{column} IS NULL"
    return f"{column} = {c.value(field, value)}"


def _not(c: Compiler, column: str, field: Field[Any] | None, value: Any) -> str:
    if value is None:
        return f"{column} IS NOT NULL"
    return f"({column} <> {c.value(field, value)} OR {column} IS NULL)"


def _compare(operator: str) -> Lookup:
    def compare(c: Compiler, column: str, field: Field[Any] | None, value: Any) -> str:
        if value is None:
            raise ValidationError(f"{operator} needs a value, not None", value=value)
        return f"{column} {operator} {c.value(field, value)}"

    return compare


def _values(c: Compiler, field: Field[Any] | None, values: Any) -> list[Any]:
    if isinstance(values, str | bytes) or not hasattr(values, "__iter__"):
        raise ValidationError(f"`in` needs a list of values, not {values!r}", value=values)
    return [c.db_value(field, v) for v in values]


def _in(c: Compiler, column: str, field: Field[Any] | None, values: Any) -> str:
    if hasattr(values, "_statements"):  # a queryset of one column, as Subquery(queryset)
        values = Subquery(values)
    if isinstance(values, Expression):
        return f"{column} IN {values.compile(c)}"
    return c.dialect.in_list(column, _values(c, field, values), c.params)


def _not_in(c: Compiler, column: str, field: Field[Any] | None, values: Any) -> str:
    return f"NOT ({_in(c, column, field, values)})"


def _isnull(c: Compiler, column: str, field: Field[Any] | None, value: Any) -> str:
    return f"{column} IS NULL" if value else f"{column} IS NOT NULL"


def _not_isnull(c: Compiler, column: str, field: Field[Any] | None, value: Any) -> str:
    return _isnull(c, column, field, not value)


def _range(c: Compiler, column: str, field: Field[Any] | None, value: Any) -> str:
    low, high = value
    return f"{column} BETWEEN {c.value(field, low)} AND {c.value(field, high)}"


def _text(kind: str, insensitive: bool) -> Lookup:
    def match(c: Compiler, column: str, field: Field[Any] | None, value: Any) -> str:
        if not isinstance(value, str):
            raise ValidationError(
                f"{kind} lookups take a string, not {value!r}",
                field=getattr(field, "name", ""),
                value=value,
            )
        return c.dialect.text_match(column, value, kind, insensitive, c.params)

    return match


def _regex(insensitive: bool) -> Lookup:
    def lookup(c: Compiler, column: str, field: Field[Any] | None, value: Any) -> str:
        if not isinstance(value, str):
            raise ValidationError(
                f"regex lookups take a pattern string, not {value!r}", value=value
            )
        return c.dialect.regex(column, c.param(value), insensitive)

    return lookup


LOOKUPS: dict[str, Lookup] = {
    "exact": _exact,
    "iexact": _text("exact", True),
    "not": _not,
    "gt": _compare(">"),
    "gte": _compare(">="),
    "lt": _compare("<"),
    "lte": _compare("<="),
    "in": _in,
    "not_in": _not_in,
    "isnull": _isnull,
    "not_isnull": _not_isnull,
    "range": _range,
    "contains": _text("contains", False),
    "icontains": _text("contains", True),
    "startswith": _text("startswith", False),
    "istartswith": _text("startswith", True),
    "endswith": _text("endswith", False),
    "iendswith": _text("endswith", True),
    "posix_regex": _regex(False),
    "iposix_regex": _regex(True),
}
