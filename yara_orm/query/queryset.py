"""`QuerySet`: lazy, chainable queries. Nothing runs until the queryset is awaited, iterated
with `async for`, or asked for `count()`, `exists()`, `first()`, `update()`, `delete()`…"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Generator
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from yara_orm.connection import DatabaseClient, LoadContext, connections, current_load, new_batch
from yara_orm.exceptions import DoesNotExist, FieldError, MultipleObjectsReturned
from yara_orm.fields.relations import BackwardOneToOne, ForeignKeyField, cache_key
from yara_orm.models.meta import attname
from yara_orm.query.compiler import Compiler
from yara_orm.query.expressions import Expression, F, Q

if TYPE_CHECKING:
    from yara_orm.models.base import Model
    from yara_orm.query.prefetch import Prefetch

M = TypeVar("M", bound="Model")


class QuerySet(Generic[M]):
    def __init__(self, model: type[M]) -> None:
        self.model = model
        self._filters: list[Q] = []
        self._order: tuple[str, ...] | None = None
        self._limit: int | None = None
        self._offset: int | None = None
        self._distinct = False
        self._annotations: dict[str, Expression] = {}
        self._group_by: tuple[str, ...] = ()
        self._values: tuple[str, ...] | None = None
        self._values_mode: str | None = None  # "dict", "tuple" or "flat"
        self._select_related: tuple[str, ...] = ()
        self._prefetch: list[str | Prefetch] = []
        self._only: tuple[str, ...] | None = None
        self._for_update: str = ""
        self._client: DatabaseClient | None = None
        # Set by relation managers: the statement loads a relation of one instance.
        self._load_context: LoadContext | None = None

    def _clone(self) -> QuerySet[M]:
        clone = copy.copy(self)
        clone._filters = list(self._filters)
        clone._annotations = dict(self._annotations)
        clone._prefetch = list(self._prefetch)
        return clone

    @property
    def client(self) -> DatabaseClient:
        return self._client or connections.get(self.model._meta.connection)

    def using_db(self, client: DatabaseClient) -> QuerySet[M]:
        """Run on `client` (a transaction's, say) instead of the current connection."""
        clone = self._clone()
        clone._client = client
        return clone

    # Chaining -----------------------------------------------------------------------------

    def filter(self, *args: Q, **kwargs: Any) -> QuerySet[M]:
        clone = self._clone()
        clone._filters.append(Q(*args, **kwargs))
        return clone

    def exclude(self, *args: Q, **kwargs: Any) -> QuerySet[M]:
        clone = self._clone()
        clone._filters.append(~Q(*args, **kwargs))
        return clone

    def all(self) -> QuerySet[M]:
        return self._clone()

    def order_by(self, *names: str) -> QuerySet[M]:
        clone = self._clone()
        clone._order = names
        return clone

    def limit(self, count: int) -> QuerySet[M]:
        if count < 0:
            raise ValueError("limit cannot be negative")
        clone = self._clone()
        clone._limit = count
        return clone

    def offset(self, count: int) -> QuerySet[M]:
        if count < 0:
            raise ValueError("offset cannot be negative")
        clone = self._clone()
        clone._offset = count
        return clone

    def distinct(self) -> QuerySet[M]:
        clone = self._clone()
        clone._distinct = True
        return clone

    def annotate(self, **expressions: Expression) -> QuerySet[M]:
        clone = self._clone()
        for name, expression in expressions.items():
            if name in self.model._meta.fields:
                raise FieldError(f"annotation {name!r} clashes with {self.model.__name__}.{name}")
            if not isinstance(expression, Expression):
                raise FieldError(f"annotation {name!r} must be an expression such as Count(...)")
            clone._annotations[name] = expression
        return clone

    def group_by(self, *names: str) -> QuerySet[M]:
        clone = self._clone()
        clone._group_by = names
        return clone

    def values(self, *names: str) -> QuerySet[M]:
        return self._as_values(names, "dict")

    def values_list(self, *names: str, flat: bool = False) -> QuerySet[M]:
        if flat and len(names) != 1:
            raise FieldError("values_list(flat=True) takes exactly one field")
        return self._as_values(names, "flat" if flat else "tuple")

    def _as_values(self, names: tuple[str, ...], mode: str) -> QuerySet[M]:
        clone = self._clone()
        meta = self.model._meta
        clone._values = names or tuple(attname(f) for f in meta.columns)
        clone._values_mode = mode
        return clone

    def only(self, *names: str) -> QuerySet[M]:
        clone = self._clone()
        pk = self.model._meta.pk.name
        clone._only = tuple(dict.fromkeys((pk, *names)))
        return clone

    def select_related(self, *names: str) -> QuerySet[M]:
        clone = self._clone()
        clone._select_related = (*self._select_related, *names)
        return clone

    def prefetch_related(self, *lookups: str | Prefetch) -> QuerySet[M]:
        clone = self._clone()
        clone._prefetch.extend(lookups)
        return clone

    def select_for_update(self, nowait: bool = False, skip_locked: bool = False) -> QuerySet[M]:
        clone = self._clone()
        clone._for_update = self.client.dialect.for_update(nowait, skip_locked)
        return clone

    def __getitem__(self, key: int | slice) -> Any:
        if isinstance(key, slice):
            if key.step not in (None, 1) or (key.start or 0) < 0 or (key.stop or 0) < 0:
                raise ValueError("querysets support only non-negative slices without a step")
            start = key.start or 0
            clone = self.offset(start) if start else self._clone()
            if key.stop is not None:
                clone = clone.limit(max(key.stop - start, 0))
            return clone
        if key < 0:
            raise ValueError("querysets do not support negative indexing")
        return self.offset(key).limit(1)._single(required=True)

    # Compiling ----------------------------------------------------------------------------

    def _compiler(self) -> Compiler:
        return Compiler(self.model, self.client.dialect, annotations=self._annotations)

    def _ordering(self) -> tuple[str, ...]:
        if self._order is not None:
            return self._order
        return self.model._meta.ordering

    def _where(self, compiler: Compiler) -> tuple[str, str]:
        """WHERE and HAVING conditions (filters on aggregates go to HAVING)."""

        def aggregated(q: Q) -> bool:
            return any(
                key.split("__")[0] in self._annotations
                and self._annotations[key.split("__")[0]].is_aggregate
                for key in _keys(q)
            )

        # WHERE before HAVING, as in the SQL text, so positional parameters line up.
        where = [compiler.where(q) for q in self._filters if not aggregated(q)]
        having = [compiler.where(q) for q in self._filters if aggregated(q)]
        return (
            " AND ".join(s for s in where if s != "1 = 1"),
            " AND ".join(s for s in having if s != "1 = 1"),
        )

    def _order_sql(self, compiler: Compiler) -> str:
        terms = []
        for name in self._ordering():
            descending = name.startswith("-")
            key = name.lstrip("-")
            if key in self._annotations:
                column = self.client.dialect.quote(key)
            else:
                column = compiler.column_for_path(key, comparable=True)
            terms.append(f"{column} DESC" if descending else column)
        return ", ".join(terms)

    def _select_columns(self, compiler: Compiler) -> tuple[list[str], dict[str, Any]]:
        """SELECT list for model rows: base columns, select_related columns, annotations."""
        meta = self.model._meta
        plan: dict[str, Any] = {"fields": meta.columns, "related": []}
        if self._only is not None:
            plan["fields"] = [meta.column_field(name) for name in self._only]
        columns = [compiler.column(compiler.base_alias, f) for f in plan["fields"]]
        for path in self._select_related:
            chain = self._related_chain(compiler, path)
            for model, alias, setter in chain:
                start = len(columns)
                columns.extend(compiler.column(alias, f) for f in model._meta.columns)
                plan["related"].append((model, start, len(columns), setter))
        for name, expression in self._annotations.items():
            columns.append(f"{expression.compile(compiler)} AS {compiler.quote(name)}")
        return columns, plan

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

    def _select_sql(self, columns: list[str], compiler: Compiler) -> str:
        where, having = self._where(compiler)
        aggregated = any(e.is_aggregate for e in self._annotations.values())
        group = ""
        if self._group_by:
            group = ", ".join(compiler.column_for_path(name) for name in self._group_by)
        elif aggregated and self._values is None:
            base = [c for c in columns if " AS " not in c]
            group = ", ".join(base)
        order = self._order_sql(compiler)
        distinct = self._distinct or (
            compiler.uses_to_many and not aggregated and not self._group_by
        )
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
        if self._limit is not None:
            sql += f" LIMIT {compiler.param(self._limit)}"
        if self._offset:
            if self._limit is None:
                sql += " LIMIT -1" if self.client.dialect.name == "sqlite" else ""
            sql += f" OFFSET {compiler.param(self._offset)}"
        return sql + self._for_update

    def _build(self) -> tuple[str, list[Any], dict[str, Any]]:
        compiler = self._compiler()
        if self._values is not None:
            columns = []
            for name in self._values:
                if name in self._annotations:
                    columns.append(
                        f"{self._annotations[name].compile(compiler)} AS {compiler.quote(name)}"
                    )
                else:
                    columns.append(compiler.column_for_path(name))
            plan: dict[str, Any] = {"values": self._values}
        else:
            columns, plan = self._select_columns(compiler)
        # Compile in text order so positional placeholders line up with their values.
        sql = self._select_sql(columns, compiler)
        return sql, compiler.params, plan

    def sql(self) -> str:
        """The SELECT this queryset runs, with placeholders."""
        return self._build()[0]

    # Running ------------------------------------------------------------------------------

    async def _fetch_rows(self, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
        if self._load_context is None:
            return await self.client.fetch(sql, params)
        token = current_load.set(self._load_context)
        try:
            return await self.client.fetch(sql, params)
        finally:
            current_load.reset(token)

    async def _fetch(self) -> list[Any]:
        sql, params, plan = self._build()
        rows = await self._fetch_rows(sql, params)
        if "values" in plan:
            return self._shape_values(rows, plan["values"])
        return await self._hydrate(rows, plan)

    def _shape_values(self, rows: list[tuple[Any, ...]], names: tuple[str, ...]) -> list[Any]:
        converters = []
        probe = Compiler(self.model, self.client.dialect)
        for index, name in enumerate(names):
            if name in self._annotations:
                continue
            try:
                _, field, _, _ = probe.walk(name.split("__"), join=False)
            except FieldError:
                continue
            if field.from_db is not None:
                converters.append((index, field.from_db))
        if converters:
            converted = [list(row) for row in rows]
            for values in converted:
                for index, convert in converters:
                    values[index] = convert(values[index])
            rows = [tuple(values) for values in converted]
        if self._values_mode == "flat":
            return [row[0] for row in rows]
        if self._values_mode == "tuple":
            return [tuple(row) for row in rows]
        return [dict(zip(names, row, strict=True)) for row in rows]

    async def _hydrate(self, rows: list[tuple[Any, ...]], plan: dict[str, Any]) -> list[M]:
        model = self.model
        batch = new_batch(model.__name__, len(rows)) if len(rows) > 1 else None
        fields = plan["fields"]
        width = len(fields)
        annotations = list(self._annotations)
        partial = self._only is not None
        instances = []
        for row in rows:
            if partial:
                instance = model.__new__(model)
                state = instance.__dict__
                for field, value in zip(fields, row, strict=False):
                    state[attname(field)] = value if field.from_db is None else field.from_db(value)
                state["_saved_in_db"] = True
                if batch is not None:
                    state["_batch"] = batch
            else:
                instance = model._from_row(row[:width], batch)
            for related_model, start, end, path in plan["related"]:
                values = row[start:end]
                target = None if values[0] is None else related_model._from_row(values, batch)
                owner = instance
                for step in path[:-1]:
                    owner = owner.__dict__[cache_key(step)]
                    if owner is None:
                        break
                if owner is not None:
                    owner.__dict__[cache_key(path[-1])] = target
            if annotations:
                tail = row[len(row) - len(annotations) :]
                instance.__dict__.update(zip(annotations, tail, strict=True))
            instances.append(instance)
        if self._prefetch and instances:
            from yara_orm.query.prefetch import prefetch_related_objects

            await prefetch_related_objects(instances, self._prefetch)
        return instances

    def __await__(self) -> Generator[Any, None, list[Any]]:
        return self._fetch().__await__()

    async def __aiter__(self) -> AsyncIterator[Any]:
        for item in await self._fetch():
            yield item

    async def _single(self, required: bool) -> Any:
        found = await self._fetch()
        if not found:
            if required:
                raise DoesNotExist(f"{self.model.__name__} matching the query does not exist")
            return None
        return found[0]

    def first(self) -> Any:
        clone = self._clone()
        if not clone._ordering():
            clone._order = ("pk",)
        return clone.limit(1)._single(required=False)

    def last(self) -> Any:
        clone = self._clone()
        ordering = clone._ordering() or ("pk",)
        clone._order = tuple(name[1:] if name.startswith("-") else f"-{name}" for name in ordering)
        return clone.limit(1)._single(required=False)

    async def get(self, *args: Q, **kwargs: Any) -> M:
        found = await self.filter(*args, **kwargs).limit(2)._fetch()
        if not found:
            raise DoesNotExist(f"{self.model.__name__} matching {kwargs or args} does not exist")
        if len(found) > 1:
            raise MultipleObjectsReturned(
                f"more than one {self.model.__name__} matches {kwargs or args}"
            )
        return found[0]  # type: ignore[no-any-return]

    async def get_or_none(self, *args: Q, **kwargs: Any) -> M | None:
        try:
            return await self.get(*args, **kwargs)
        except DoesNotExist:
            return None

    async def count(self) -> int:
        compiler = self._compiler()
        where, having = self._where(compiler)
        if self._limit is not None or self._offset or having or self._group_by or self._distinct:
            inner = self._clone()
            inner._order = ()
            sql, params, _ = inner._build()
            rows = await self._fetch_rows(f"SELECT COUNT(*) FROM ({sql}) AS counted", params)
            return int(rows[0][0])
        pk = compiler.column(compiler.base_alias, self.model._meta.pk)
        counted = f"COUNT(DISTINCT {pk})" if compiler.uses_to_many else "COUNT(*)"
        sql = f"SELECT {counted} FROM {compiler.from_clause()}"
        if where:
            sql += f" WHERE {where}"
        rows = await self._fetch_rows(sql, compiler.params)
        return int(rows[0][0])

    async def exists(self) -> bool:
        compiler = self._compiler()
        where, having = self._where(compiler)
        if having:
            return await self.count() > 0
        sql = f"SELECT 1 FROM {compiler.from_clause()}"
        if where:
            sql += f" WHERE {where}"
        rows = await self._fetch_rows(sql + " LIMIT 1", compiler.params)
        return bool(rows)

    # Writes -------------------------------------------------------------------------------

    def _target_condition(self, compiler: Compiler) -> str:
        """WHERE for UPDATE/DELETE: direct, or through the primary keys when joins are needed."""
        trial = Compiler(self.model, self.client.dialect, annotations=self._annotations)
        trial_where, having = self._where(trial)
        if having:
            raise FieldError("update() and delete() cannot filter on aggregate annotations")
        if not trial.joins and self._limit is None and not self._offset:
            return self._where(compiler)[0] if trial_where else ""
        meta = self.model._meta
        inner = Compiler(
            self.model,
            self.client.dialect,
            params=compiler.params,
            alias_prefix="u",
            annotations=self._annotations,
        )
        inner_where = self._where(inner)[0]
        pk = inner.column(inner.base_alias, meta.pk)
        sub = f"SELECT {pk} FROM {inner.from_clause()}"
        if inner_where:
            sub += f" WHERE {inner_where}"
        order = self._order_sql(inner) if self._limit is not None or self._offset else ""
        if order:
            sub += f" ORDER BY {order}"
        if self._limit is not None:
            sub += f" LIMIT {inner.param(self._limit)}"
        if self._offset:
            sub += f" OFFSET {inner.param(self._offset)}"
        return f"{self.client.dialect.quote(meta.pk.column)} IN ({sub})"

    async def update(self, **values: Any) -> int:
        """Set columns on every matching row, in one statement; returns the rows changed."""
        if not values:
            raise FieldError("update() needs at least one field=value")
        meta = self.model._meta
        table = self.client.dialect.quote(meta.table)
        compiler = Compiler(self.model, self.client.dialect, annotations=self._annotations)
        compiler.base_alias = table
        assignments = []
        for name, value in values.items():
            field = meta.column_field(name)
            if isinstance(field, ForeignKeyField) and name == field.name and value is not None:
                value = value.pk
            target = compiler.quote(field.column)
            if isinstance(value, Expression):
                assignments.append(f"{target} = {value.compile(compiler)}")
            else:
                if value is not None or not field.null:
                    value = field.validate(value)
                assignments.append(f"{target} = {compiler.param(field.to_db(value))}")
        condition = self._target_condition(compiler)
        sql = f"UPDATE {table} SET {', '.join(assignments)}"
        if condition:
            sql += f" WHERE {condition}"
        return await self.client.execute(sql, compiler.params)

    async def delete(self) -> int:
        meta = self.model._meta
        table = self.client.dialect.quote(meta.table)
        compiler = Compiler(self.model, self.client.dialect, annotations=self._annotations)
        compiler.base_alias = table
        condition = self._target_condition(compiler)
        sql = f"DELETE FROM {table}"
        if condition:
            sql += f" WHERE {condition}"
        return await self.client.execute(sql, compiler.params)


def _keys(q: Q) -> list[str]:
    from yara_orm.query.compiler import _keys as keys

    return keys(q)


__all__ = ["F", "Q", "QuerySet"]
