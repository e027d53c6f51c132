"""The options of a generated pydantic model: a model's `PydanticMeta`, a `meta_override`
class, and the creator's own arguments, merged in that order (Tortoise's rules)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from pydantic import ConfigDict


class PydanticMeta:
    """The options read from a model's inner `class PydanticMeta:`, with their defaults.

    Declare only the ones to change::

        class Book(Model):
            ...

            class PydanticMeta:
                exclude = ("internal_notes",)
                computed = ("title_length",)
    """

    #: If not empty, only these fields (and relations named as `relation.field`) are kept.
    include: tuple[str, ...] = ()
    #: Fields left out; `relation.field` leaves a field out of a nested model.
    exclude: tuple[str, ...] = ("Meta",)
    #: Methods (or properties) of the model, annotated with a return type, shown as fields.
    computed: tuple[str, ...] = ()
    #: Include reverse relations (reverse foreign keys and one-to-ones) that the model does
    #: not annotate.
    backward_relations: bool = True
    #: How deep relations nest.
    max_recursion: int = 3
    #: Let a model nest inside itself again further down (beyond one self-reference).
    allow_cycles: bool = False
    #: Leave out the `<relation>_id` key columns of relations that are nested.
    exclude_raw_fields: bool = True
    #: Order the fields alphabetically instead of as declared.
    sort_alphabetically: bool = False
    #: pydantic configuration for the generated model.
    model_config: ConfigDict | None = None


@dataclasses.dataclass(frozen=True)
class Options:
    """The options one generated model is built with (defaults: `PydanticMeta`'s)."""

    include: tuple[str, ...] = PydanticMeta.include
    exclude: tuple[str, ...] = PydanticMeta.exclude
    computed: tuple[str, ...] = PydanticMeta.computed
    backward_relations: bool = PydanticMeta.backward_relations
    max_recursion: int = PydanticMeta.max_recursion
    allow_cycles: bool = PydanticMeta.allow_cycles
    exclude_raw_fields: bool = PydanticMeta.exclude_raw_fields
    sort_alphabetically: bool = PydanticMeta.sort_alphabetically
    model_config: ConfigDict | None = PydanticMeta.model_config

    @classmethod
    def of(cls, model: type, meta_override: type | None = None) -> Options:
        """The options declared by `model.PydanticMeta`, then replaced by `meta_override`'s."""
        options = cls()
        for declared in (getattr(model, "PydanticMeta", None), meta_override):
            if declared is not None:
                options = options._replaced_by(declared)
        return options

    def _replaced_by(self, declared: type) -> Options:
        values: dict[str, Any] = {}
        for option in dataclasses.fields(self):
            if not hasattr(declared, option.name):
                continue
            value = getattr(declared, option.name)
            if option.name in ("include", "exclude", "computed"):
                value = _names(value)
            elif option.name == "max_recursion":
                value = int(value)
            elif option.name != "model_config":
                value = bool(value)
            values[option.name] = value
        return dataclasses.replace(self, **values)

    def with_arguments(
        self,
        *,
        include: Iterable[str] | None = None,
        exclude: Iterable[str] | None = None,
        computed: Iterable[str] | None = None,
        allow_cycles: bool | None = None,
        sort_alphabetically: bool | None = None,
        model_config: ConfigDict | None = None,
    ) -> Options:
        """Add the creator's arguments: names add to the declared ones, flags replace them,
        and `model_config` is merged over the declared configuration."""
        config = ConfigDict()
        config.update(self.model_config or {})
        config.update(model_config or {})
        return dataclasses.replace(
            self,
            include=_names(include) + self.include,
            exclude=_names(exclude) + self.exclude,
            computed=_names(computed) + self.computed,
            allow_cycles=self.allow_cycles if allow_cycles is None else allow_cycles,
            sort_alphabetically=(
                self.sort_alphabetically if sort_alphabetically is None else sort_alphabetically
            ),
            model_config=config,
        )

    def keeps(self, name: str) -> bool:
        """`name` passes `include` and `exclude`. A nested name (`author.name`) in `include`
        keeps its relation too, so it need not be listed on its own."""
        if name in self.exclude:
            return False
        if not self.include:
            return True
        prefix = name + "."
        return name in self.include or any(entry.startswith(prefix) for entry in self.include)

    def nested(self, relation: str) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
        """The include, exclude and computed names meant for the model nested at `relation`."""
        return (
            _below(self.include, relation),
            _below(self.exclude, relation),
            _below(self.computed, relation),
        )


def _names(value: Iterable[str] | str | None) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):  # a lone name, not its letters
        return (value,)
    return tuple(value)


def _below(names: tuple[str, ...], relation: str) -> tuple[str, ...]:
    prefix = relation + "."
    return tuple(name[len(prefix) :] for name in names if name.startswith(prefix))
