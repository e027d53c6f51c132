"""From lookups and expressions to SQL text and parameters.

A `Compiler` walks field paths (`author__name__icontains`), adds the joins they need (each
path joined once, aliased `t0`, `t1`, …), validates every value against its field, and hands
values over as parameters. Field and table names reach SQL only after they were found on a
model, and always quoted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from yara_orm.exceptions import (
    ConfigurationError,
    FieldError,
    IntegrityError,
    OperationalError,
    ParamsError,
)
from yara_orm.fields.base import Field
from yara_orm.fields.relations import (
    BackwardManyToMany,
    BackwardOneToOne,
    BackwardRelation,
    ForeignKeyField,
    ManyToManyField,
)
from yara_orm.query.expressions import Expression, Q
from yara_orm.query.json_lookups import JSON_LOOKUPS, json_lookup
from yara_orm.query.lookups import DATE_PARTS, LOOKUPS

if TYPE_CHECKING:
    from yara_orm.dialects.base import Dialect
    from yara_orm.models.base import Model
    from yara_orm.query.queryset import QuerySet


# `Model`, imported on first use (`models.base` imports this module); an import statement in
# `db_value`, which runs for every parameter, cost a microsecond each time.
_model: type[Model] | None = None


def _model_type() -> type[Model]:
    global _model
    from yara_orm.models.base import Model

    _model = Model
    return Model


@dataclass
class Join:
    alias: str
    sql: str
    to_many: bool
    table: str


def _is_to_many(field: Field[Any]) -> bool:
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

    def value_param(self, value: Any) -> str:
        """A parameter standing alone in an expression (see `Dialect.value_placeholder`)."""
        self.params.append(value)
        return self.dialect.value_placeholder(len(self.params), value)

    def column(self, alias: str, field: Field[Any]) -> str:
        return f"{alias}.{self.quote(field.column)}"

    @property
    def uses_to_many(self) -> bool:
        return any(join.to_many for join in self.joins.values())

    def table_alias(self, table: str) -> str:
        """The alias a table has in this statement (for `FOR UPDATE OF`)."""
        if table == self.model._meta.table:
            return self.base_alias
        for join in self.joins.values():
            if join.table == table:
                return join.alias
        known = [self.model._meta.table, *(join.table for join in self.joins.values())]
        raise FieldError(
            f"select_for_update(of=...): table {table!r} is not in this query; "
            f"it has {', '.join(known)}"
        )

    def from_clause(self) -> str:
        table = f"{self.quote(self.model._meta.table)} {self.base_alias}"
        return " ".join([table, *(join.sql for join in self.joins.values())])

    # Paths --------------------------------------------------------------------------------

    def _join(self, path: tuple[str, ...], source: str, field: Field[Any]) -> str:
        known = self.joins.get(path)
        if known is not None:
            return known.alias
        alias = f"{self.prefix}{len(self.joins) + 1}"
        q = self.quote
        if isinstance(field, ForeignKeyField):
            target = field.related_model._meta
            table = target.table
            sql = (
                f"LEFT JOIN {q(target.table)} {alias} "
                f"ON {alias}.{q(field.target_field.column)} = {source}.{q(field.column)}"
            )
        elif isinstance(field, BackwardRelation):
            child = field.related_model._meta
            owner_key = field.forward.target_field  # the pk, or the forward key's to_field
            table = child.table
            sql = (
                f"LEFT JOIN {q(child.table)} {alias} "
                f"ON {alias}.{q(field.forward.column)} = {source}.{q(owner_key.column)}"
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
            table = target.table
            sql = (
                f"LEFT JOIN {q(forward.through or '')} {through} "
                f"ON {through}.{q(near or '')} = {source}.{q(owner_pk.column)} "
                f"LEFT JOIN {q(target.table)} {alias} "
                f"ON {alias}.{q(target.pk.column)} = {through}.{q(far or '')}"
            )
        self.joins[path] = Join(alias, sql, _is_to_many(field), table)
        return alias

    def walk(
        self, parts: list[str], *, join: bool = True
    ) -> tuple[str, Field[Any], list[str], bool]:
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
                    f'Unknown field "{name}" for model "{model.__name__}" '
                    f"(in {'__'.join(parts)!r}); "
                    f"valid fields: {', '.join(sorted(meta.fields))}"
                )
            rest = parts[index + 1 :]
            if isinstance(field, ForeignKeyField):
                # The local column holds the target's key (its pk, or to_field): a filter
                # on that key needs no join.
                key = field.target_field
                key_names = (key.name, "pk") if key.pk else (key.name,)
                if not rest or rest[0] in LOOKUPS or rest[0] in DATE_PARTS:
                    return alias, field, rest, to_many
                if rest[0] in key_names and (len(rest) == 1 or rest[1] in LOOKUPS):
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
        if rest and field.db_kind == "json":  # a path into the document: "data__owner__0"
            return self.dialect.json_extract(self.column(alias, field), rest, self.param)
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
            field: Field[Any] | None = None
        else:
            try:
                alias, field, rest, _ = self.walk(parts)
            except FieldError as unknown:
                allowed = sorted({*self.model._meta.fields, *self.annotations, "pk"})
                if parts[0] in allowed:  # further down the path: the error names where
                    raise FieldError(f"Unknown filter param {key!r}: {unknown}") from None
                raise FieldError(
                    f"Unknown filter param {key!r}. Allowed base values are {allowed}"
                ) from None
            column = self.dialect.comparable(self.column(alias, field), field)
            if field.db_kind == "json" and len(rest) == 1 and rest[0] in JSON_LOOKUPS:
                return json_lookup(self, column, field, rest[0], value)
            # Lookups a field type brings along (ArrayField's contains, overlap, len, ...).
            own = getattr(field, "lookups", None)
            if own and len(rest) == 1 and rest[0] in own:
                return str(own[rest[0]](self, column, field, value))
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

    def value(self, field: Field[Any] | None, value: Any) -> str:
        """A comparison operand: an expression, or a parameter checked against `field`."""
        if isinstance(value, Expression):
            return value.compile(self)
        return self.param(self.db_value(field, value))

    @staticmethod
    def db_value(field: Field[Any] | None, value: Any) -> Any:
        Model = _model or _model_type()

        if isinstance(field, ForeignKeyField):
            if isinstance(value, Model):
                field.check_target(value)
                value = field.key_of(value)
            return field.target_field.to_db(field.validate(value))
        if isinstance(value, Model):
            value = value.pk
        if field is None:
            return value
        return field.to_db(field.validate(value))


def _order_clause(terms: list[tuple[str, bool]]) -> str:
    return ", ".join(
        f"{expression} DESC" if descending else expression for expression, descending in terms
    )


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


# Statements ---------------------------------------------------------------------------------


@dataclass
class SelectPlan:
    """What the rows of a compiled SELECT hold, for hydration."""

    fields: list[Field[Any]]
    # (model, first column, end column, attribute path, fields or None for all columns) per
    # related object joined in (select_related, or only() naming "relation__field").
    related: list[tuple[type[Model], int, int, tuple[str, ...], list[Field[Any]] | None]]
    # values()/values_list(): (result key, source path or annotation) per column; None for
    # model rows.
    values: tuple[tuple[str, str], ...] | None = None
    # Trailing columns selected only so that a DISTINCT can be ordered by them.
    hidden: int = 0


class Statements:
    """Assembles the SELECT, COUNT, EXISTS, UPDATE and DELETE of one queryset."""

    def __init__(self, query: QuerySet[Any]) -> None:
        self.query = query
        self.model = query.model
        self.dialect = query.client.dialect

    def compiler(self, **kwargs: Any) -> Compiler:
        return Compiler(self.model, self.dialect, annotations=self.query._annotations, **kwargs)

    # Parts --------------------------------------------------------------------------------

    def where(self, compiler: Compiler) -> tuple[str, str]:
        """WHERE and HAVING conditions (filters on aggregates go to HAVING)."""
        annotations = self.query._annotations

        def aggregated(q: Q) -> bool:
            return any(
                key.split("__")[0] in annotations and annotations[key.split("__")[0]].is_aggregate
                for key in _keys(q)
            )

        filters = self.query._filters
        # WHERE before HAVING, as in the SQL text, so positional parameters line up.
        where = [compiler.where(q) for q in filters if not aggregated(q)]
        having = [compiler.where(q) for q in filters if aggregated(q)]
        return (
            " AND ".join(s for s in where if s != "1 = 1"),
            " AND ".join(s for s in having if s != "1 = 1"),
        )

    def order(self, compiler: Compiler) -> str:
        return _order_clause(self.order_terms(compiler))

    def order_terms(self, compiler: Compiler) -> list[tuple[str, bool]]:
        """(expression, descending) per ordering key."""
        terms = []
        from_meta = self.query._order is None
        for name in self.query._ordering():
            key = name.lstrip("-")
            try:
                if key in self.query._annotations:
                    column = self._annotation_order_term(compiler, key)
                else:
                    _refuse_ordering_by_to_many(self.model, key)
                    column = compiler.column_for_path(key, comparable=True)
            except FieldError as error:
                if not from_meta:
                    raise
                raise ConfigurationError(f"{self.model.__name__}.Meta.ordering: {error}") from None
            terms.append((column, name.startswith("-")))
        return terms

    def _annotation_order_term(self, compiler: Compiler, name: str) -> str:
        """An annotation in ORDER BY: by its output name when it is selected, else its
        expression (SQLite would read an unknown quoted name as a string constant)."""
        query = self.query
        if query._values is None:
            return self.dialect.quote(name)
        for key, source in query._values:
            if source == name:
                return self.dialect.quote(key)
        return query._annotations[name].compile(compiler)

    def lock(self, compiler: Compiler) -> str:
        if self.query._lock is None:
            return ""
        nowait, skip_locked, of, no_key = self.query._lock
        aliases = tuple(compiler.table_alias(table) for table in of)
        return self.dialect.for_update(nowait, skip_locked, aliases, no_key)

    def limit_offset(self, compiler: Compiler) -> str:
        query = self.query
        limit = None if query._limit is None else compiler.param(query._limit)
        offset = compiler.param(query._offset) if query._offset else None
        return self.dialect.limit_offset(limit, offset)

    def model_columns(self, compiler: Compiler) -> tuple[list[str], SelectPlan]:
        """SELECT list for model rows: base columns, select_related columns, annotations."""
        meta = self.model._meta
        query = self.query
        fields = meta.columns
        partial_related: dict[str, list[str]] = {}
        if query._only is not None:
            own = [n for n in query._only if "__" not in n and n not in query._annotations]
            fields = [meta.column_field(name) for name in own]
            for name in query._only:
                if "__" in name:
                    path, _, field_name = name.rpartition("__")
                    partial_related.setdefault(path, []).append(field_name)
        plan = SelectPlan(fields=fields, related=[])
        columns = [compiler.column(compiler.base_alias, f) for f in fields]
        for path in query._select_related:
            if path in partial_related:
                continue  # only() names what to load of it
            for model, alias, setter in self._related_chain(compiler, path):
                start = len(columns)
                columns.extend(compiler.column(alias, f) for f in model._meta.columns)
                plan.related.append((model, start, len(columns), setter, None))
        # only("relation__field"): each object on the way is selected with its primary key
        # first (NULL tells a missing relation) and holds just the fields named for it.
        seen: set[tuple[str, ...]] = set()
        for path in sorted(partial_related, key=lambda p: p.count("__")):
            for model, alias, setter in self._related_chain(compiler, path):
                if setter in seen:
                    continue
                seen.add(setter)
                wanted = [
                    model._meta.column_field(n) for n in partial_related.get("__".join(setter), [])
                ]
                start = len(columns)
                columns.extend(compiler.column(alias, f) for f in [model._meta.pk, *wanted])
                plan.related.append((model, start, len(columns), setter, wanted))
        for name, expression in query._annotations.items():
            columns.append(f"{expression.compile(compiler)} AS {compiler.quote(name)}")
        return columns, plan

    def value_columns(self, compiler: Compiler) -> tuple[list[str], SelectPlan]:
        pairs = self.query._values or ()
        annotations = self.query._annotations
        columns = []
        for key, source in pairs:
            if source in annotations:
                columns.append(f"{annotations[source].compile(compiler)} AS {compiler.quote(key)}")
            else:
                columns.append(compiler.column_for_path(source))
        return columns, SelectPlan(fields=[], related=[], values=pairs)

    def value_grouping(self, compiler: Compiler, columns: list[str]) -> str:
        """GROUP BY for values() beside an aggregate, as Tortoise and Django do it: one row per
        model row (its pk, with every other value, so PostgreSQL accepts them), or none at
        all when only aggregates are selected (the aggregate of the whole queryset). Rows
        grouped by a value instead are asked for with group_by()."""
        annotations = self.query._annotations
        terms = []
        for (key, source), column in zip(self.query._values or (), columns, strict=True):
            if source not in annotations:
                terms.append(column)
            elif not annotations[source].is_aggregate:
                terms.append(compiler.quote(key))
        if not terms:
            return ""
        pk = compiler.column(compiler.base_alias, self.model._meta.pk)
        return ", ".join(dict.fromkeys([pk, *terms]))

    def _related_chain(
        self, compiler: Compiler, path: str
    ) -> list[tuple[type[Model], str, tuple[str, ...]]]:
        """Join each FK/O2O step of `path`; return (model, alias, attribute path) per step."""
        model: type[Model] = self.model
        alias = compiler.base_alias
        walked: tuple[str, ...] = ()
        chain: list[tuple[type[Model], str, tuple[str, ...]]] = []
        for name in path.split("__"):
            field = model._meta.fields.get(name)
            if not isinstance(field, ForeignKeyField | BackwardOneToOne):
                valid = [f.name for f in model._meta.forward_fks]
                raise FieldError(
                    f"select_related({path!r}): {model.__name__}.{name} is not a foreign key or "
                    f"one-to-one; valid: {', '.join(valid) or 'none'} "
                    "(use prefetch_related for to-many relations)"
                )
            walked = (*walked, name)
            alias = compiler._join(walked, alias, field)
            model = field.related_model
            chain.append((model, alias, walked))
        return chain

    # Statements ---------------------------------------------------------------------------

    def select(
        self, params: list[Any] | None = None, alias_prefix: str = "t"
    ) -> tuple[str, list[Any], SelectPlan]:
        """The SELECT; `params` and `alias_prefix` when it is a subquery of another statement
        (so placeholders and aliases continue the outer statement's)."""
        query = self.query
        compiler = self.compiler(params=params, alias_prefix=alias_prefix)
        if query._values is not None:
            columns, plan = self.value_columns(compiler)
        else:
            columns, plan = self.model_columns(compiler)
        # Compile in text order so positional placeholders line up with their values.
        where, having = self.where(compiler)
        aggregated = any(e.is_aggregate for e in query._annotations.values())
        group = ""
        if query._group_by:
            group = ", ".join(compiler.column_for_path(name) for name in query._group_by)
        elif aggregated and query._values is None:
            group = ", ".join(c for c in columns if " AS " not in c)
        elif aggregated:
            group = self.value_grouping(compiler, columns)
        # Rows repeat when a filter or a value goes through a to-many join: DISTINCT folds
        # them. Ordering by a to-many path orders by each related row (as in Tortoise and
        # Django), so its join alone adds no DISTINCT (PostgreSQL would refuse the ORDER BY).
        filtered_to_many = compiler.uses_to_many
        terms = self.order_terms(compiler)
        order = _order_clause(terms)
        distinct = query._distinct or (filtered_to_many and not aggregated and not query._group_by)
        if distinct and params is None:
            # PostgreSQL orders a DISTINCT only by what it selects: ordering terms that are
            # not selected (a to-many path) are selected too, after the rest, and dropped
            # from the rows before hydration.
            hidden = [e for e, _ in terms if e not in columns and not e.startswith('"')]
            if hidden and query._distinct and query._values is not None:
                # A selected ordering column would change which rows are distinct.
                if query._order:
                    names = [
                        n for n, (e, _) in zip(query._ordering(), terms, strict=True) if e in hidden
                    ]
                    raise FieldError(
                        f"distinct() values cannot be ordered by {', '.join(names)}: not "
                        "selected (select it too, or order by a selected field)"
                    )
                terms = [(e, descending) for e, descending in terms if e not in hidden]
                order, hidden = _order_clause(terms), []
            columns = [*columns, *dict.fromkeys(hidden)]
            plan.hidden = len(dict.fromkeys(hidden))
        select = "SELECT DISTINCT" if distinct else "SELECT"
        sql = f"{select} {', '.join(columns)} FROM {compiler.from_clause()}"
        if where:
            sql += f" WHERE {where}"
        if group:
            sql += f" GROUP BY {group}"
        if having:
            sql += f" HAVING {having}"
        if order:
            sql += f" ORDER BY {order}"
        sql += self.limit_offset(compiler) + self.lock(compiler)
        return sql, compiler.params, plan

    def count(self) -> tuple[str, list[Any]]:
        query = self.query
        compiler = self.compiler()
        where, having = self.where(compiler)
        if (
            query._limit is not None
            or query._offset
            or having
            or query._group_by
            or (query._distinct)
        ):
            inner = query._clone()
            inner._order = ()
            sql, params, _ = Statements(inner).select()
            return f"SELECT COUNT(*) FROM ({sql}) AS counted", params
        pk = compiler.column(compiler.base_alias, self.model._meta.pk)
        counted = f"COUNT(DISTINCT {pk})" if compiler.uses_to_many else "COUNT(*)"
        sql = f"SELECT {counted} FROM {compiler.from_clause()}"
        if where:
            sql += f" WHERE {where}"
        return sql, compiler.params

    def exists(self) -> tuple[str, list[Any]] | None:
        """SELECT 1 … LIMIT 1; None when the filters need HAVING (count instead)."""
        compiler = self.compiler()
        where, having = self.where(compiler)
        if having:
            return None
        sql = f"SELECT 1 FROM {compiler.from_clause()}"
        if where:
            sql += f" WHERE {where}"
        return sql + self.dialect.limit_offset(compiler.param(1), None), compiler.params

    def _target(self, compiler: Compiler) -> str:
        """WHERE for UPDATE/DELETE: direct, or through the primary keys when joins are needed."""
        query = self.query
        trial = self.compiler()
        trial_where, having = self.where(trial)
        if having:
            raise FieldError("update() and delete() cannot filter on aggregate annotations")
        if not trial.joins and query._limit is None and not query._offset:
            return self.where(compiler)[0] if trial_where else ""
        meta = self.model._meta
        inner = self.compiler(params=compiler.params, alias_prefix="u")
        inner_where = self.where(inner)[0]
        pk = inner.column(inner.base_alias, meta.pk)
        sub = f"SELECT {pk} FROM {inner.from_clause()}"
        if inner_where:
            sub += f" WHERE {inner_where}"
        if query._limit is not None or query._offset:
            order = self.order(inner)
            if order:
                sub += f" ORDER BY {order}"
            sub += Statements(query).limit_offset(inner)
        return f"{self.dialect.quote(meta.pk.column)} IN ({sub})"

    def update(self, values: dict[str, Any]) -> tuple[str, list[Any]]:
        """UPDATE setting `values` (field name to value or expression) on the matching rows."""
        if not values:
            raise FieldError("update() needs at least one field=value")
        meta = self.model._meta
        table = self.dialect.quote(meta.table)
        compiler = self.compiler()
        compiler.base_alias = table
        assignments = []
        for name, value in values.items():
            field = self._updatable(name)
            if isinstance(field, ForeignKeyField) and name == field.name:
                field.check_target(value)
                if value is not None:
                    if not value._saved_in_db:
                        raise OperationalError(
                            f"You should first call .save() on {value!r} before referring to it"
                        )
                    value = field.key_of(value)
            target = compiler.quote(field.column)
            if isinstance(value, Expression):
                computed = value.compile(compiler)
                if field.db_kind == "decimal":
                    computed = self.dialect.decimal_result(computed, field)
                assignments.append(f"{target} = {computed}")
            else:
                if value is not None or not field.null:
                    value = field.validate(value)
                assignments.append(f"{target} = {compiler.param(field.to_db(value))}")
        condition = self._target(compiler)
        sql = f"UPDATE {table} SET {', '.join(assignments)}"
        if condition:
            sql += f" WHERE {condition}"
        return sql, compiler.params

    def _updatable(self, name: str) -> Field[Any]:
        """The column `update(name=...)` sets; the pk and relations kept elsewhere are not."""
        meta = self.model._meta
        model = self.model.__name__
        if name in meta.fields and not meta.fields[name].has_column:
            raise FieldError(f"Field {name} is virtual and can not be updated ({model})")
        try:
            field: Field[Any] = meta.column_field(name)
        except FieldError:
            raise FieldError(
                f"Unknown keyword argument {name} for model {model}; "
                f"valid fields: {', '.join(sorted(meta.fields))}"
            ) from None
        if field is meta.pk:
            raise IntegrityError(f"Field {name} is PK and can not be updated ({model})")
        return field

    def delete(self) -> tuple[str, list[Any]]:
        table = self.dialect.quote(self.model._meta.table)
        compiler = self.compiler()
        compiler.base_alias = table
        condition = self._target(compiler)
        sql = f"DELETE FROM {table}"
        if condition:
            sql += f" WHERE {condition}"
        return sql, compiler.params


def row_count(what: str, count: Any) -> int:
    """A LIMIT or OFFSET: an int from 0 to 2**63 - 1 (what both backends can take)."""
    if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count < 2**63:
        raise ParamsError(
            f"{what.capitalize()} should be non-negative number: {what}() takes a whole number "
            f"from 0 to 2**63 - 1, not {count!r}"
        )
    return count


def _refuse_ordering_by_to_many(model: type[Model], path: str) -> None:
    """Ordering by a reverse foreign key or a many-to-many relation itself would repeat each
    row once per related row; Tortoise refuses it too."""
    owner: Any = model
    field = None
    for part in path.split("__"):
        field = owner._meta.fields.get(part) if owner is not None else None
        if field is None:
            return  # not a relation path: column_for_path says what is wrong
        owner = getattr(field, "related_model", None)
    if field is not None and field.is_relation and not field.has_column:
        raise FieldError(
            f"cannot order {model.__name__} by the to-many relation {path!r}: order by one of "
            f"its fields instead (e.g. '{path}__id')"
        )
