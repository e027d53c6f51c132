"""Lookups into JSON fields, as Tortoise spells them: `data__contains=`, `data__contained_by=`
and `data__filter={"owner__name": "Bob", "pets__0__age__gt": 2}` (a path into the document,
`__`-separated, numbers for list positions, then an optional lookup)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from yara_orm.exceptions import FieldError, ParamsError

if TYPE_CHECKING:
    from yara_orm.fields.base import Field
    from yara_orm.query.compiler import Compiler

JSON_LOOKUPS = ("contains", "contained_by", "filter")
_COMPARISONS = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
_PATH_LOOKUPS = ("exact", "not", "isnull", "not_isnull", "in", "not_in", *_COMPARISONS)


def json_lookup(c: Compiler, column: str, field: Field[Any], kind: str, value: Any) -> str:
    if kind == "filter":
        if not isinstance(value, dict) or not value:
            raise ParamsError(
                f"{field.name}__filter takes a dict of paths to values, not {value!r}"
            )
        return " AND ".join(f"({_path_condition(c, column, k, v)})" for k, v in value.items())
    document = c.param(field.to_db(field.validate(value)))
    return c.dialect.json_contains(column, document, contained_by=kind == "contained_by")


def _path_condition(c: Compiler, column: str, key: str, value: Any) -> str:
    path = key.split("__")
    lookup = path.pop() if len(path) > 1 and path[-1] in _PATH_LOOKUPS else "exact"
    if not path or any(not step for step in path):
        raise FieldError(f"JSON filter {key!r} names no path into the document")
    extracted = c.dialect.json_extract(column, path, c.param)
    if lookup in ("isnull", "not_isnull"):
        wants_null = bool(value) == (lookup == "isnull")
        return f"{extracted} IS NULL" if wants_null else f"{extracted} IS NOT NULL"
    if lookup in ("in", "not_in"):
        marks = ", ".join(_scalar(c, value_) for value_ in value)
        if not marks:
            return "1 = 0" if lookup == "in" else "1 = 1"
        return f"{extracted} {'IN' if lookup == 'in' else 'NOT IN'} ({marks})"
    if value is None:
        return f"{extracted} IS {'NOT ' if lookup == 'not' else ''}NULL"
    if lookup in _COMPARISONS:
        if not isinstance(value, int | float) or isinstance(value, bool):
            return f"{extracted} {_COMPARISONS[lookup]} {_scalar(c, value)}"
        return f"{c.dialect.json_number(extracted)} {_COMPARISONS[lookup]} {c.param(value)}"
    operator = "=" if lookup == "exact" else c.dialect.null_safe_not_equal
    return f"{extracted} {operator} {_scalar(c, value)}"


def _scalar(c: Compiler, value: Any) -> str:
    """A value compared with a scalar taken out of a document, as the dialect extracts it."""
    if isinstance(value, dict | list):
        raise ParamsError(f"JSON filters compare scalars, not {value!r} (use contains=)")
    return c.param(c.dialect.json_scalar(value))
