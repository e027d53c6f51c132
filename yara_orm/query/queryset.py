"""`QuerySet`: lazy, chainable queries. Nothing runs until the queryset is awaited, iterated
with `async for`, or asked for `count()`, `exists()`, `first()`, `update()`, `delete()`…"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Generator, Iterable
from typing import TYPE_CHECKING, Any, Generic, Protocol, Self, TypeVar, cast

from yara_orm.connection import DatabaseClient, LoadContext, connections, current_load
from yara_orm.exceptions import DoesNotExist, FieldError, MultipleObjectsReturned, ParamsError
from yara_orm.models.meta import attname
from yara_orm.query import hydration, shapes
from yara_orm.query.compiler import Statements, row_count
from yara_orm.query.expressions import Expression, F, Q
from yara_orm.query.union import UnionQuery
from yara_orm.router import router

if TYPE_CHECKING:
    from yara_orm._engine import _RowShape as RowShape
    from yara_orm.models.base import Model
    from yara_orm.query.prefetch import Prefetch

M = TypeVar("M", bound="Model")
T_co = TypeVar("T_co", covariant=True)


class QuerySetSingle(Protocol[T_co]):
    """What `get()`, `first()`, `last()` and `get_or_none()` return: awaiting it gives one
    result (or None, or DoesNotExist), and it still chains the methods that shape that one
    result, as in Tortoise: `await Book.get(id=1).prefetch_related("author")`."""

    def __await__(self) -> Generator[Any, None, T_co]: ...
    def sql(self, params_inline: bool = False) -> str: ...
    def prefetch_related(self, *lookups: str | Prefetch) -> QuerySetSingle[T_co]: ...
    def select_related(self, *names: str) -> QuerySetSingle[T_co]: ...
    def annotate(self, **expressions: Any) -> QuerySetSingle[T_co]: ...
    def only(self, *names: str) -> QuerySetSingle[T_co]: ...
    def using_db(self, client: DatabaseClient | None) -> QuerySetSingle[T_co]: ...
    def select_for_update(
        self,
        nowait: bool = False,
        skip_locked: bool = False,
        of: tuple[str, ...] = (),
        no_key: bool = False,
    ) -> QuerySetSingle[T_co]: ...
    def values(self, *names: str, **expressions: Any) -> QuerySetSingle[Any]: ...
    def values_list(self, *names: str, flat: bool = False) -> QuerySetSingle[Any]: ...


class QuerySet(Generic[M]):
    """Awaiting gives `list[M]`. `values()` and `values_list()` give a `ValuesQuery` /
    `ValuesListQuery` (same chaining, rows as dicts or tuples); `get()`, `first()`, `last()`
    and `get_or_none()` give the same query in single-result mode (`QuerySetSingle`)."""

    def __init__(self, model: type[M]) -> None:
        self.model = model
        self._filters: list[Q] = []
        self._order: tuple[str, ...] | None = None
        # first()/last() without an ordering: by primary key where that is valid SQL (not
        # over aggregated values, whose rows have no primary key).
        self._fallback_order: tuple[str, ...] = ()
        self._limit: int | None = None
        self._offset: int | None = None
        self._distinct = False
        self._annotations: dict[str, Expression] = {}
        self._group_by: tuple[str, ...] = ()
        # values()/values_list(): (result key, field path or annotation name) per column.
        self._values: tuple[tuple[str, str], ...] | None = None
        self._values_mode: str | None = None  # "dict", "tuple" or "flat"
        self._select_related: tuple[str, ...] = ()
        self._prefetch: list[str | Prefetch] = []
        self._only: tuple[str, ...] | None = None
        self._lock: tuple[bool, bool, tuple[str, ...], bool] | None = None  # select_for_update
        self._client: DatabaseClient | None = None
        # get() / get_or_none() / first(): one result; "get" raises DoesNotExist when none.
        self._single: str | None = None
        # Set by relation managers: the statement loads a relation of one instance.
        self._load_context: LoadContext | None = None

    def _clone(self) -> Self:
        clone = type(self).__new__(type(self))  # a third of copy.copy's time
        clone.__dict__.update(self.__dict__)
        clone._filters = list(self._filters)
        clone._annotations = dict(self._annotations)
        clone._prefetch = list(self._prefetch)
        return clone

    def _convert(self, kind: type[Q_]) -> Q_:
        """This query's state in another query class (values() on a model query)."""
        clone = kind.__new__(kind)
        clone.__dict__.update(self._clone().__dict__)
        return clone

    @property
    def client(self) -> DatabaseClient:
        """The client reads go to: `using_db`'s, a router's choice, or the model's."""
        if self._client is not None:
            return self._client
        return connections.get(router.connection_for(self.model, write=self._lock is not None))

    @property
    def _write_client(self) -> DatabaseClient:
        return self._client or connections.get(router.connection_for(self.model, write=True))

    def using_db(self, client: DatabaseClient | None) -> Self:
        """Run on `client` (a transaction's, say) instead of the current connection."""
        clone = self._clone()
        clone._client = client
        return clone

    # Chaining -----------------------------------------------------------------------------

    def filter(self, *args: Q, **kwargs: Any) -> Self:
        clone = self._clone()
        clone._filters.append(Q(*args, **kwargs))
        return clone

    def exclude(self, *args: Q, **kwargs: Any) -> Self:
        clone = self._clone()
        clone._filters.append(~Q(*args, **kwargs))
        return clone

    def all(self) -> Self:
        return self._clone()

    def order_by(self, *names: str) -> Self:
        clone = self._clone()
        clone._order = names
        return clone

    def limit(self, count: int) -> Self:
        clone = self._clone()
        clone._limit = row_count("limit", count)
        return clone

    def offset(self, count: int) -> Self:
        clone = self._clone()
        clone._offset = row_count("offset", count)
        return clone

    def distinct(self) -> Self:
        clone = self._clone()
        clone._distinct = True
        return clone

    def annotate(self, **expressions: Any) -> Self:
        clone = self._clone()
        for name, expression in expressions.items():
            if name in self.model._meta.fields:
                raise FieldError(f"annotation {name!r} clashes with {self.model.__name__}.{name}")
            if not isinstance(expression, Expression):
                raise FieldError(f"annotation {name!r} must be an expression such as Count(...)")
            clone._annotations[name] = expression
        return clone

    def group_by(self, *names: str) -> Self:
        clone = self._clone()
        clone._group_by = names
        return clone

    def values(self, *names: str, **aliases: str) -> ValuesQuery[M]:
        """Rows as dicts of `names` (every column and annotation when none is given);
        `key="relation__field"` names a result key."""
        return self._as_values(ValuesQuery, names, aliases, "dict")

    def values_list(self, *names: str, flat: bool = False) -> ValuesListQuery[M]:
        if flat and len(names) != 1:
            raise FieldError("values_list(flat=True) takes exactly one field")
        return self._as_values(ValuesListQuery, names, {}, "flat" if flat else "tuple")

    def _as_values(
        self, kind: type[Q_], names: tuple[str, ...], aliases: dict[str, str], mode: str
    ) -> Q_:
        if self._only is not None:
            raise ParamsError("values() and values_list() cannot be combined with only()")
        clone = self._convert(kind)
        if not names and not aliases:
            meta = self.model._meta
            names = (*(attname(f) for f in meta.columns), *self._annotations)
        pairs = [(name, name) for name in names]
        for key, source in aliases.items():
            if not isinstance(source, str):
                raise FieldError(f"values({key}=...) takes a field path, not {source!r}")
            pairs.append((key, source))
        if mode == "dict":  # a dict keeps one value per key: a repeated key would lose one
            keys = [key for key, _ in pairs]
            repeated = sorted({key for key in keys if keys.count(key) > 1})
            if repeated:
                raise FieldError(f"Duplicate key {', '.join(repeated)} in values()")
        clone._values = tuple(pairs)
        clone._values_mode = mode
        return clone

    def only(self, *names: str) -> Self:
        """Load only the named fields (also "relation__field", and annotations): other
        attributes raise AttributeError, and saving needs `update_fields` and the pk."""
        if not names:
            raise ParamsError("only() needs at least one field name")
        if self._values is not None:
            raise ParamsError("only() cannot be combined with values() or values_list()")
        clone = self._clone()
        clone._only = tuple(dict.fromkeys(names))
        return clone

    def union(self, *others: QuerySet[Any], all: bool = False) -> UnionQuery:
        """The rows of this queryset and of `others` (UNION; `all=True` keeps duplicates),
        which may be of other models selecting the same fields (`only("id", "name")`)."""
        return UnionQuery([self, *others], all)

    def select_related(self, *names: str) -> Self:
        clone = self._clone()
        clone._select_related = (*self._select_related, *names)
        return clone

    def prefetch_related(self, *lookups: str | Prefetch) -> Self:
        clone = self._clone()
        clone._prefetch.extend(lookups)
        return clone

    def select_for_update(
        self,
        nowait: bool = False,
        skip_locked: bool = False,
        of: tuple[str, ...] = (),
        no_key: bool = False,
    ) -> Self:
        """Lock the rows read until the transaction ends (PostgreSQL; SQLite's writes lock
        the whole database). `no_key=True` takes the weaker FOR NO KEY UPDATE lock."""
        clone = self._clone()
        clone._lock = (nowait, skip_locked, tuple(of), no_key)
        return clone

    def __getitem__(self, key: int | slice) -> Any:
        if isinstance(key, slice):
            if key.step not in (None, 1):
                raise ParamsError("Slice steps should be 1 or None.")
            if (key.start or 0) < 0:
                raise ParamsError("Slice start should be non-negative number or None.")
            if key.stop is not None and (key.stop < 0 or key.stop < (key.start or 0)):
                raise ParamsError(
                    "Slice stop should be non-negative number greater that slice start, or None."
                )
            start = key.start or 0
            clone = self.offset(start) if start else self._clone()
            if key.stop is not None:
                clone = clone.limit(max(key.stop - start, 0))
            return clone
        if key < 0:
            raise ParamsError("querysets do not support negative indexing")
        return self.offset(key).limit(1)._as_single("get")

    # Compiling ----------------------------------------------------------------------------

    def _ordering(self) -> tuple[str, ...]:
        if self._order:
            return self._order
        # Meta.ordering is not applied to an aggregate (as Tortoise): its columns are not
        # grouped, and PostgreSQL refuses to order by them.
        aggregated = any(e.is_aggregate for e in self._annotations.values())
        if self._order is None and not aggregated and self.model._meta.ordering:
            return self.model._meta.ordering
        # Aggregated instances are grouped by primary key, so first() may order by it.
        has_pk = not aggregated or (self._values is None and not self._group_by)
        return self._fallback_order if has_pk else ()

    def _statements(self) -> Statements:
        return Statements(self)

    def sql(self, params_inline: bool = False) -> str:
        """The SELECT this queryset runs: with placeholders, or with `params_inline=True`
        the values written in as SQL literals (for reading, not for running)."""
        sql, params, _ = self._statements().select()
        return self.client.dialect.inline_params(sql, params) if params_inline else sql

    async def explain(self, output_fmt: str | None = None, **options: bool) -> Any:
        """How the database would run this query (PostgreSQL: `EXPLAIN (FORMAT JSON, ...)`
        with options such as analyze=True, costs=True, buffers=True; SQLite: `EXPLAIN QUERY
        PLAN`). The rows of the plan, as dicts; the format is the database's own."""
        sql, params, _ = self._statements().select()
        explain = self.client.dialect.explain(sql, output_fmt, options)
        return await self.client.execute_query_dict(explain, params)

    # Running ------------------------------------------------------------------------------

    def _fetch_rows(
        self, sql: str, params: list[Any], shape: RowShape | None = None
    ) -> Awaitable[list[Any]]:
        # Not a coroutine of its own without a load context: one level fewer for every
        # statement to pass through, twice (sent, then resumed with the rows).
        if self._load_context is None:
            return self.client.fetch(sql, params, shape)
        return self._fetch_rows_loading(sql, params, shape)

    async def _fetch_rows_loading(
        self, sql: str, params: list[Any], shape: RowShape | None
    ) -> list[Any]:
        """The rows of a relation load, which listeners see with its `LoadContext`."""
        token = current_load.set(self._load_context)
        try:
            return await self.client.fetch(sql, params, shape)
        finally:
            current_load.reset(token)

    async def _fetch(self) -> list[Any]:
        sql, params, plan = shapes.select(self._statements())
        direct = hydration.direct(self, plan)
        if direct is not None:  # the engine builds the results from the rows as they come
            found = await self._fetch_rows(sql, params, direct.shape)
            direct.settle(found)
        else:
            rows = await self._fetch_rows(sql, params)
            if plan.hidden:
                rows = [row[: -plan.hidden] for row in rows]
            if plan.values is not None:
                return hydration.shape_values(self, rows, plan.values)
            if len(rows) > hydration.SLICED_ROWS:
                found = await hydration.instances_in_slices(self, rows, plan)
            else:
                found = hydration.instances(self, rows, plan)
        if self._prefetch and found and plan.values is None:
            from yara_orm.query.prefetch import prefetch_related_objects

            await prefetch_related_objects(found, self._prefetch)
        return found

    async def _result(self) -> Any:
        found = await self._fetch()
        if self._single is None:
            return found
        if not found:
            if self._single == "get":
                raise DoesNotExist(self.model)
            return None
        if len(found) > 1 and self._single != "first":
            raise MultipleObjectsReturned(self.model)
        return found[0]

    def __await__(self) -> Generator[Any, None, list[M]]:
        return self._result().__await__()

    async def __aiter__(self) -> AsyncIterator[M]:
        for item in await self._fetch():
            yield item

    def _as_single(self, mode: str) -> Any:
        clone = self._clone()
        clone._single = mode
        return clone

    def first(self) -> QuerySetSingle[M | None]:
        clone = self._clone()
        clone._fallback_order = ("pk",)
        return cast("QuerySetSingle[M | None]", clone.limit(1)._as_single("first"))

    def last(self) -> QuerySetSingle[M | None]:
        clone = self._clone()
        ordering = clone._ordering()
        if ordering:
            clone._order = tuple(n[1:] if n.startswith("-") else f"-{n}" for n in ordering)
        else:
            clone._fallback_order = ("-pk",)
        return cast("QuerySetSingle[M | None]", clone.limit(1)._as_single("first"))

    def get(self, *args: Q, **kwargs: Any) -> QuerySetSingle[M]:
        """The one matching row: awaiting raises DoesNotExist or MultipleObjectsReturned."""
        return cast("QuerySetSingle[M]", self.filter(*args, **kwargs).limit(2)._as_single("get"))

    def get_or_none(self, *args: Q, **kwargs: Any) -> QuerySetSingle[M | None]:
        """The one matching row or None; more than one raises MultipleObjectsReturned."""
        single = self.filter(*args, **kwargs).limit(2)._as_single("or_none")
        return cast("QuerySetSingle[M | None]", single)

    def latest(self, *names: str) -> QuerySetSingle[M | None]:
        """The last row by `names` (default: the queryset's or the model's ordering)."""
        return self.order_by(*names).last() if names else self._ordered("latest").last()

    def earliest(self, *names: str) -> QuerySetSingle[M | None]:
        return self.order_by(*names).first() if names else self._ordered("earliest").first()

    def _ordered(self, what: str) -> Self:
        if not self._ordering():
            raise FieldError(
                f"{what}() needs field names when neither the queryset nor "
                f"{self.model.__name__}.Meta.ordering orders the rows"
            )
        return self

    async def in_bulk(self, id_list: Iterable[Any], field_name: str = "pk") -> dict[Any, M]:
        """The rows whose `field_name` is among `id_list`, by that value."""
        found = await self.filter(**{f"{field_name}__in": list(id_list)})._fetch()
        return {getattr(obj, field_name): obj for obj in found}

    async def count(self) -> int:
        sql, params = shapes.count(self._statements())
        rows = await self._fetch_rows(sql, params)
        return int(rows[0][0])

    async def contains(self, obj: Model) -> bool:
        """Whether `obj` is among this queryset's rows (one EXISTS query, by primary key)."""
        if not isinstance(obj, self.model):
            raise ParamsError(f"contains() takes a {self.model.__name__}, not {type(obj).__name__}")
        if obj.pk is None:
            raise ParamsError("The given object does not have a primary key.")
        return await self.filter(pk=obj.pk).exists()

    async def exists(self) -> bool:
        statement = self._statements().exists()
        if statement is None:
            return await self.count() > 0
        return bool(await self._fetch_rows(*statement))

    # Writes -------------------------------------------------------------------------------

    async def update(self, **values: Any) -> int:
        """Set columns on every matching row, in one statement; returns the rows changed."""
        writing = self.using_db(self._write_client)  # compiled for the client it runs on
        return await writing.client.execute(*writing._statements().update(values))

    async def delete(self) -> int:
        writing = self.using_db(self._write_client)
        return await writing.client.execute(*writing._statements().delete())


Q_ = TypeVar("Q_", bound=QuerySet[Any])


class ValuesQuery(QuerySet[M]):
    """`values()`: awaiting gives a list of dicts."""

    def __await__(self) -> Generator[Any, None, list[dict[str, Any]]]:  # type: ignore[override]
        return self._result().__await__()

    def first(self) -> QuerySetSingle[dict[str, Any] | None]:  # type: ignore[override]
        return cast("QuerySetSingle[dict[str, Any] | None]", super().first())

    def last(self) -> QuerySetSingle[dict[str, Any] | None]:  # type: ignore[override]
        return cast("QuerySetSingle[dict[str, Any] | None]", super().last())

    def get(self, *args: Q, **kwargs: Any) -> QuerySetSingle[dict[str, Any]]:  # type: ignore[override]
        return cast("QuerySetSingle[dict[str, Any]]", super().get(*args, **kwargs))

    def get_or_none(  # type: ignore[override]
        self, *args: Q, **kwargs: Any
    ) -> QuerySetSingle[dict[str, Any] | None]:
        return cast("QuerySetSingle[dict[str, Any] | None]", super().get_or_none(*args, **kwargs))


class ValuesListQuery(QuerySet[M]):
    """`values_list()`: awaiting gives a list of tuples (of values with `flat=True`)."""

    def __await__(self) -> Generator[Any, None, list[Any]]:
        return self._result().__await__()

    def first(self) -> QuerySetSingle[Any]:
        return cast("QuerySetSingle[Any]", super().first())

    def last(self) -> QuerySetSingle[Any]:
        return cast("QuerySetSingle[Any]", super().last())

    def get(self, *args: Q, **kwargs: Any) -> QuerySetSingle[Any]:
        return cast("QuerySetSingle[Any]", super().get(*args, **kwargs))

    def get_or_none(self, *args: Q, **kwargs: Any) -> QuerySetSingle[Any]:
        return cast("QuerySetSingle[Any]", super().get_or_none(*args, **kwargs))


__all__ = ["F", "Q", "QuerySet", "QuerySetSingle", "ValuesListQuery", "ValuesQuery"]
