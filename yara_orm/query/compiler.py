"""From lookups and expressions to SQL text and parameters.

A `Compiler` walks field paths (`author__name__icontains`), adds the joins they need (each
path joined once, aliased `t0`, `t1`, …), validates every value against its field, and hands
values over as parameters. Field and table names reach SQL only after they were found on a
model, and always quoted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from yara_orm.exceptions import FieldError, ValidationError
from yara_orm.fields.base import Field
from yara_orm.fields.relations import (
    BackwardManyToMany,
    BackwardOneToOne,
    BackwardRelation,
    ForeignKeyField,
    ManyToManyField,
)
from yara_orm.query.expressions import Expression, Q

if TYPE_CHECKING:
    from yara_orm.dialects.base import Dialect
    from yara_orm.models.base import Model

DATE_PARTS = ("year", "month", "day", "hour", "minute")


@dataclass
class Join:
    alias: str
    sql: str
    to_many: bool


def _is_to_many(field: Field) -> bool:
    return isinstance(field, ManyToManyField | BackwardManyToMany) or (
        isinstance(field, BackwardRelation) and not isinstance(field, BackwardOneToOne)
    )


class Compiler:
    def __init__(
        self,
        model: type[Model],
        dialect: Dialect,
        *,
        params: list[Any] | None = None,
        alias_prefix: str = "t",
        annotations: dict[str, Expression] | None = None,
    ) -> None:
        self.model = model
        self.dialect = dialect
        self.params: list[Any] = [] if params is None else params
        self.prefix = alias_prefix
        self.base_alias = f"{alias_prefix}0"
        self.joins: dict[tuple[str, ...], Join] = {}
        self.annotations = annotations or {}

    # Basics -------------------------------------------------------------------------------

    def quote(self, name: str) -> str:
        return self.dialect.quote(name)

    def param(self, value: Any) -> str:
        self.params.append(value)
        return self.dialect.placeholder(len(self.params))

    def column(self, alias: str, field: Field) -> str:
        return f"{alias}.{self.quote(field.column)}"

    @property
    def uses_to_many(self) -> bool:
        return any(join.to_many for join in self.joins.values())

    def from_clause(self) -> str:
        table = f"{self.quote(self.model._meta.table)} {self.base_alias}"
        return " ".join([table, *(join.sql for join in self.joins.values())])

    # Paths --------------------------------------------------------------------------------

    def _join(self, path: tuple[str, ...], source: str, field: Field) -> str:
        known = self.joins.get(path)
        if known is not None:
            return known.alias
        alias = f"{self.prefix}{len(self.joins) + 1}"
        q = self.quote
        if isinstance(field, ForeignKeyField):
            target = field.related_model._meta
            sql = (
                f"LEFT JOIN {q(target.table)} {alias} "
                f"ON {alias}.{q(target.pk.column)} = {source}.{q(field.column)}"
            )
        elif isinstance(field, BackwardRelation):
            child = field.related_model._meta
            owner_pk = field.model._meta.pk
            sql = (
                f"LEFT JOIN {q(child.table)} {alias} "
                f"ON {alias}.{q(field.forward.column)} = {source}.{q(owner_pk.column)}"
            )
        else:
            forward = field.forward if isinstance(field, BackwardManyToMany) else field
            assert isinstance(forward, ManyToManyField)
            if isinstance(field, ManyToManyField):
                near, far = forward.backward_key, forward.forward_key
            else:
                near, far = forward.forward_key, forward.backward_key
            target = field.related_model._meta  # type: ignore[attr-defined]
            owner_pk = field.model._meta.pk
            through = f"{alias}x"
            sql = (
                f"LEFT JOIN {q(forward.through or '')} {through} "
                f"ON {through}.{q(near or '')} = {source}.{q(owner_pk.column)} "
                f"LEFT JOIN {q(target.table)} {alias} "
                f"ON {alias}.{q(target.pk.column)} = {through}.{q(far or '')}"
            )
        self.joins[path] = Join(alias, sql, _is_to_many(field))
        return alias

    def walk(self, parts: list[str], *, join: bool = True) -> tuple[str, Field, list[str], bool]:
        """Follow `parts` from the model: (alias, terminal field, remaining parts, to_many)."""
        model = self.model
        alias = self.base_alias
        path: tuple[str, ...] = ()
        to_many = False
        index = 0
        while index < len(parts):
            name = parts[index]
            meta = model._meta
            field = meta.pk if name == "pk" else meta.fields.get(name)
            if field is None:
                field = next((f for f in meta.forward_fks if f.attname == name), None)
                if field is not None:  # `author_id`: the local column itself
                    return alias, field, parts[index + 1 :], to_many
                raise FieldError(
                    f"{model.__name__} has no field {name!r} (in {'__'.join(parts)!r}); "
                    f"valid fields: {', '.join(sorted(meta.fields))}"
                )
            rest = parts[index + 1 :]
            if isinstance(field, ForeignKeyField):
                target_pk = field.related_model._meta.pk
                pk_names = ("pk", target_pk.name)
                if not rest or rest[0] in LOOKUPS or rest[0] in DATE_PARTS:
                    return alias, field, rest, to_many
                if rest[0] in pk_names and (len(rest) == 1 or rest[1] in LOOKUPS):
                    return alias, field, rest[1:], to_many
            elif not field.is_relation:
                return alias, field, rest, to_many
            path = (*path, name)
            to_many = to_many or _is_to_many(field)
            alias = self._join(path, alias, field) if join else f"{self.prefix}?"
            model = field.related_model  # type: ignore[attr-defined]
            if not rest or rest[0] in LOOKUPS:
                return alias, model._meta.pk, rest, to_many
            index += 1
        raise FieldError(f"{'__'.join(parts)!r} names no field")

    def path_is_to_many(self, key: str) -> bool:
        if key.split("__")[0] in self.annotations:
            return False
        probe = Compiler(self.model, self.dialect, alias_prefix="p")
        return probe.walk(key.split("__"), join=False)[3]

    def column_for_path(self, path: str, comparable: bool = False) -> str:
        """The SQL of a field path or an annotation name. `comparable` when the value takes
        part in a comparison, an ordering or arithmetic (see `Dialect.comparable`)."""
        if path in self.annotations:
            return self.annotations[path].compile(self)
        alias, field, rest, _ = self.walk(path.split("__"))
        if rest:
            raise FieldError(f"{path!r} must name a field, not a lookup")
        column = self.column(alias, field)
        return self.dialect.comparable(column, field) if comparable else column

    # Filters ------------------------------------------------------------------------------

    def where(self, q: Q) -> str:
        """The condition of a Q tree, built without recursion (trees may be deep)."""
        # Post-order over the tree: a node's children are compiled before the node itself.
        done: dict[int, str] = {}
        stack: list[tuple[Q, bool]] = [(q, False)]
        while stack:
            node, expanded = stack.pop()
            if not expanded and not self._needs_subquery(node):
                stack.append((node, True))
                stack.extend((c, False) for c in reversed(node.children) if isinstance(c, Q))
                continue
            done[id(node)] = self._node_condition(node, done)
        return done[id(q)]

    def _needs_subquery(self, q: Q) -> bool:
        return q.negated and any(self.path_is_to_many(key) for key in _keys(q))

    def _node_condition(self, q: Q, done: dict[int, str]) -> str:
        if self._needs_subquery(q):
            return self._excluded_through_to_many(q)
        parts = [
            done[id(child)] if isinstance(child, Q) else self.lookup(*child) for child in q.children
        ]
        parts = [p for p in parts if p]
        sql = _join(parts, q.connector) if parts else "1 = 1"
        return f"NOT ({sql})" if q.negated else sql

    def _excluded_through_to_many(self, q: Q) -> str:
        # NOT over a to-many join must mean "no related row matches", not "some row doesn't".
        positive = ~q
        sub = Compiler(
            self.model,
            self.dialect,
            params=self.params,
            alias_prefix=self.prefix + "s",
            annotations=self.annotations,
        )
        condition = sub.where(positive)
        pk = self.model._meta.pk
        return (
            f"{self.column(self.base_alias, pk)} NOT IN (SELECT {sub.column(sub.base_alias, pk)} "
            f"FROM {sub.from_clause()} WHERE {condition})"
        )

    def lookup(self, key: str, value: Any) -> str:
        parts = key.split("__")
        if parts[0] in self.annotations:
            column = self.annotations[parts[0]].compile(self)
            rest = parts[1:]
            field: Field | None = None
        else:
            alias, field, rest, _ = self.walk(parts)
            column = self.dialect.comparable(self.column(alias, field), field)
        if rest and rest[0] in DATE_PARTS:
            column = self.dialect.date_part(column, rest[0])
            rest = rest[1:]
            field = None
        if len(rest) > 1 or (rest and rest[0] not in LOOKUPS):
            raise FieldError(
                f"unknown lookup {'__'.join(rest)!r} in {key!r}; "
                f"valid lookups: {', '.join(sorted(LOOKUPS))}, and the date parts "
                f"{', '.join(DATE_PARTS)}"
            )
        operator = LOOKUPS[rest[0] if rest else "exact"]
        return operator(self, column, field, value)

    def value(self, field: Field | None, value: Any) -> str:
        """A comparison operand: an expression, or a parameter checked against `field`."""
        if isinstance(value, Expression):
            return value.compile(self)
        return self.param(self.db_value(field, value))

    @staticmethod
    def db_value(field: Field | None, value: Any) -> Any:
        from yara_orm.models.base import Model

        if isinstance(value, Model):
            value = value.pk
        if field is None:
            return value
        if isinstance(field, ForeignKeyField):
            return field.related_model._meta.pk.to_db(field.validate(value))
        return field.to_db(field.validate(value))


def _join(parts: list[str], connector: str) -> str:
    """`(a OR b OR ...)`, grouped into a balanced tree of parentheses when long: databases
    parse `a OR b OR c ...` as a chain as deep as the list, and SQLite stops at 1,000."""
    if len(parts) == 1:
        return parts[0]
    if len(parts) <= 64:
        return "(" + f" {connector} ".join(parts) + ")"
    middle = len(parts) // 2
    return f"({_join(parts[:middle], connector)} {connector} {_join(parts[middle:], connector)})"


def _keys(q: Q) -> list[str]:
    """Every lookup key in the tree (without recursion)."""
    keys: list[str] = []
    stack = [q]
    while stack:
        for child in stack.pop().children:
            if isinstance(child, Q):
                stack.append(child)
            else:
                keys.append(child[0])
    return keys


# Lookups: (compiler, column SQL, field or None, value) -> condition SQL.
Lookup = Callable[[Compiler, str, "Field | None", Any], str]


def _exact(c: Compiler, column: str, field: Field | None, value: Any) -> str:
    if value is None:
        return f"{column} IS NULL"
    return f"{column} = {c.value(field, value)}"


def _not(c: Compiler, column: str, field: Field | None, value: Any) -> str:
    if value is None:
        return f"{column} IS NOT NULL"
    return f"({column} <> {c.value(field, value)} OR {column} IS NULL)"


def _compare(operator: str) -> Lookup:
    def compare(c: Compiler, column: str, field: Field | None, value: Any) -> str:
        if value is None:
            raise ValidationError(f"{operator} needs a value, not None", value=value)
        return f"{column} {operator} {c.value(field, value)}"

    return compare


def _values(c: Compiler, field: Field | None, values: Any) -> list[Any]:
    if isinstance(values, str | bytes) or not hasattr(values, "__iter__"):
        raise ValidationError(f"`in` needs a list of values, not {values!r}", value=values)
    return [c.db_value(field, v) for v in values]


def _in(c: Compiler, column: str, field: Field | None, values: Any) -> str:
    return c.dialect.in_list(column, _values(c, field, values), c.params)


def _not_in(c: Compiler, column: str, field: Field | None, values: Any) -> str:
    return f"NOT ({_in(c, column, field, values)})"


def _isnull(c: Compiler, column: str, field: Field | None, value: Any) -> str:
    return f"{column} IS NULL" if value else f"{column} IS NOT NULL"


def _not_isnull(c: Compiler, column: str, field: Field | None, value: Any) -> str:
    return _isnull(c, column, field, not value)


def _range(c: Compiler, column: str, field: Field | None, value: Any) -> str:
    low, high = value
    return f"{column} BETWEEN {c.value(field, low)} AND {c.value(field, high)}"


def _text(kind: str, insensitive: bool) -> Lookup:
    def match(c: Compiler, column: str, field: Field | None, value: Any) -> str:
        if not isinstance(value, str):
            raise ValidationError(
                f"{kind} lookups take a string, not {value!r}",
                field=getattr(field, "name", ""),
                value=value,
            )
        return c.dialect.text_match(column, value, kind, insensitive, c.params)

    return match


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
}
