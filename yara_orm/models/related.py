"""What relation attributes return on instances: an awaitable for a forward relation not yet
loaded, and managers for the to-many sides. Each lazy load tells the execution path which
relation of which instance it is loading, so the N+1 detector can be exact."""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator, Iterator
from typing import TYPE_CHECKING, Any

from yara_orm.connection import LoadContext, connections
from yara_orm.exceptions import OperationalError, RelationNotLoaded, ValidationError
from yara_orm.fields.relations import (
    BackwardManyToMany,
    BackwardOneToOne,
    BackwardRelation,
    ForeignKeyField,
    ManyToManyField,
    ManyToManyRelation,
    ReverseRelation,
    cache_key,
)
from yara_orm.query.expressions import Q
from yara_orm.query.queryset import QuerySet
from yara_orm.router import router

if TYPE_CHECKING:
    from yara_orm.models.base import Model


def _lazy(instance: Model, name: str) -> LoadContext:
    return LoadContext(type(instance).__name__, name, "lazy", instance._batch)


def _not_loaded(instance: Model, name: str) -> RelationNotLoaded:
    model = type(instance).__name__
    return RelationNotLoaded(
        "No values were fetched for this relation, first use .fetch_related(): "
        f"{model}.{name} is not loaded. Load it with `await obj.{name}`, "
        f"`await obj.fetch_related({name!r})`, or when querying with "
        f".prefetch_related({name!r}) or .select_related({name!r})"
    )


class _NoneAwaitable:
    """`await obj.maybe_relation` when there is none: awaits to None."""

    def __await__(self) -> Generator[Any, None, None]:
        if False:  # pragma: no cover - makes this a generator
            yield
        return None

    def __bool__(self) -> bool:
        return False


NoneAwaitable = _NoneAwaitable()


class PendingRelation(QuerySet[Any]):
    """`book.author` before it is loaded: a query for that one row, as in Tortoise (await it,
    or chain on it: `await book.author.only("name")`). Reading a field of it raises
    RelationNotLoaded, which says how to load it."""

    def __init__(self, instance: Model, field: ForeignKeyField[Any] | BackwardOneToOne) -> None:
        super().__init__(field.related_model)
        self._instance = instance
        self._field = field
        if isinstance(field, ForeignKeyField):
            self._filters.append(Q(**{field.target_field.name: instance.__dict__[field.attname]}))
        else:
            self._filters.append(Q(**{field.forward.attname: field.forward.key_of(instance)}))
        self._limit = 1
        self._single = "first"
        self._load_context = _lazy(instance, field.name)

    async def _result(self) -> Any:
        found = await super()._result()
        plain = len(self._filters) == 1  # only the relation's own condition: not filtered
        if plain and self._only is None and not self._annotations and self._values is None:
            # The plain relation, as the attribute would hold it once fetched.
            self._instance.__dict__[cache_key(self._field.name)] = found
        return found

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):  # copy, pickle and friends probe for these
            raise AttributeError(name)
        raise _not_loaded(self._instance, self._field.name)

    def __bool__(self) -> bool:
        raise _not_loaded(self._instance, self._field.name)

    def __repr__(self) -> str:
        return f"<not loaded: {type(self._instance).__name__}.{self._field.name}>"


# QuerySet methods a to-many manager offers on the relation's rows (`author.books.limit(3)`).
_QUERY_METHODS = frozenset(
    {
        "all", "filter", "exclude", "order_by", "limit", "offset", "distinct", "annotate",
        "group_by", "values", "values_list", "only", "select_related", "prefetch_related",
        "select_for_update", "get", "get_or_none", "first", "last", "latest", "earliest",
        "count", "exists", "in_bulk", "using_db", "sql", "update", "delete",
    }
)  # fmt: skip


class _ToManyManager:
    """Shared by reverse foreign keys and many-to-many: querying, and the loaded cache."""

    def __init__(self, instance: Model, name: str) -> None:
        self.instance = instance
        self.name = name

    def _base(self) -> QuerySet[Any]:
        raise NotImplementedError

    def _require_saved(self) -> None:
        # A pk alone (a UUID default) does not mean the row exists.
        if self.instance.pk is None or not self.instance._saved_in_db:
            raise OperationalError(
                "This objects hasn't been instanced, call .save() before calling related "
                f"queries ({type(self.instance).__name__}.{self.name})"
            )

    def _query(self) -> QuerySet[Any]:
        self._require_saved()
        query = self._base()
        query._load_context = _lazy(self.instance, self.name)
        return query

    def __getattr__(self, name: str) -> Any:
        if name in _QUERY_METHODS:
            return getattr(self._query(), name)
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    async def _load(self) -> list[Any]:
        found = await self._query()
        self.instance.__dict__[cache_key(self.name)] = found
        return found

    def __await__(self) -> Generator[Any, None, list[Any]]:
        return self._load().__await__()

    async def __aiter__(self) -> AsyncIterator[Any]:
        for item in await self._load():
            yield item

    def _cached(self) -> list[Any]:
        try:
            return self.instance.__dict__[cache_key(self.name)]  # type: ignore[no-any-return]
        except KeyError:
            raise _not_loaded(self.instance, self.name) from None

    def __iter__(self) -> Iterator[Any]:
        return iter(self._cached())

    def __len__(self) -> int:
        return len(self._cached())

    def __getitem__(self, index: int) -> Any:
        return self._cached()[index]

    def __contains__(self, item: object) -> bool:
        return item in self._cached()

    def __bool__(self) -> bool:
        return bool(self._cached())

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {type(self.instance).__name__}.{self.name}>"


class RelatedManager(_ToManyManager, ReverseRelation[Any]):
    """`author.books`: the rows whose foreign key points at this instance."""

    def __init__(self, instance: Model, relation: BackwardRelation) -> None:
        super().__init__(instance, relation.name)
        self.relation = relation

    def _base(self) -> QuerySet[Any]:
        forward = self.relation.forward
        return self.relation.related_model.filter(
            **{forward.attname: forward.key_of(self.instance)}
        )

    async def create(self, **kwargs: Any) -> Any:
        self._require_saved()
        kwargs[self.relation.forward.name] = self.instance
        return await self.relation.related_model.create(**kwargs)


class ManyToManyManager(_ToManyManager, ManyToManyRelation[Any]):
    """`book.tags` / `tag.books`: rows linked through the join table."""

    def __init__(self, instance: Model, field: ManyToManyField[Any] | BackwardManyToMany) -> None:
        super().__init__(instance, field.name)
        self.field = field
        forward = field if isinstance(field, ManyToManyField) else field.forward
        self.forward = forward
        if isinstance(field, ManyToManyField):
            self.own_key, self.other_key = forward.backward_key, forward.forward_key
            self.reverse_path = forward.related_name or ""
        else:
            self.own_key, self.other_key = forward.forward_key, forward.backward_key
            self.reverse_path = forward.name

    def _base(self) -> QuerySet[Any]:
        target = self.field.related_model
        return target.filter(**{f"{self.reverse_path}__pk": self.instance.pk})

    def _pks(self, objects: tuple[Model, ...]) -> list[Any]:
        target = self.field.related_model
        pks = []
        for obj in (self.instance, *objects):
            # A pk alone (a UUID default) does not mean the row exists.
            unsaved = obj.pk is None or not obj._saved_in_db
            if isinstance(obj, target | type(self.instance)) and unsaved:
                raise OperationalError(
                    f"You should first call .save() on {obj!r} before linking it "
                    f"({type(self.instance).__name__}.{self.name})"
                )
        for obj in objects:
            if not isinstance(obj, target):
                raise ValidationError(
                    f"{type(self.instance).__name__}.{self.name} takes saved "
                    f"{target.__name__} instances, not {obj!r}",
                    model=type(self.instance).__name__,
                    field=self.name,
                    value=obj,
                )
            pks.append(obj.pk)
        return pks

    def _sql(self, using_db: Any = None) -> tuple[Any, str, str, str]:
        model = type(self.instance)
        client = using_db or connections.get(router.connection_for(model, write=True))
        quote = client.dialect.quote
        through = quote(self.forward.through or "")
        return client, through, quote(self.own_key or ""), quote(self.other_key or "")

    async def add(self, *objects: Model, using_db: Any = None) -> None:
        """Link `objects`; links that exist already are left alone."""
        wanted = list(dict.fromkeys(self._pks(objects)))
        if not wanted:
            return
        client, through, own, other = self._sql(using_db)
        mark = client.dialect.placeholder
        params: list[Any] = [self.instance.pk]
        present = client.dialect.in_list(other, wanted, params)
        rows = await client.fetch(
            f"SELECT {other} FROM {through} WHERE {own} = {mark(1)} AND {present}", params
        )
        existing = {row[0] for row in rows}
        missing = [pk for pk in wanted if pk not in existing]
        if missing:
            await client.execute_many(
                f"INSERT INTO {through} ({own}, {other}) VALUES ({mark(1)}, {mark(2)})",
                [[self.instance.pk, pk] for pk in missing],
            )
        self.instance.__dict__.pop(cache_key(self.name), None)

    async def remove(self, *objects: Model, using_db: Any = None) -> None:
        if not objects:  # almost surely a mistake (an empty list unpacked): say so
            raise OperationalError(
                f"remove() called on no instances ({type(self.instance).__name__}.{self.name})"
            )
        pks = self._pks(objects)
        if not pks:
            return
        client, through, own, other = self._sql(using_db)
        params: list[Any] = [self.instance.pk]
        condition = client.dialect.in_list(other, pks, params)
        await client.execute(
            f"DELETE FROM {through} WHERE {own} = {client.dialect.placeholder(1)} AND {condition}",
            params,
        )
        self.instance.__dict__.pop(cache_key(self.name), None)

    async def clear(self, using_db: Any = None) -> None:
        client, through, own, _ = self._sql(using_db)
        await client.execute(
            f"DELETE FROM {through} WHERE {own} = {client.dialect.placeholder(1)}",
            [self.instance.pk],
        )
        self.instance.__dict__[cache_key(self.name)] = []
