"""Every model class defined, and the step that ties them together: relation targets resolved
(`"app.Model"` or `"Model"`), reverse sides added, plans computed."""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from types import ModuleType
from typing import TYPE_CHECKING, Any

from yara_orm.exceptions import ConfigurationError
from yara_orm.fields.relations import (
    BackwardManyToMany,
    BackwardOneToOne,
    BackwardRelation,
    ForeignKeyField,
    ManyToManyField,
    OneToOneField,
    RelationField,
)

if TYPE_CHECKING:
    from yara_orm.models.base import Model


class Registry:
    def __init__(self) -> None:
        self.defined: dict[str, type[Model]] = {}
        self.active: dict[str, type[Model]] = {}

    def named(self, name: str) -> type[Model] | None:
        """The model called `name` (an active one first), for messages and tools."""
        for pool in (self.active.values(), self.defined.values()):
            for model in pool:
                if model.__name__ == name or model._meta.full_name == name:
                    return model
        return None

    def register(self, model: type[Model]) -> None:
        self.defined[f"{model.__module__}.{model.__qualname__}"] = model

    def select(
        self, models: Iterable[str | ModuleType | type[Model]] | None, app: str | None = None
    ) -> list[type[Model]]:
        """The models named by `models` (classes, modules, module names), or all defined. With
        `app`, models that declare another app in `Meta.app` are left out, as in Tortoise."""
        from yara_orm.models.base import Model

        def belongs(model: type[Model]) -> bool:
            declared = model._meta.explicit_app
            return app is None or declared is None or declared == app

        if models is None:
            return [m for m in self.defined.values() if not m._meta.abstract and belongs(m)]
        chosen: list[type[Model]] = []
        for item in models:
            if isinstance(item, type) and issubclass(item, Model):
                chosen.append(item)
                continue
            module: ModuleType
            if isinstance(item, ModuleType):
                module = item
            else:
                try:
                    module = importlib.import_module(item)
                except ImportError as error:
                    raise ConfigurationError(
                        f"models module {item!r} could not be imported: {error}"
                    ) from error
            found = [
                value
                for value in vars(module).values()
                if isinstance(value, type)
                and issubclass(value, Model)
                and value is not Model
                and not value._meta.abstract
                and value.__module__ == module.__name__
                and belongs(value)
            ]
            chosen.extend(found)
        return list(dict.fromkeys(chosen))

    def activate(self, models: list[type[Model]]) -> None:
        """Resolve relations among `models` and compute their plans."""
        self.active = {m._meta.full_name: m for m in models}
        by_name: dict[str, list[type[Model]]] = {}
        for model in models:
            by_name.setdefault(model.__name__, []).append(model)
        for model in models:
            # Remove reverse sides left by an earlier activation.
            for name, field in list(model._meta.fields.items()):
                if isinstance(field, BackwardRelation | BackwardManyToMany):
                    del model._meta.fields[name]
                    if name in model.__dict__:
                        delattr(model, name)
        for model in models:
            for field in list(model._meta.fields.values()):
                if isinstance(field, RelationField):
                    self._resolve(model, field, by_name)
        for model in models:
            model._meta.finalize()

    def _target(
        self, model: type[Model], field: RelationField[Any], by_name: dict[str, list[type[Model]]]
    ) -> type[Model]:
        target = field.model_name
        if isinstance(target, type):
            return target
        label, _, name = target.rpartition(".")
        candidates = [m for m in by_name.get(name, []) if not label or m._meta.app == label]
        where = f"{model.__name__}.{field.name}"
        if not candidates:
            known = ", ".join(sorted(m._meta.full_name for ms in by_name.values() for m in ms))
            raise ConfigurationError(
                f"{where} points to {target!r}, which is not among the initialised models: "
                f"{known or 'none'}"
            )
        if len(candidates) > 1:
            names = ", ".join(sorted(m._meta.full_name for m in candidates))
            raise ConfigurationError(
                f"{where} points to {target!r}, which names several models ({names}): "
                "write it as 'app.Model'"
            )
        return candidates[0]

    def _resolve(
        self, model: type[Model], field: RelationField[Any], by_name: dict[str, list[type[Model]]]
    ) -> None:
        target = self._target(model, field, by_name)
        field.related_model = target
        if isinstance(field, ForeignKeyField) and field.to_field is not None:
            referenced = target._meta.fields.get(field.to_field)
            if referenced is None or not referenced.has_column:
                raise ConfigurationError(
                    f"{model.__name__}.{field.name}: to_field={field.to_field!r} is not a field "
                    f"of {target.__name__}"
                )
            if not referenced.unique:
                raise ConfigurationError(
                    f"{model.__name__}.{field.name}: to_field={field.to_field!r} must be a unique "
                    f"field of {target.__name__}"
                )
        # Tortoise names a reverse side after the model's table.
        default_reverse = f"{model._meta.table}s"
        reverse: BackwardRelation | BackwardManyToMany
        if isinstance(field, OneToOneField):
            reverse = BackwardOneToOne(field)
            default_reverse = model._meta.table
        elif isinstance(field, ForeignKeyField):
            reverse = BackwardRelation(field)
        elif isinstance(field, ManyToManyField):
            field.resolve()
            reverse = BackwardManyToMany(field)
        else:
            return
        if field.related_name is False:
            return  # no reverse side, as asked
        related_name = field.related_name or default_reverse
        assert isinstance(related_name, str)
        field.related_name = related_name
        if related_name in target._meta.fields:
            raise ConfigurationError(
                f"{model.__name__}.{field.name}: related_name {related_name!r} clashes with "
                f"{target.__name__}.{related_name}"
            )
        target._meta.add_field(related_name, reverse)
        reverse.related_model = model
        setattr(target, related_name, reverse)


registry = Registry()
