"""What every SQL dialect provides. The ORM writes SQL only through these methods, so a new
backend is a new dialect (plus an engine backend)."""

from __future__ import annotations

import datetime as dt
import decimal
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from yara_orm.exceptions import ConfigurationError, NotSupportedError

if TYPE_CHECKING:
    from yara_orm.fields.base import Field


@dataclass(frozen=True)
class Capabilities:
    """What a backend can do, for the ORM and for tests that must know (Tortoise's names,
    so `requireCapability(dialect="postgres")` and the like work)."""

    dialect: str = ""
    daemon: bool = True
    requires_limit: bool = False
    inline_comment: bool = False
    supports_transactions: bool = True
    support_for_update: bool = False
    support_for_no_key_update: bool = False
    support_index_hint: bool = False
    support_update_limit_order_by: bool = False
    support_for_posix_regex_queries: bool = False
    support_json_attributes: bool = False
    can_rollback_ddl: bool = True
    support_returning: bool = True
    isolation_levels: tuple[str, ...] = ()


class SchemaGenerator:
    """Tortoise's `client.schema_generator`: `DIALECT` names the dialect, and an instance
    made with a client writes the CREATE statements of that connection's models."""

    DIALECT: ClassVar[str] = ""

    def __init__(self, client: Any) -> None:
        self.client = client

    def get_create_schema_sql(self, safe: bool = True) -> str:
        from yara_orm.utils import get_schema_sql  # the ORM's registry sits above dialects

        return get_schema_sql(self.client, safe)


class Dialect:
    name: ClassVar[str]
    capabilities: ClassVar[Capabilities]
    schema_generator: ClassVar[type[SchemaGenerator]]
    # Logical field kind -> column type; "{max_length}" etc. are filled from the field.
    column_types: ClassVar[dict[str, str]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" in cls.__dict__:
            cls.schema_generator = type(
                f"{cls.__name__}SchemaGenerator", (SchemaGenerator,), {"DIALECT": cls.name}
            )

    def placeholder(self, index: int) -> str:
        """The placeholder of the `index`-th (1-based) parameter."""
        raise NotImplementedError

    @staticmethod
    def quote(name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    def column_type(self, field: Field[Any]) -> str:
        template = self.column_types.get(field.db_kind)
        if template is None:
            model = field.model.__name__ if field.model else "?"
            able = [d.name for d in Dialect.__subclasses__() if field.db_kind in d.column_types]
            raise ConfigurationError(
                f"{model}.{field.name}: {type(field).__name__} has no column type on "
                f"{self.name} (only on {', '.join(able) or 'none'})"
            )
        return template.format(**field.type_arguments())

    def value_placeholder(self, index: int, value: Any) -> str:
        """The placeholder of a value standing alone in an expression (a CASE result, a
        function argument), where the server has no column to take its type from."""
        return self.placeholder(index)

    def typed_placeholder(self, index: int, field: Field[Any]) -> str:
        """A placeholder whose type the server cannot infer from context (CASE branches)."""
        return self.placeholder(index)

    def values_lists(self, rows: int, width: int) -> str:
        """`VALUES (…), (…)` for `rows` rows of `width` parameters, numbered from 1."""
        return "VALUES " + ", ".join(
            "(" + ", ".join(self.placeholder(row * width + col + 1) for col in range(width)) + ")"
            for row in range(rows)
        )

    def bulk_array_types(self, fields: list[Field[Any]]) -> list[str] | None:
        """The array element type of each field's column when rows can travel as one array
        per column (see `bulk_rows`); None where they cannot."""
        return None

    def bulk_rows(
        self, fields: list[Field[Any]], columns: list[list[Any]], params: list[Any]
    ) -> str:
        """A SELECT yielding many rows from one parameter per column (`columns` holds each
        column's values), for INSERT ... SELECT; only where `bulk_array_types` has types."""
        raise NotSupportedError(f"{self.name} writes rows as VALUES lists")

    def auto_increment_column(self, field: Field[Any]) -> str:
        """The whole column definition of an auto-incrementing primary key."""
        raise NotImplementedError

    def in_list(self, column: str, values: list[object], params: list[object]) -> str:
        """`column IN (...)`, appending the values to `params`."""
        if not values:
            return "1 = 0"
        marks = []
        for value in values:
            params.append(value)
            marks.append(self.placeholder(len(params)))
        return f"{column} IN ({', '.join(marks)})"

    def text_match(
        self, column: str, value: str, kind: str, insensitive: bool, params: list[object]
    ) -> str:
        """`contains` / `startswith` / `endswith` (or `exact` when insensitive)."""
        pattern = escape_like(value)
        if kind == "contains":
            pattern = f"%{pattern}%"
        elif kind == "startswith":
            pattern = f"{pattern}%"
        elif kind == "endswith":
            pattern = f"%{pattern}"
        params.append(pattern)
        mark = self.placeholder(len(params))
        if insensitive:
            return f"{self.lower(column)} LIKE {self.lower(mark)} ESCAPE '\\'"
        return f"{column} LIKE {mark} ESCAPE '\\'"

    def date_part(self, column: str, part: str) -> str:
        raise NotImplementedError

    def default_sql(self, value: object, field: Field[Any]) -> str:
        """A column's `DEFAULT` (db_default): SQL given as `SqlDefault`, or a literal."""
        from yara_orm.fields.db_defaults import SqlDefault

        if isinstance(value, SqlDefault):
            return value.get_sql(dialect=self.name)
        return self.literal(field.to_db(field.validate(value)))

    def literal(self, value: object) -> str:
        """A SQL literal for a (validated, database-ready) value."""
        if isinstance(value, bool):
            return "TRUE" if value else "FALSE"
        if isinstance(value, int | float | decimal.Decimal):
            return str(value)
        if isinstance(value, dt.datetime):
            return self.literal(value.isoformat(sep=" "))
        if isinstance(value, dt.date | dt.time | uuid.UUID):
            return self.literal(str(value))
        if isinstance(value, str):
            return "'" + value.replace("'", "''") + "'"
        raise TypeError(f"no SQL literal for {type(value).__name__} {value!r}")

    def inline_params(self, sql: str, params: list[Any]) -> str:
        """`sql` with each placeholder replaced by its value as a literal: for reading (as
        `QuerySet.sql(params_inline=True)` shows it), never for running."""
        counter = iter(range(len(params)))

        def replace(match: re.Match[str]) -> str:
            marker = match.group(2)
            if marker is None:  # quoted text or a quoted name: left as it is
                return match.group(0)
            position = int(marker[1:]) - 1 if marker[1:] else next(counter)
            value = params[position]
            return "NULL" if value is None else self._inline_literal(value)

        return _PLACEHOLDER.sub(replace, sql)

    def _inline_literal(self, value: object) -> str:
        if isinstance(value, list | tuple):
            return "ARRAY[" + ", ".join(self._inline_literal(item) for item in value) + "]"
        try:
            return self.literal(value)
        except TypeError:
            return self.literal(str(value))

    def regex(self, column: str, pattern: str, insensitive: bool) -> str:
        """`column` matches the POSIX-style regular expression `pattern` (a placeholder)."""
        return f"{column} {'~*' if insensitive else '~'} {pattern}"

    #: `a <op> b` true when they differ, NULL counting as a value.
    null_safe_not_equal: ClassVar[str] = "IS DISTINCT FROM"

    def json_extract(self, column: str, path: list[str], param: Callable[[Any], str]) -> str:
        """The scalar at `path` inside the JSON `column` (NULL when absent or null)."""
        raise NotImplementedError

    def json_scalar(self, value: Any) -> Any:
        """`value` as `json_extract` gives such a value back, for comparing with it."""
        return value

    def json_number(self, extracted: str) -> str:
        """An extracted scalar as a number, for <, >, <=, >=."""
        return extracted

    def json_contains(self, column: str, document: str, contained_by: bool) -> str:
        raise NotSupportedError(
            f"{'contained_by' if contained_by else 'contains'} on a JSON field needs "
            "PostgreSQL; filter=... with paths works on every backend"
        )

    def explain(self, sql: str, output_fmt: str | None, options: dict[str, bool]) -> str:
        """The statement that shows how the database would run `sql`."""
        raise NotImplementedError

    def limit_offset(self, limit: str | None, offset: str | None) -> str:
        """` LIMIT … OFFSET …` for placeholders already holding the numbers."""
        sql = "" if limit is None else f" LIMIT {limit}"
        return sql if offset is None else f"{sql} OFFSET {offset}"

    def lower(self, sql: str) -> str:
        """Lower-cased text, for case-insensitive matching (Unicode-aware)."""
        return f"LOWER({sql})"

    def upper(self, sql: str) -> str:
        return f"UPPER({sql})"

    def arithmetic(self, operator: str, left: str, right: str) -> str:
        """`left <operator> right`; integer overflow and division by zero must raise."""
        return f"({left} {operator} {right})"

    def decimal_result(self, expression: str, field: Field[Any]) -> str:
        """A computed value stored into a decimal column: at the column's scale (PostgreSQL's
        numeric column rounds it itself)."""
        return expression

    def comparable(self, column: str, field: Field[Any]) -> str:
        """The column as comparisons, ordering and arithmetic should see it."""
        return column

    def for_update(
        self, nowait: bool, skip_locked: bool, of: tuple[str, ...] = (), no_key: bool = False
    ) -> str:
        """Row locking; SQLite has none (its writes lock the whole database)."""
        return ""


# A placeholder outside quoted text: `$n` (PostgreSQL) or `?` (SQLite).
_PLACEHOLDER = re.compile(r"('(?:[^']|'')*'|\"(?:[^\"]|\"\")*\")|(\$\d+|\?\d*)")


def escape_like(value: str) -> str:
    """Escape LIKE's wildcards so user text matches literally."""
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
