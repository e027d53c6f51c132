"""`QuerySet`: lazy, chainable queries. Nothing runs until the queryset is awaited, iterated
with `async for`, or asked for `count()`, `exists()`, `first()`, `update()`, `delete()`…"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Generator, Iterable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from yara_orm.connection import DatabaseClient, LoadContext, connections, current_load
from yara_orm.exceptions import DoesNotExist, FieldError, MultipleObjectsReturned, ParamsError
from yara_orm.models.meta import attname
from yara_orm.query import hydration
from yara_orm.query.compiler import Statements
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
        clone = self._clone()
        clone._limit = _row_count("limit", count)
        return clone

    def offset(self, count: int) -> QuerySet[M]:
        clone = self._clone()
        clone._offset = _row_count("offset", count)
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

    def _ordering(self) -> tuple[str, ...]:
        if self._order is not None:
            return self._order
        return self.model._meta.ordering

    def _statements(self) -> Statements:
        return Statements(self)

    def sql(self) -> str:
        """The SELECT this queryset runs, with placeholders."""
        return self._statements().select()[0]

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
        sql, params, plan = self._statements().select()
        rows = await self._fetch_rows(sql, params)
        if plan.values is not None:
            return hydration.shape_values(self, rows, plan.values)
        found = hydration.instances(self, rows, plan)
        if self._prefetch and found:
            from yara_orm.query.prefetch import prefetch_related_objects

            await prefetch_related_objects(found, self._prefetch)
        return found

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

    async def in_bulk(self, id_list: Iterable[Any], field_name: str = "pk") -> dict[Any, M]:
        """The rows whose `field_name` is among `id_list`, by that value."""
        found = await self.filter(**{f"{field_name}__in": list(id_list)})
        return {getattr(obj, field_name): obj for obj in found}

    async def count(self) -> int:
        sql, params = self._statements().count()
        rows = await self._fetch_rows(sql, params)
        return int(rows[0][0])

    async def exists(self) -> bool:
        statement = self._statements().exists()
        if statement is None:
            return await self.count() > 0
        return bool(await self._fetch_rows(*statement))

    # Writes -------------------------------------------------------------------------------

    async def update(self, **values: Any) -> int:
        """Set columns on every matching row, in one statement; returns the rows changed."""
        return await self.client.execute(*self._statements().update(values))

    async def delete(self) -> int:
        return await self.client.execute(*self._statements().delete())


def _row_count(what: str, count: Any) -> int:
    """A LIMIT or OFFSET: an int from 0 to 2**63 - 1 (what both backends can take)."""
    if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count < 2**63:
        raise ParamsError(f"{what}() takes a whole number from 0 to 2**63 - 1, not {count!r}")
    return count


__all__ = ["F", "Q", "QuerySet"]
