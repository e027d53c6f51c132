"""Database functions and aggregates, as Tortoise's `tortoise.functions`: use them in
`annotate()`, `filter()`, `order_by()`, `values()` and `update()`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from yara_orm.query.expressions import (
    Aggregate,
    Avg,
    Count,
    Function,
    Max,
    Min,
    Sum,
)

if TYPE_CHECKING:
    from yara_orm.query.compiler import Compiler

__all__ = [
    "Aggregate",
    "Avg",
    "Coalesce",
    "Concat",
    "Count",
    "Function",
    "Length",
    "Lower",
    "Max",
    "Min",
    "Sum",
    "Trim",
    "Upper",
]


class Trim(Function):
    """The text without leading and trailing spaces."""

    database_func = "TRIM"


class Length(Function):
    """The length of the text, in characters."""

    database_func = "LENGTH"


class Coalesce(Function):
    """The first of the field and the given values that is not NULL."""

    database_func = "COALESCE"


class Lower(Function):
    """The text in lower case (Unicode-aware on both backends)."""

    def compile(self, compiler: Compiler) -> str:
        return compiler.dialect.lower(self.arguments(compiler)[0])


class Upper(Function):
    """The text in upper case (Unicode-aware on both backends)."""

    def compile(self, compiler: Compiler) -> str:
        return compiler.dialect.upper(self.arguments(compiler)[0])


class Concat(Function):
    """The field and the given values joined; NULLs count as empty text. Strings after the
    first argument are values (use `F("name")` for another column)."""

    def compile(self, compiler: Compiler) -> str:
        parts = [f"COALESCE({part}, '')" for part in self.arguments(compiler)]
        return "(" + " || ".join(parts) + ")"
