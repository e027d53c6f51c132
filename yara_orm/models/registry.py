"""Every model class defined, and the step that ties them together: relation targets resolved,
reverse sides added, plans computed."""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from types import ModuleType
from typing import TYPE_CHECKING

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

    def register(self, model: type[Model]) -> None:
        self.defined[model.__name__] = model

    def select(self, models: Iterable[str | ModuleType | type[Model]] | None) -> list[type[Model]]:
        """The models named by `models` (classes, modules, module names), or all defined."""
        from yara_orm.models.base import Model

        if models is None:
            return [m for m in self.defined.values() if not m._meta.abstract]
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
            ]
            chosen.extend(found)
        return list(dict.fromkeys(chosen))

    def activate(self, models: list[type[Model]]) -> None:
        """Resolve relations among `models` and compute their plans."""
        by_name = {m.__name__: m for m in models}
        self.active = by_name
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

    def _resolve(
        self, model: type[Model], field: RelationField, by_name: dict[str, type[Model]]
    ) -> None:
        target = field.model_name
        if not isinstance(target, type):
            name = target.rsplit(".", 1)[-1]
            if name not in by_name:
                raise ConfigurationError(
                    f"{model.__name__}.{field.name} points to {target!r}, which is not among "
                    f"the initialised models: {', '.join(sorted(by_name)) or 'none'}"
                )
            target = by_name[name]
        field.related_model = target
        default_reverse = f"{model.__name__.lower()}s"
        if isinstance(field, OneToOneField):
            reverse: BackwardRelation | BackwardManyToMany = BackwardOneToOne(field)
            default_reverse = model.__name__.lower()
        elif isinstance(field, ForeignKeyField):
            reverse = BackwardRelation(field)
        elif isinstance(field, ManyToManyField):
            field.resolve()
            reverse = BackwardManyToMany(field)
        else:
            return
        related_name = field.related_name or default_reverse
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
