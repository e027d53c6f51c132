"""SQLite: `?` placeholders, declared types the engine decodes, strftime for date parts.

Declared types matter: the engine rebuilds Decimal, UUID, datetime, bool and JSON from them.
Decimals use `DECIMAL_TEXT`, whose text affinity keeps every digit (`DECIMAL` would round
through a float)."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from yara_orm.dialects.base import Capabilities, Dialect
from yara_orm.exceptions import ParamsError, UnSupportedError

if TYPE_CHECKING:
    from yara_orm.fields.base import Field

DATE_PARTS = {
    "year": "%Y",
    "month": "%m",
    "week": "%V",  # ISO 8601 week, as PostgreSQL's EXTRACT(WEEK)
    "day": "%d",
    "hour": "%H",
    "minute": "%M",
    "second": "%S",
}


class SqliteDialect(Dialect):
    name = "sqlite"
    capabilities = Capabilities(dialect="sqlite", daemon=False, requires_limit=True)
    column_types: ClassVar[dict[str, str]] = {
        "int": "INTEGER",
        "bigint": "BIGINT",
        "smallint": "SMALLINT",
        "float": "REAL",
        "decimal": "DECIMAL_TEXT({max_digits}, {decimal_places})",
        "char": "VARCHAR({max_length})",
        "text": "TEXT",
        "bool": "BOOLEAN",
        "binary": "BLOB",
        "datetime": "TIMESTAMP",
        "date": "DATE",
        "time": "TIME",
        "timedelta": "INTERVAL",
        "uuid": "UUID",
        "json": "JSON",
    }

    def placeholder(self, index: int) -> str:
        return f"?{index}"  # numbered: parameters bind by number, whatever the compile order

    def values_lists(self, rows: int, width: int) -> str:
        # Bare `?` number themselves 1, 2, … in order: one row's text serves every row.
        row = "(" + ", ".join("?" * width) + ")"
        return "VALUES " + ", ".join([row] * rows)

    def auto_increment_column(self, field: Field[Any]) -> str:
        # INTEGER PRIMARY KEY is SQLite's rowid; AUTOINCREMENT never reuses deleted ids.
        return f"{self.quote(field.column)} INTEGER PRIMARY KEY AUTOINCREMENT"

    def text_match(
        self, column: str, value: str, kind: str, insensitive: bool, params: list[object]
    ) -> str:
        if insensitive:
            return super().text_match(column, value, kind, insensitive, params)
        # SQLite's LIKE ignores case: match case-sensitively with instr/substr instead.
        params.append(value)
        mark = self.placeholder(len(params))
        if kind == "contains":
            return f"instr({column}, {mark}) > 0"
        if kind == "startswith":
            return f"instr({column}, {mark}) = 1"
        # A numbered placeholder may appear twice: one parameter serves both.
        return f"substr({column}, length({column}) - length({mark}) + 1) = {mark}"

    # SQLite's LOWER() only knows ASCII, and its integer arithmetic turns an overflow into a
    # float and a division by zero into NULL: the engine registers functions on every
    # connection that behave as PostgreSQL does (22003, 22012).
    ARITHMETIC: ClassVar[dict[str, str]] = {
        "+": "yara_add",
        "-": "yara_sub",
        "*": "yara_mul",
        "/": "yara_div",
        "%": "yara_mod",
        "**": "yara_pow",
    }

    def in_list(self, column: str, values: list[object], params: list[object]) -> str:
        # Integers, text and UUIDs (stored as text) travel as one JSON array: any number of
        # them (SQLite allows 32,766 parameters) and one cached statement per query shape.
        if values and all(
            (isinstance(v, int) and not isinstance(v, bool)) or isinstance(v, str | uuid.UUID)
            for v in values
        ):
            params.append(json.dumps([str(v) if isinstance(v, uuid.UUID) else v for v in values]))
            return f"{column} IN (SELECT value FROM json_each({self.placeholder(len(params))}))"
        return super().in_list(column, values, params)

    def literal(self, value: object) -> str:
        if isinstance(value, bool):
            return "1" if value else "0"
        if isinstance(value, dt.datetime):
            # As the engine stores datetimes: UTC text with an explicit offset.
            if value.tzinfo is not None:
                value = value.astimezone(dt.UTC).replace(tzinfo=None)
                return super().literal(value.isoformat(sep=" ") + "+00:00")
        return super().literal(value)

    def limit_offset(self, limit: str | None, offset: str | None) -> str:
        # SQLite has no OFFSET without LIMIT; -1 means no limit.
        if limit is None and offset is not None:
            limit = "-1"
        return super().limit_offset(limit, offset)

    def lower(self, sql: str) -> str:
        return f"yara_lower({sql})"

    def upper(self, sql: str) -> str:
        return f"yara_upper({sql})"

    def arithmetic(self, operator: str, left: str, right: str) -> str:
        return f"{self.ARITHMETIC[operator]}({left}, {right})"

    def decimal_result(self, expression: str, field: Field[Any]) -> str:
        # Decimals are text here: arithmetic on them is a float, written back rounded to the
        # field's places as PostgreSQL's numeric(p, s) would ("0.64", not "0.642857...").
        places = int(field.type_arguments().get("decimal_places", 0))
        return (
            f"CASE WHEN ({expression}) IS NULL THEN NULL "
            f"ELSE printf('%.{places}f', ROUND({expression}, {places})) END"
        )

    def comparable(self, column: str, field: Field[Any]) -> str:
        # Decimals are stored as exact text; compare and compute on their numeric value.
        return f"CAST({column} AS REAL)" if field.db_kind == "decimal" else column

    def date_part(self, column: str, part: str) -> str:
        if part == "quarter":
            return f"((CAST(strftime('%m', {column}) AS INTEGER) + 2) / 3)"
        if part == "microsecond":
            # strftime('%f') stops at milliseconds; stored values carry six digits after '.'.
            return (
                f"(CASE WHEN instr({column}, '.') > 0 THEN "
                f"CAST(substr({column}, instr({column}, '.') + 1, 6) AS INTEGER) ELSE 0 END)"
            )
        return f"CAST(strftime('{DATE_PARTS[part]}', {column}) AS INTEGER)"

    def regex(self, column: str, pattern: str, insensitive: bool) -> str:
        # REGEXP calls the regexp() function the engine registers on every connection.
        if insensitive:
            pattern = f"('(?i)' || {pattern})"
        return f"{column} REGEXP {pattern}"

    null_safe_not_equal: ClassVar[str] = "IS NOT"

    def json_extract(self, column: str, path: list[str], param: Callable[[Any], str]) -> str:
        steps = []
        for step in path:
            if step.isdigit():
                steps.append(f"[{step}]")
            elif '"' in step:
                raise ParamsError(f"a JSON path step cannot contain a double quote: {step!r}")
            else:
                steps.append(f'."{step}"')
        return f"json_extract({column}, {param('$' + ''.join(steps))})"

    def json_scalar(self, value: Any) -> Any:
        return int(value) if isinstance(value, bool) else value  # json_extract: true is 1

    def explain(self, sql: str, output_fmt: str | None, options: dict[str, bool]) -> str:
        if output_fmt is not None:
            raise UnSupportedError("SQLite does not support different explain formats")
        if options:
            raise UnSupportedError("SQLite does not support explain options")
        return f"EXPLAIN QUERY PLAN {sql}"
