"""factory_boy for yara-orm models, and `make()`, which fills every required field itself.

factory_boy is synchronous, so `ModelFactory` builds the whole object graph first (SubFactory,
RelatedFactory, post-generation hooks included), then `await F.create()` saves it: referenced
rows first, rows of one model and one level together in one bulk INSERT, then the awaitables
post-generation hooks returned (`return obj.tags.add(*extracted)`).
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import inspect
import itertools
import re
import uuid
from collections.abc import Awaitable, Iterator
from decimal import Decimal
from typing import Any, TypeVar

import factory
from factory import enums
from faker import Faker

from yara_orm import Model, fields
from yara_orm.fields.base import Field
from yara_orm.fields.relations import ForeignKeyField, cache_key

M = TypeVar("M", bound=Model)


class _Collection:
    def __init__(self) -> None:
        self.instances: list[Model] = []
        self.after: list[Awaitable[Any]] = []


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
            if len(batch) == 1:
                await batch[0].save()
            else:
                await model.bulk_create(batch)
    for awaitable in collection.after:
        await awaitable


class ModelFactory(factory.Factory):  # type: ignore[misc,name-defined]
    """A factory_boy factory for a yara-orm model: set `class Meta: model = Book`."""

    class Meta:
        abstract = True

    @classmethod
    def _build(cls, model_class: type[Model], *args: Any, **kwargs: Any) -> Model:
        return model_class(**kwargs)

    @classmethod
    def _create(cls, model_class: type[Model], *args: Any, **kwargs: Any) -> Model:
        collection = _collecting.get()
        if collection is None:
            raise RuntimeError(
                f"{cls.__name__}.create() is a coroutine function here: use `await "
                f"{cls.__name__}.create(...)` (or .build() for an unsaved instance)"
            )
        instance = model_class(**kwargs)
        collection.instances.append(instance)
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
        """Build the object graph, then save it; returns the saved instance."""
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


def snake_case(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def register(factory_class: type[ModelFactory], name: str | None = None) -> None:
    """Make fixtures `<model>_factory` (the class) and `<model>` (a saved instance) in the
    calling module (your conftest.py), as pytest-factoryboy does."""
    import pytest

    model = factory_class._meta.model
    base = name or snake_case(model.__name__)
    caller = inspect.stack()[1].frame.f_globals

    @pytest.fixture(name=f"{base}_factory")
    def factory_fixture() -> type[ModelFactory]:
        return factory_class

    @pytest.fixture(name=base)
    def instance_fixture(yara_db: Any) -> Any:
        return yara_db.run(factory_class.create)

    caller[f"{base}_factory"] = factory_fixture
    caller[base] = instance_fixture


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
