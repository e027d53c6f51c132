"""Managers: where a model's querysets come from (`Meta.manager`, or a class attribute such
as `all_objects = Manager()`), as in Tortoise."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from yara_orm.models.base import Model
    from yara_orm.query.queryset import QuerySet


class Manager:
    """Gives the model's querysets; attributes it lacks come from a fresh queryset, so
    `Model.all_objects.filter(...)` works."""

    def __init__(self, model: type[Model] | None = None) -> None:
        self._model = model

    def bind(self, model: type[Model]) -> Manager:
        """A copy of this manager for `model` (managers are declared once, used by many)."""
        bound = object.__new__(type(self))
        bound.__dict__.update(self.__dict__)
        bound._model = model
        return bound

    def get_queryset(self) -> QuerySet[Any]:
        from yara_orm.query.queryset import QuerySet

        assert self._model is not None, "the manager is not attached to a model"
        return QuerySet(self._model)

    def __getattr__(self, item: str) -> Any:
        if item.startswith("__"):
            raise AttributeError(item)
        return getattr(self.get_queryset(), item)


__all__ = ["Manager"]
