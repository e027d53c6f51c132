"""`pydantic_model_creator` and `pydantic_queryset_creator`: pydantic models of ORM models,
with Tortoise's field selection, nesting of relations, naming and reuse."""

from __future__ import annotations

import base64
import dataclasses
import functools
import hashlib
import inspect
import types
import typing
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, cast

from pydantic import ConfigDict, computed_field
from pydantic import Field as PydanticField

from yara_orm.contrib.pydantic import descriptions
from yara_orm.contrib.pydantic.base import (
    ORM_INSTANCE,
    PydanticListModel,
    PydanticModel,
    config_of,
)
from yara_orm.contrib.pydantic.descriptions import Entry, Kind
from yara_orm.contrib.pydantic.options import Options
from yara_orm.exceptions import ConfigurationError, RelationNotLoaded

if TYPE_CHECKING:
    from yara_orm.models.base import Model


@dataclasses.dataclass(frozen=True)
class _Level:
    """One step down the nesting: `model`'s field `relation` is being nested."""

    model: type[Model]
    relation: str
    max_recursion: int


# Generated models, reused when asked for again: keyed by the ORM model, the name and a hash
# of the shape (fields, their types, options), so equal requests give the same class.
_MODELS: dict[tuple[type[Model], str, str, tuple[int, ...]], type[PydanticModel]] = {}
_LISTS: dict[tuple[type[PydanticModel], str], type[PydanticListModel]] = {}


def pydantic_model_creator(
    cls: type[Model],
    *,
    name: str | None = None,
    exclude: Iterable[str] | None = None,
    include: Iterable[str] | None = None,
    computed: Iterable[str] | None = None,
    optional: Iterable[str] | None = None,
    allow_cycles: bool | None = None,
    sort_alphabetically: bool | None = None,
    exclude_readonly: bool = False,
    meta_override: type | None = None,
    model_config: ConfigDict | None = None,
    validators: dict[str, Any] | None = None,
    module: str = __name__,
) -> type[PydanticModel]:
    """A pydantic model of the ORM model `cls`.

    :param name: the model's name (and schema title); by default the ORM model's.
    :param exclude: fields to leave out (`relation.field` for a nested model's).
    :param include: if given, only these fields (`relation.field` for a nested model's).
    :param computed: methods of the model (annotated with a return type) to show as fields.
    :param optional: fields that may be omitted (they default to None): for PATCH bodies.
    :param allow_cycles: let a model nest inside itself again further down.
    :param sort_alphabetically: order fields by name instead of as declared.
    :param exclude_readonly: leave out what a client cannot set: the primary key, auto_now
        and auto_now_add fields, relations (their `<relation>_id` columns stay) and computed
        fields. For request bodies.
    :param meta_override: a class whose attributes replace those of the model's
        `PydanticMeta`.
    :param model_config: pydantic configuration, merged over `PydanticMeta.model_config`.
    :param validators: pydantic validators (`field_validator(...)(function)`) by name.
    :param module: the `__module__` of the generated class.
    """
    options = Options.of(cls, meta_override).with_arguments(
        include=include,
        exclude=exclude,
        computed=computed,
        allow_cycles=allow_cycles,
        sort_alphabetically=sort_alphabetically,
        model_config=model_config,
    )
    customised = not (
        exclude is None
        and include is None
        and computed is None
        and optional is None
        and allow_cycles is None
        and sort_alphabetically is None
        and meta_override is None
        and model_config is None
        and validators is None
        and not exclude_readonly
    )
    creator = _Creator(
        cls,
        options,
        name=name,
        customised=customised,
        optional=tuple(optional or ()),
        exclude_readonly=exclude_readonly,
        validators=validators,
        module=module,
    )
    return creator.create()


def pydantic_queryset_creator(
    cls: type[Model],
    *,
    name: str | None = None,
    exclude: Iterable[str] = (),
    include: Iterable[str] = (),
    computed: Iterable[str] = (),
    allow_cycles: bool | None = None,
    sort_alphabetically: bool | None = None,
) -> type[PydanticListModel]:
    """A pydantic model of a list of `cls` (a root model), for `await
    List.from_queryset(Model.filter(...))`. The arguments are `pydantic_model_creator`'s; the
    name is the item model's with `_list` added, unless given."""
    item = pydantic_model_creator(
        cls,
        name=name,
        exclude=tuple(exclude),
        include=tuple(include),
        computed=tuple(computed),
        allow_cycles=allow_cycles,
        sort_alphabetically=sort_alphabetically,
    )
    list_name = name or f"{item.__name__}_list"
    known = _LISTS.get((item, list_name))
    if known is not None:
        return known
    namespace: dict[str, Any] = {
        "__module__": item.__module__,
        "__qualname__": list_name,
        "__doc__": descriptions.model_doc(cls),
        "__annotations__": {"root": list[item]},  # type: ignore[valid-type]
        "root": PydanticField(default_factory=list),
        "model_config": ConfigDict(title=name or f"{config_of(item)['title']}_list"),
    }
    created = cast(type[PydanticListModel], _new_class(list_name, PydanticListModel, namespace))
    config_of(created)["submodel"] = item
    _LISTS[(item, list_name)] = created
    return created


class _Creator:
    """Builds one pydantic model (and, through further creators, those it nests)."""

    def __init__(
        self,
        model: type[Model],
        options: Options,
        *,
        name: str | None = None,
        customised: bool = True,
        optional: tuple[str, ...] = (),
        exclude_readonly: bool = False,
        validators: dict[str, Any] | None = None,
        module: str = __name__,
        stack: tuple[_Level, ...] = (),
        nested: bool = False,
    ) -> None:
        self.model = model
        self.options = options
        self.given_name = name
        self.customised = customised
        self.optional = optional
        self.exclude_readonly = exclude_readonly
        self.validators = validators or {}
        self.module = module
        self.stack = stack
        self.nested = nested
        self.annotations = descriptions.model_annotations(model)
        # name -> (type, FieldInfo) for fields, name -> computed property for the others.
        self.fields: dict[str, tuple[Any, Any]] = {}
        self.computed: dict[str, Any] = {}

    # Which fields ------------------------------------------------------------------------

    def _chosen(self) -> list[Entry | str]:
        """The entries to show, and the names of computed fields, in their final order."""
        options = self.options
        all_entries = descriptions.entries(self.model)
        pk = descriptions.pk_name(self.model)
        relations_shown = not self.exclude_readonly
        annotated = descriptions.annotated_names(self.model)
        # A relation shown nested hides its key column (unless that is the primary key).
        hidden_keys = {
            entry.key_column
            for entry in all_entries
            if entry.key_column
            and relations_shown
            and options.exclude_raw_fields
            and options.keeps(entry.name)
        } - {pk}
        chosen: list[Entry | str] = []
        for entry in all_entries:
            if not options.keeps(entry.name):
                continue
            if entry.kind is Kind.DATA:
                if entry.name == pk:
                    if self.exclude_readonly:
                        continue
                elif entry.name in hidden_keys or (self.exclude_readonly and entry.readonly):
                    continue
            elif not relations_shown:
                continue
            elif entry.backward and not options.backward_relations and entry.name not in annotated:
                continue
            chosen.append(entry)
        if relations_shown:
            chosen.extend(dict.fromkeys(options.computed))
        if options.sort_alphabetically:
            chosen.sort(key=lambda item: item if isinstance(item, str) else item.name)
        return chosen

    # Building ----------------------------------------------------------------------------

    def create(self) -> type[PydanticModel]:
        for item in self._chosen():
            if isinstance(item, str):
                self._add_computed(item)
            else:
                self._add_field(item)
        name, title = self._name()
        # Validators count by identity: two with one name are still different models.
        key = (self.model, name, self._hash(), tuple(map(id, self.validators.values())))
        known = _MODELS.get(key)
        if known is not None:
            return known
        config = ConfigDict(**PydanticModel.model_config)
        config.update(self.options.model_config or {})
        config.setdefault("title", title)
        config.setdefault("extra", "forbid")
        namespace: dict[str, Any] = {
            "__module__": self.module,
            "__qualname__": name,
            "__doc__": descriptions.model_doc(self.model),
            "__annotations__": {field: spec[0] for field, spec in self.fields.items()},
            **{field: spec[1] for field, spec in self.fields.items()},
            **self.computed,
            **self.validators,
            "model_config": config,
        }
        created = cast(type[PydanticModel], _new_class(name, PydanticModel, namespace))
        config_of(created)["orig_model"] = self.model
        _MODELS[key] = created
        return created

    def _name(self) -> tuple[str, str]:
        """(class name, schema title). Tortoise's scheme: the model's dotted path, with a hash
        of the shape when options change it, and `:leaf` for nested models."""
        if self.given_name is not None:
            return self.given_name, self.given_name
        name = f"{self.model.__module__}.{self.model.__qualname__}"
        if self.customised:
            name = f"{name}:{self._hash()}"
        if self.nested:
            name = f"{name}:leaf"
        return name, self.model.__name__

    @functools.cached_property
    def _shape(self) -> str:
        shown = [f"{field}:{_token(spec[0])}" for field, spec in self.fields.items()]
        shown += [f"{field}:computed" for field in self.computed]
        return ";".join(
            [
                f"{self.model.__module__}.{self.model.__qualname__}",
                ",".join(shown),
                f"optional={sorted(self.optional)}",
                f"cycles={self.options.allow_cycles}",
                f"readonly={self.exclude_readonly}",
                f"config={_token(dict(self.options.model_config or {}))}",
                f"validators={_token(self.validators)}",
                f"module={self.module}",
            ]
        )

    def _hash(self) -> str:
        digest = hashlib.sha256(self._shape.encode()).digest()
        return base64.b32encode(digest).decode().lower()[:6]

    # Fields ------------------------------------------------------------------------------

    def _add_field(self, entry: Entry) -> None:
        extra: dict[str, Any] = {}
        if entry.kind is Kind.DATA:
            python = self._data_type(entry, extra)
        elif entry.kind is Kind.MANY:
            nested = self._nest(entry)
            if nested is None:
                return
            python = list[nested]  # type: ignore[valid-type]
        else:
            nested = self._nest(entry)
            if nested is None:
                return
            python = nested
            if entry.null or entry.owner.has_default():
                python = nested | None
            if entry.null:
                extra["nullable"] = True
        info: dict[str, Any] = {"title": entry.name.replace("_", " ").title()}
        text = descriptions.description(self.model, entry)
        if text:
            info["description"] = descriptions.html_lines(text)
        if entry.kind is Kind.DATA:
            info.update(descriptions.constraints(entry.field))
        if extra:
            info["json_schema_extra"] = extra
        has_default, default = entry.static_default()
        if entry.kind is not Kind.DATA:
            has_default = False  # a relation's default is a key, not a nested model
        if entry.name in self.optional:
            info["default"] = default if has_default else None
        elif has_default:
            info["default"] = default
        elif extra.get("nullable") or (entry.kind is Kind.ONE and entry.owner.has_default()):
            info["default"] = None
        self.fields[entry.name] = (python, PydanticField(**info))

    def _data_type(self, entry: Entry, extra: dict[str, Any]) -> Any:
        declared = descriptions.field_annotation(self.annotations, entry.name)
        python = declared if declared is not None else descriptions.python_type(entry.field)
        if entry.readonly:
            extra["readOnly"] = True
        if entry.null:
            extra["nullable"] = True
        if not entry.pk and (entry.null or entry.name in self.optional):
            python = _or_none(python)
        return python

    def _nest(self, entry: Entry) -> type[PydanticModel] | None:
        """The model nested at `entry`, or None where nesting stops: a model met again up the
        chain (unless cycles are allowed), or a level's max_recursion reached."""
        target = entry.related_model
        stack = (*self.stack, _Level(self.model, entry.name, self.options.max_recursion))
        # The direct parent does not count, so a model may nest itself once.
        if not self.options.allow_cycles and any(level.model is target for level in stack[:-1]):
            return None
        # Each level's max_recursion counts from that level. (Tortoise ignores the outermost
        # model's; with equal limits everywhere, the usual case, both give the same depth.)
        depth = len(stack)
        if any(depth - above > level.max_recursion for above, level in enumerate(stack)):
            return None
        include, exclude, computed = self.options.nested(entry.name)
        options = Options.of(target).with_arguments(
            include=include,
            exclude=exclude,
            computed=computed,
            allow_cycles=self.options.allow_cycles,
            sort_alphabetically=self.options.sort_alphabetically,
        )
        return _Creator(target, options, stack=stack, nested=True).create()

    def _add_computed(self, name: str) -> None:
        attribute = inspect.getattr_static(self.model, name, None)
        if isinstance(attribute, staticmethod | classmethod):
            attribute = attribute.__func__
        function = attribute.fget if isinstance(attribute, property) else attribute
        if not callable(function):
            raise ConfigurationError(
                f"{self.model.__name__}.{name} is listed as computed but is not a method or "
                "property of the model"
            )
        return_type = descriptions.return_annotation(function)
        if return_type is None:  # pydantic needs the type; Tortoise leaves such ones out
            return
        reader = _computed_reader(function, f"{self.model.__name__}.{name}")
        # An empty docstring is still given, as Tortoise does ("description": "").
        doc = descriptions.html_lines(inspect.cleandoc(function.__doc__ or ""))
        self.computed[name] = computed_field(return_type=return_type, description=doc)(reader)


def _new_class(name: str, base: type, namespace: dict[str, Any]) -> type:
    # Built the way a class statement builds it, so pydantic's metaclass sees a plain class.
    return types.new_class(name, (base,), {}, lambda body: body.update(namespace))


def _computed_reader(function: Callable[..., Any], label: str) -> Callable[[Any], Any]:
    """The computed field's getter: it calls the model's method on the ORM instance the
    pydantic one was built from (relations and all), or on the pydantic instance itself."""

    @functools.wraps(function)
    def read(self: Any) -> Any:
        source = self.__dict__.get(ORM_INSTANCE, self)
        try:
            return function(source)
        except RelationNotLoaded as error:
            raise RelationNotLoaded(
                f"computed field {label} uses a relation that is not loaded: nest the relation "
                f"in the pydantic model (it is then fetched), or fetch it with fetch_related() "
                f"before building the model ({error})"
            ) from error

    return read


def _or_none(python: Any) -> Any:
    if python is Any or python is None or type(None) in typing.get_args(python):
        return python
    return python | None


def _token(value: Any) -> str:
    """A text for `value` that is the same in every run (no memory addresses), for hashes."""
    if isinstance(value, type):
        return value.__name__ if issubclass(value, PydanticModel) else value.__qualname__
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}={_token(v)}" for k, v in sorted(value.items())) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_token(item) for item in value) + "]"
    wrapped = getattr(value, "wrapped", None)  # a pydantic validator: its function and mode
    if wrapped is not None:
        function = getattr(wrapped, "__func__", wrapped)
        return f"{_token(function)}:{getattr(value, 'decorator_info', '')!r}"
    arguments = typing.get_args(value)
    if arguments:
        origin = typing.get_origin(value)
        head = "Union" if origin is types.UnionType else _token(origin)
        return f"{head}[{','.join(_token(argument) for argument in arguments)}]"
    if callable(value):
        return f"{getattr(value, '__module__', '?')}.{getattr(value, '__qualname__', '?')}"
    return repr(value)
