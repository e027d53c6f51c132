"""The base classes of generated models: `PydanticModel` (one instance) and
`PydanticListModel` (a list), with the async constructors that fetch relations first."""

from __future__ import annotations

import types
import typing
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Self, cast

from pydantic import BaseModel, ConfigDict, ModelWrapValidatorHandler, RootModel, model_validator
from pydantic.fields import FieldInfo

from yara_orm.exceptions import RelationNotLoaded
from yara_orm.fields.relations import ForeignKeyField, cache_key
from yara_orm.models.base import Model

if TYPE_CHECKING:
    from yara_orm.query.queryset import QuerySet, QuerySetSingle

#: Where a pydantic instance built from an ORM instance keeps it (for computed fields). Kept
#: in the instance's __dict__, which pydantic's equality and dumps ignore beyond the fields.
ORM_INSTANCE = "__orm_instance__"


def config_of(model: type[BaseModel]) -> dict[str, Any]:
    """The model's configuration as a plain dict: generated models keep Tortoise's extra keys
    (`orig_model`, `submodel`) in it."""
    return cast(dict[str, Any], model.model_config)


def orm_model_of(model: type[BaseModel]) -> type[Model]:
    orm_model = config_of(model).get("orig_model")
    if orm_model is None:
        raise TypeError(f"{model.__name__} was not made by pydantic_model_creator")
    return cast(type[Model], orm_model)


class PydanticModel(BaseModel):
    """The base of models made by `pydantic_model_creator`. Validating an ORM instance reads
    its fields and its loaded relations; `from_yara_orm` loads the relations first."""

    model_config = ConfigDict(from_attributes=True)

    @model_validator(mode="wrap")
    @classmethod
    def _read_orm_instance(cls, value: Any, handler: ModelWrapValidatorHandler[Self]) -> Self:
        if not isinstance(value, Model):
            return handler(value)
        built = handler(_values(cls, value))
        object.__setattr__(built, ORM_INSTANCE, value)
        return built

    @classmethod
    async def from_yara_orm(cls, obj: Model) -> Self:
        """This model of `obj`, with the relations it nests fetched (one query for each)."""
        await obj.fetch_related(*fetch_paths(cls))
        return cls.model_validate(obj)

    #: Tortoise's name.
    from_tortoise_orm = from_yara_orm

    @classmethod
    async def from_queryset_single(cls, queryset: QuerySetSingle[Any]) -> Self:
        """This model of the one row `queryset` gives (`Book.get(id=1)`), relations fetched."""
        return cls.model_validate(await queryset.prefetch_related(*fetch_paths(cls)))

    @classmethod
    async def from_queryset(cls, queryset: QuerySet[Any]) -> list[Self]:
        """This model of each row of `queryset`; each relation is fetched for all the rows at
        once, so the number of queries does not grow with the rows."""
        found = await queryset.prefetch_related(*fetch_paths(cls))
        return [cls.model_validate(obj) for obj in found]


class PydanticListModel(RootModel[list[Any]]):
    """The base of models made by `pydantic_queryset_creator`: a list of one model."""

    @classmethod
    async def from_queryset(cls, queryset: QuerySet[Any]) -> Self:
        """The list of the rows of `queryset`, relations fetched for all rows at once."""
        item = cast(type[PydanticModel], config_of(cls)["submodel"])
        found = await queryset.prefetch_related(*fetch_paths(item))
        return cls.model_validate([item.model_validate(obj) for obj in found])


# Reading an ORM instance ---------------------------------------------------------------


def _values(model: type[BaseModel], instance: Model) -> dict[str, Any]:
    """The values of `model`'s fields read off `instance`, keyed as pydantic reads input (by
    alias where there is one). A field the instance does not have is left out, for pydantic
    to fill with its default or report."""
    fields = instance._meta.fields
    values: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        key = _input_key(name, info)
        field = fields.get(name)
        if field is not None and field.is_relation:
            values[key] = _loaded(instance, name, model)
            continue
        try:
            values[key] = getattr(instance, name)
        except AttributeError:  # not loaded by only(), or not a field of the model
            continue
    return values


def _input_key(name: str, info: FieldInfo) -> str:
    alias = info.validation_alias if isinstance(info.validation_alias, str) else info.alias
    return alias or name


def _loaded(instance: Model, name: str, model: type[BaseModel]) -> Any:
    state = instance.__dict__
    key = cache_key(name)
    if key in state:
        return state[key]
    field = instance._meta.fields[name]
    if isinstance(field, ForeignKeyField) and state.get(field.attname) is None:
        return None  # no related row: nothing to load
    owner = type(instance).__name__
    raise RelationNotLoaded(
        f"{owner}.{name} is not loaded, so {model.__name__} cannot show it: build it with "
        f"`await {model.__name__}.from_yara_orm(obj)` (or from_queryset), which fetches the "
        f"relations it nests, or fetch it first with `await obj.fetch_related({name!r})`"
    )


# What to fetch -------------------------------------------------------------------------


def fetch_paths(model: type[BaseModel]) -> list[str]:
    """The `prefetch_related` paths (`tournament`, `events__participants`) that load every
    relation `model` nests, at every depth."""
    return _paths(model, (model,))


def _paths(model: type[BaseModel], seen: tuple[type[BaseModel], ...]) -> list[str]:
    orm_model = config_of(model).get("orig_model")
    if orm_model is None:
        return []
    fields = orm_model._meta.fields
    paths: list[str] = []
    for name, info in model.model_fields.items():
        field = fields.get(name)
        if field is None or not field.is_relation:
            continue
        nested = _nested_model(info.annotation)
        if nested is None:
            continue
        below = [] if nested in seen else _paths(nested, (*seen, nested))
        paths.extend(f"{name}__{path}" for path in below) if below else paths.append(name)
    return paths


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model in `Model`, `Model | None` or `list[Model]`."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (list, typing.Union, types.UnionType):
        return _first(_nested_model(argument) for argument in typing.get_args(annotation))
    return None


def _first(models: Iterable[type[BaseModel] | None]) -> type[BaseModel] | None:
    return next((model for model in models if model is not None), None)
