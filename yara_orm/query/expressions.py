"""Query expressions: `Q` (filter trees), `F` (column references with arithmetic), and the
aggregates. They compile to SQL through a `Compiler`, which owns joins and parameters."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from yara_orm.query.compiler import Compiler
    from yara_orm.query.queryset import QuerySet


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

    def __pow__(self, other: Any) -> CombinedExpression:
        return self._combine(other, "**")

    def __rpow__(self, other: Any) -> CombinedExpression:
        return self._combine(other, "**", reverse=True)

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
        return compiler.value_param(self.value)


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


def _operand(compiler: Compiler, value: Any, field_names: bool) -> str:
    """An argument of a function: an expression, a field path (when `field_names`), or a value."""
    if isinstance(value, Expression):
        return value.compile(compiler)
    if field_names and isinstance(value, str):
        return compiler.column_for_path(value, comparable=True)
    return compiler.value_param(value)


class Function(Expression):
    """A SQL function over a field (by name or expression) and further arguments."""

    database_func = ""
    #: Which arguments after the first name fields (the rest are values).
    fields_after_first = False

    def __init__(self, field: str | Expression, *default_values: Any) -> None:
        self.field = field
        self.default_values = default_values
        self.is_aggregate = isinstance(field, Expression) and field.is_aggregate

    def arguments(self, compiler: Compiler) -> list[str]:
        first = _operand(compiler, self.field, True)
        rest = [_operand(compiler, v, self.fields_after_first) for v in self.default_values]
        return [first, *rest]

    def compile(self, compiler: Compiler) -> str:
        return f"{self.database_func}({', '.join(self.arguments(compiler))})"

    def __repr__(self) -> str:
        args = ", ".join(repr(a) for a in (self.field, *self.default_values))
        return f"{type(self).__name__}({args})"


class RawSQL(Expression):
    """SQL written by hand, used as it is: never build it from user input."""

    def __init__(self, sql: str) -> None:
        self.sql = sql

    def compile(self, compiler: Compiler) -> str:
        return self.sql


class Subquery(Expression):
    """A queryset as a value: `filter(id__in=Subquery(Other.filter(...).values("fk")))`."""

    def __init__(self, query: QuerySet[Any]) -> None:
        self.query = query

    def compile(self, compiler: Compiler) -> str:
        from yara_orm.query.compiler import Statements

        sql, _, _ = Statements(self.query).select(
            params=compiler.params, alias_prefix=compiler.prefix + "s"
        )
        return f"({sql})"


class When(Expression):
    """One branch of a `Case`: the filters (as `Q`s or keywords) and the value `then`."""

    def __init__(self, *args: Q, then: Any, negate: bool = False, **kwargs: Any) -> None:
        self.condition = Q(*args, **kwargs)
        if negate:
            self.condition = ~self.condition
        self.then = then

    def compile(self, compiler: Compiler) -> str:
        # Compiled in text order, so that the SQL reads in the order its parameters are given.
        condition = compiler.where(self.condition)
        value = _operand(compiler, self.then, False)
        return f"WHEN {condition} THEN {value}"


class Case(Expression):
    """`CASE WHEN … THEN … ELSE default END`; string values are values, not field names
    (use `F("name")` for a column)."""

    def __init__(self, *whens: When, default: Any = None) -> None:
        self.whens = whens
        self.default = default

    def compile(self, compiler: Compiler) -> str:
        branches = " ".join(when.compile(compiler) for when in self.whens)
        default = _operand(compiler, self.default, False)
        return f"CASE {branches} ELSE {default} END"


class Aggregate(Expression):
    function = ""
    is_aggregate = True

    def __init__(
        self,
        field: str | Expression,
        *default_values: Any,
        distinct: bool = False,
        _filter: Q | None = None,
    ) -> None:
        self.field = field
        self.distinct = distinct
        self.filter = _filter

    def compile(self, compiler: Compiler) -> str:
        inner = _operand(compiler, self.field, True)
        distinct = "DISTINCT " if self.distinct else ""
        sql = f"{self.function}({distinct}{inner})"
        if self.filter is not None:
            sql += f" FILTER (WHERE {compiler.where(self.filter)})"
        return sql

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
