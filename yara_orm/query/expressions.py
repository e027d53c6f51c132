"""Query expressions: `Q` (filter trees), `F` (column references with arithmetic), and the
aggregates. They compile to SQL through a `Compiler`, which owns joins and parameters."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from yara_orm.query.compiler import Compiler


class Q:
    """A filter tree: `Q(a=1) | ~Q(b__gt=2) & Q(c__in=[...])`."""

    AND = "AND"
    OR = "OR"

    def __init__(self, *children: Q, join_type: str = AND, **lookups: Any) -> None:
        self.children: list[Q | tuple[str, Any]] = [*children, *lookups.items()]
        self.connector = join_type
        self.negated = False

    def _combine(self, other: Q, connector: str) -> Q:
        if not isinstance(other, Q):
            return NotImplemented
        combined = Q(join_type=connector)
        # `q = q & Q(...)` in a loop stays one flat level instead of a tree as deep as the loop.
        for side in (self, other):
            if side.connector == connector and not side.negated:
                combined.children.extend(side.children)
            else:
                combined.children.append(side)
        return combined

    def __and__(self, other: Q) -> Q:
        return self._combine(other, Q.AND)

    def __or__(self, other: Q) -> Q:
        return self._combine(other, Q.OR)

    def __invert__(self) -> Q:
        inverted = Q(join_type=self.connector)
        inverted.children = list(self.children)
        inverted.negated = not self.negated
        return inverted

    def __repr__(self) -> str:
        sign = "~" if self.negated else ""
        return f"{sign}Q({self.connector}: {self.children!r})"


class Expression:
    """Something that compiles to a SQL expression."""

    is_aggregate = False

    def compile(self, compiler: Compiler) -> str:
        raise NotImplementedError

    def _combine(self, other: Any, operator: str, reverse: bool = False) -> CombinedExpression:
        other = other if isinstance(other, Expression) else Value(other)
        if reverse:
            return CombinedExpression(other, operator, self)
        return CombinedExpression(self, operator, other)

    def __add__(self, other: Any) -> CombinedExpression:
        return self._combine(other, "+")

    def __radd__(self, other: Any) -> CombinedExpression:
        return self._combine(other, "+", reverse=True)

    def __sub__(self, other: Any) -> CombinedExpression:
        return self._combine(other, "-")

    def __rsub__(self, other: Any) -> CombinedExpression:
        return self._combine(other, "-", reverse=True)

    def __mul__(self, other: Any) -> CombinedExpression:
        return self._combine(other, "*")

    def __rmul__(self, other: Any) -> CombinedExpression:
        return self._combine(other, "*", reverse=True)

    def __truediv__(self, other: Any) -> CombinedExpression:
        return self._combine(other, "/")

    def __rtruediv__(self, other: Any) -> CombinedExpression:
        return self._combine(other, "/", reverse=True)

    def __mod__(self, other: Any) -> CombinedExpression:
        return self._combine(other, "%")

    def __neg__(self) -> CombinedExpression:
        return CombinedExpression(Value(0), "-", self)


class F(Expression):
    """A column, by field path: `F("price")`, `F("author__name")`."""

    def __init__(self, name: str) -> None:
        self.name = name

    def compile(self, compiler: Compiler) -> str:
        return compiler.column_for_path(self.name, comparable=True)

    def __repr__(self) -> str:
        return f"F({self.name!r})"


class Value(Expression):
    """A literal, sent as a parameter."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def compile(self, compiler: Compiler) -> str:
        return compiler.param(self.value)


class CombinedExpression(Expression):
    def __init__(self, left: Expression, operator: str, right: Expression) -> None:
        self.left = left
        self.operator = operator
        self.right = right
        self.is_aggregate = left.is_aggregate or right.is_aggregate

    def compile(self, compiler: Compiler) -> str:
        left = self.left.compile(compiler)
        right = self.right.compile(compiler)
        return compiler.dialect.arithmetic(self.operator, left, right)


class Aggregate(Expression):
    function = ""
    is_aggregate = True

    def __init__(self, field: str | Expression, distinct: bool = False) -> None:
        self.field = field
        self.distinct = distinct

    def compile(self, compiler: Compiler) -> str:
        inner = (
            self.field.compile(compiler)
            if isinstance(self.field, Expression)
            else compiler.column_for_path(self.field, comparable=True)
        )
        distinct = "DISTINCT " if self.distinct else ""
        return f"{self.function}({distinct}{inner})"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.field!r})"


class Count(Aggregate):
    function = "COUNT"


class Sum(Aggregate):
    function = "SUM"


class Avg(Aggregate):
    function = "AVG"


class Min(Aggregate):
    function = "MIN"


class Max(Aggregate):
    function = "MAX"
