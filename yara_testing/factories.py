"""factory_boy for yara-orm models, and `make()`, which fills every required field itself.

factory_boy is synchronous, so `ModelFactory` builds the whole object graph first (SubFactory,
RelatedFactory, post-generation hooks included), then `await F.create()` saves it: referenced
rows first, rows of one model and one level together in one bulk INSERT, then the awaitables
post-generation hooks returned (`return obj.tags.add(*extracted)`). Rows of factories with
`Meta.get_or_create` are looked up first (one SELECT per model and level); those found are
used instead of inserted.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import inspect
import itertools
import uuid
from collections.abc import Awaitable, Iterator
from decimal import Decimal
from typing import Any, TypeVar

import factory
from factory import enums, errors
from factory.base import FactoryOptions, OptionDefault
from faker import Faker

from yara_orm import Model, Q, fields
from yara_orm.fields.base import Field
from yara_orm.fields.relations import ForeignKeyField, cache_key
from yara_testing.activation import ensure_active

M = TypeVar("M", bound=Model)

# A get_or_create row's identity: its factory's key fields, and their values.
_Key = tuple[tuple[str, ...], tuple[Any, ...]]


class _Collection:
    def __init__(self) -> None:
        self.instances: list[Model] = []
        self.after: list[Awaitable[Any]] = []
        # id(instance) -> the key fields of its factory's Meta.get_or_create.
        self.lookups: dict[int, tuple[str, ...]] = {}


_collecting: contextvars.ContextVar[_Collection | None] = contextvars.ContextVar(
    "yara_factory_collection", default=None
)


@contextlib.contextmanager
def _collect() -> Iterator[_Collection]:
    collection = _Collection()
    token = _collecting.set(collection)
    try:
        yield collection
    finally:
        _collecting.reset(token)


def _level(instance: Model, pending: set[int], memo: dict[int, int]) -> int:
    key = id(instance)
    if key in memo:
        return memo[key]
    memo[key] = 0
    depth = 0
    for fk in instance._meta.forward_fks:
        related = instance.__dict__.get(cache_key(fk.name))
        if related is not None and id(related) in pending:
            depth = max(depth, _level(related, pending, memo) + 1)
    memo[key] = depth
    return depth


def _lookup_value(instance: Model, name: str) -> tuple[str, Any]:
    """The filter name and value of key field `name`: a relation by its stored key (the related
    row was saved at a lower level, after this instance was built)."""
    field = instance._meta.fields[name]
    if isinstance(field, ForeignKeyField):
        related = instance.__dict__.get(cache_key(name))
        if isinstance(related, Model):
            return field.attname, field.key_of(related)
        return field.attname, instance.__dict__.get(field.attname)
    return name, instance.__dict__.get(name)


def _key(instance: Model, names: tuple[str, ...]) -> _Key:
    return names, tuple(_lookup_value(instance, name)[1] for name in names)


def _adopt(instance: Model, row: Model) -> None:
    """Make the built `instance` the saved `row` (as Django's get_or_create returns the row, not
    the values it was asked with): the dependents built on it then refer to the row."""
    state = instance.__dict__
    for field in instance._meta.columns:
        value = row.__dict__.get(
            field.attname if isinstance(field, ForeignKeyField) else field.name
        )
        if isinstance(field, ForeignKeyField):
            cached = state.get(cache_key(field.name))
            if not isinstance(cached, Model) or field.key_of(cached) != value:
                state.pop(cache_key(field.name), None)
            state[field.attname] = value
        else:
            state[field.name] = value
    state.pop("_await_when_save", None)
    state["_saved_in_db"] = True


async def _found(model: type[Model], groups: dict[_Key, list[Model]]) -> dict[_Key, Model]:
    """The existing rows of the get_or_create keys in `groups`, in one query."""
    if not groups:
        return {}
    conditions = [
        Q(**{_lookup_value(group[0], name)[0]: value for name, value in zip(*key, strict=True)})
        for key, group in groups.items()
    ]
    found: dict[_Key, Model] = {}
    for row in await model.filter(Q(*conditions, join_type=Q.OR)):
        for key in groups:
            if _key(row, key[0]) == key:
                found.setdefault(key, row)
    return found


async def _save_batch(model: type[Model], batch: list[Model], lookups: dict[int, Any]) -> None:
    """Save `batch` (one model, one level): get_or_create rows found in the database are
    adopted, the others inserted (rows with the same key once), all in one bulk INSERT."""
    groups: dict[_Key, list[Model]] = {}
    inserted: list[Model] = []
    for instance in batch:
        names = lookups.get(id(instance))
        if names is None:
            inserted.append(instance)
        else:
            groups.setdefault(_key(instance, names), []).append(instance)
    found = await _found(model, groups)
    for key, group in groups.items():
        if key in found:
            for instance in group:
                _adopt(instance, found[key])
        else:
            inserted.append(group[0])
    if len(inserted) == 1:
        await inserted[0].save()
    elif inserted:
        await model.bulk_create(inserted)
    for key, group in groups.items():
        if key not in found:
            for instance in group[1:]:
                _adopt(instance, group[0])


async def _save(collection: _Collection) -> None:
    pending = {id(i) for i in collection.instances if not i._saved_in_db}
    memo: dict[int, int] = {}
    levels: dict[int, dict[type[Model], list[Model]]] = {}
    for instance in collection.instances:
        if id(instance) in pending:
            level = _level(instance, pending, memo)
            levels.setdefault(level, {}).setdefault(type(instance), []).append(instance)
    for level in sorted(levels):
        for model, batch in levels[level].items():
            await _save_batch(model, batch, collection.lookups)
    for awaitable in collection.after:
        await awaitable


class ModelFactoryOptions(FactoryOptions):
    def _build_default_options(self) -> list[OptionDefault]:
        # As DjangoModelFactory's `django_get_or_create`: fields that identify an existing row.
        defaults: list[OptionDefault] = super()._build_default_options()  # type: ignore[no-untyped-call]
        return [*defaults, OptionDefault("get_or_create", (), inherit=True)]  # type: ignore[no-untyped-call]


class ModelFactory(factory.Factory):  # type: ignore[misc,name-defined]
    """A factory_boy factory for a yara-orm model: set `class Meta: model = Book`;
    `get_or_create = ("isbn",)` reuses the row with the same isbn instead of inserting."""

    _options_class = ModelFactoryOptions

    class Meta:
        abstract = True

    @classmethod
    def _build(cls, model_class: type[Model], *args: Any, **kwargs: Any) -> Model:
        ensure_active(model_class)
        return model_class(**kwargs)

    @classmethod
    def _create(cls, model_class: type[Model], *args: Any, **kwargs: Any) -> Model:
        collection = _collecting.get()
        if collection is None:
            raise RuntimeError(
                f"{cls.__name__}.create() is a coroutine function here: use `await "
                f"{cls.__name__}.create(...)` (or .build() for an unsaved instance)"
            )
        ensure_active(model_class)
        names = tuple(cls._meta.get_or_create)
        columns = [f.name for f in model_class._meta.columns]
        for name in names:
            if name not in columns:
                raise errors.FactoryError(
                    f"{cls.__name__}.Meta.get_or_create names {name!r}, which is not a field of "
                    f"{model_class.__name__}; fields: {', '.join(sorted(columns))}"
                )
            if name not in kwargs:
                raise errors.FactoryError(
                    f"{cls.__name__}.Meta.get_or_create: no value for {name!r}; declare it on "
                    "the factory or pass it"
                )
        instance = model_class(**kwargs)
        collection.instances.append(instance)
        if names:
            collection.lookups[id(instance)] = names
        return instance

    @classmethod
    def _after_postgeneration(cls, instance: Model, create: bool, results: Any = None) -> None:
        collection = _collecting.get()
        if not create or collection is None or not results:
            return
        for value in results.values():
            if inspect.isawaitable(value):
                collection.after.append(value)

    @classmethod
    async def create(cls, **kwargs: Any) -> Any:
        """Build the object graph, then save it; returns the saved instance. `Factory(**kw)` is
        this too (factory_boy's default strategy): a coroutine to await."""
        with _collect() as collection:
            instance = cls._generate(enums.CREATE_STRATEGY, kwargs)
        await _save(collection)
        return instance

    @classmethod
    async def create_batch(cls, size: int, **kwargs: Any) -> list[Any]:
        """`size` instances, inserted in bulk (one INSERT per model and level)."""
        with _collect() as collection:
            instances = [cls._generate(enums.CREATE_STRATEGY, kwargs) for _ in range(size)]
        await _save(collection)
        return instances


# make(): valid rows without writing a factory ------------------------------------------------

_faker = Faker()
_unique = itertools.count(1)


def _fake_value(field: Field[Any]) -> Any:
    if isinstance(field, fields.CharEnumField | fields.IntEnumField):
        return _faker.random_element(list(field.enum_type))
    if isinstance(field, fields.BooleanField):
        return _faker.pybool()
    if isinstance(field, fields.SmallIntField):
        return _faker.pyint(0, 30_000)
    if isinstance(field, fields.IntField):  # also BigIntField
        return _faker.pyint(0, 1_000_000)
    if isinstance(field, fields.FloatField):
        return _faker.pyfloat(min_value=0, max_value=10_000)
    if isinstance(field, fields.DecimalField):
        whole = min(field.max_digits - field.decimal_places, 6)
        return Decimal(
            _faker.pydecimal(
                left_digits=max(whole, 1), right_digits=field.decimal_places, positive=True
            )
        ).quantize(Decimal(1).scaleb(-field.decimal_places))
    if isinstance(field, fields.CharField):
        text = _faker.sentence(nb_words=3).rstrip(".")
        if field.unique:
            text = f"{text} {next(_unique)}"
        return text[-field.max_length :] if field.unique else text[: field.max_length]
    if isinstance(field, fields.TextField):
        return _faker.paragraph()
    if isinstance(field, fields.BinaryField):
        return _faker.binary(16)
    if isinstance(field, fields.DatetimeField):
        return _faker.date_time(tzinfo=dt.UTC)
    if isinstance(field, fields.DateField):
        return _faker.date_object()
    if isinstance(field, fields.TimeField):
        return _faker.time_object()
    if isinstance(field, fields.TimeDeltaField):
        return dt.timedelta(seconds=_faker.pyint(0, 86_400))
    if isinstance(field, fields.UUIDField):
        return uuid.uuid4()
    if isinstance(field, fields.JSONField):
        return {"value": _faker.word()}
    raise TypeError(f"make() cannot invent a value for {field!r}; pass it explicitly")


async def make(model: type[M], _quantity: int | None = None, **overrides: Any) -> Any:
    """Create valid rows of `model`: every required field filled with fake data that fits
    (max_length, unique, enum choices), required related rows created too."""
    count = 1 if _quantity is None else _quantity
    made = [await _make_one(model, overrides) for _ in range(count)]
    return made[0] if _quantity is None else made


async def _make_one(model: type[M], overrides: dict[str, Any]) -> M:
    values = dict(overrides)
    for field in model._meta.columns:
        if field.name in values or (isinstance(field, ForeignKeyField) and field.attname in values):
            continue
        if isinstance(field, ForeignKeyField):
            if not field.null:
                values[field.name] = await _make_one(field.related_model, {})
            continue
        if field.required:
            values[field.name] = _fake_value(field)
    return await model.create(**values)
