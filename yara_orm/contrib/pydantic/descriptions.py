"""What the pydantic creator reads off a model: its fields in Tortoise's order, each with its
Python type, JSON-schema constraints and description.

A foreign key is one field here (`author`, stored in the column `author_id`); Tortoise lists
the key column as a field of its own as well, and pydantic models show it (`author_id`) where
the relation is not nested. `entries()` gives both, so the creator can follow Tortoise.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import inspect
import sys
import typing
import uuid
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from yara_orm.exceptions import ConfigurationError
from yara_orm.fields.base import Field
from yara_orm.fields.relations import (
    BackwardManyToMany,
    BackwardOneToOne,
    BackwardRelation,
    ForeignKeyField,
    ManyToManyField,
    ReverseSide,
)
from yara_orm.fields.scalars import (
    BinaryField,
    BooleanField,
    CharEnumField,
    CharField,
    DateField,
    DatetimeField,
    DecimalField,
    FloatField,
    IntEnumField,
    IntField,
    JSONField,
    TextField,
    TimeDeltaField,
    TimeField,
    UUIDField,
)
from yara_orm.models.docstrings import field_docstring
from yara_orm.models.registry import registry

if TYPE_CHECKING:
    from yara_orm.models.base import Model


class Kind(enum.Enum):
    DATA = "data"  # a plain value (key columns of relations included)
    ONE = "one"  # a forward foreign key or one-to-one: one nested model
    BACKWARD_ONE = "backward_one"  # the reverse side of a one-to-one: one model or None
    MANY = "many"  # a reverse foreign key or either side of a many-to-many: a list


@dataclasses.dataclass(frozen=True)
class Entry:
    """One field of a model as the creator sees it."""

    name: str
    kind: Kind
    #: The ORM field; for a key column (`author_id`), the field it references.
    field: Field[Any]
    #: For a key column, the foreign key it belongs to.
    key_of: Field[Any] | None = None

    @property
    def owner(self) -> Field[Any]:
        """The field that carries the options (null, default, pk) of this entry."""
        return self.key_of if self.key_of is not None else self.field

    @property
    def key_column(self) -> str | None:
        """For a forward relation, the name of its key column (`author_id`)."""
        if self.kind is Kind.ONE and isinstance(self.field, ForeignKeyField):
            return self.field.attname
        return None

    @property
    def backward(self) -> bool:
        """The reverse side of a foreign key or one-to-one (not of a many-to-many)."""
        return isinstance(self.field, BackwardRelation)

    @property
    def null(self) -> bool:
        return bool(self.owner.null)

    @property
    def pk(self) -> bool:
        return bool(self.owner.pk)

    @property
    def readonly(self) -> bool:
        # As in Tortoise, what a field declares read-only (auto_now, auto_now_add).
        return self.key_of is None and bool(self.field.constraints.get("readOnly"))

    def static_default(self) -> tuple[bool, Any]:
        """(True, value) for a default that is a value; a callable default is not one."""
        owner = self.owner
        if owner.has_default() and not callable(owner.default):
            return True, owner.default
        return False, None

    @property
    def related_model(self) -> type[Model]:
        related: type[Model] | None = getattr(self.field, "related_model", None)
        if related is None:
            raise _unresolved(self.field.model, self.name)
        return related


def entries(model: type[Model]) -> list[Entry]:
    """The model's fields in Tortoise's definition order: declared fields, then the key
    columns of its foreign keys, then the reverse sides other models added."""
    declared: list[Entry] = []
    keys: list[Entry] = []
    reverse: list[Entry] = []
    for name, field in model._meta.fields.items():
        if field.is_relation and getattr(field, "related_model", None) is None:
            raise _unresolved(model, name)
        if isinstance(field, ForeignKeyField):
            declared.append(Entry(name, Kind.ONE, field))
            keys.append(Entry(field.attname, Kind.DATA, field.target_field, key_of=field))
        elif isinstance(field, ManyToManyField):
            declared.append(Entry(name, Kind.MANY, field))
        elif isinstance(field, BackwardOneToOne):
            reverse.append(Entry(name, Kind.BACKWARD_ONE, field))
        elif isinstance(field, BackwardRelation | BackwardManyToMany):
            reverse.append(Entry(name, Kind.MANY, field))
        else:
            declared.append(Entry(name, Kind.DATA, field))
    return [*declared, *keys, *reverse]


def _unresolved(model: type[Model] | None, name: str) -> ConfigurationError:
    owner = model.__name__ if model is not None else "?"
    return ConfigurationError(
        f"{owner}.{name} is a relation that is not resolved yet: initialise the models first "
        "(YaraOrm.init, or YaraOrm.init_models([...], 'models') without a database), then "
        "create pydantic models"
    )


def pk_name(model: type[Model]) -> str:
    """The entry holding the primary key (`event_id` for a one-to-one primary key)."""
    return model._meta.pk_attr


# Types ---------------------------------------------------------------------------------

_PYTHON_TYPES: tuple[tuple[type[Field[Any]], Any], ...] = (
    (BooleanField, bool),
    (IntField, int),
    (FloatField, float),
    (DecimalField, Decimal),
    (CharField, str),
    (TextField, str),
    (BinaryField, bytes),
    (DatetimeField, dt.datetime),
    (DateField, dt.date),
    (TimeField, dt.time),
    (TimeDeltaField, dt.timedelta),
    (UUIDField, uuid.UUID),
)


def python_type(field: Field[Any]) -> Any:
    """The type a value of `field` has in Python (and so in the pydantic model)."""
    if isinstance(field, IntEnumField | CharEnumField):
        return field.enum_type
    if isinstance(field, JSONField):
        return _json_type(field)
    for kind, python in _PYTHON_TYPES:
        if isinstance(field, kind):
            return python
    # Custom fields: the type they accept, or Tortoise's `field_type`.
    accepted = field.python_types[0] if field.python_types else object
    if accepted is not object:
        return accepted
    declared = getattr(field, "field_type", None)
    return declared if isinstance(declared, type) else Any


def _json_type(field: JSONField[Any]) -> Any:
    # `field_type=` (a pydantic model), else the generic argument (`JSONField[dict]`); else
    # any JSON value, which is what the field stores.
    if field.field_type is not None:
        return field.field_type
    declared = getattr(field, "__orig_class__", None)
    arguments = typing.get_args(declared)
    return arguments[0] if arguments else Any


_SMALLINT = (-(2**15), 2**15 - 1)


def constraints(field: Field[Any]) -> dict[str, Any]:
    """pydantic `Field()` constraints for `field`'s values (Tortoise's `constraints`)."""
    found = {key: value for key, value in field.constraints.items() if key != "readOnly"}
    if isinstance(field, IntField | IntEnumField):
        # Tortoise's IntEnumField is a smallint field, and says so in the schema.
        low, high = field.bounds if isinstance(field, IntField) else _SMALLINT
        found.setdefault("ge", low)
        found.setdefault("le", high)
    if isinstance(field, CharField | CharEnumField):
        found.setdefault("max_length", field.max_length)
    return found


# Descriptions --------------------------------------------------------------------------


def description(model: type[Model], entry: Entry) -> str | None:
    """What the schema says of a field: its docstring (`#:` comments above it) or its
    `description=`. A key column and a reverse side take their relation's description."""
    if entry.key_of is not None:
        return _short(entry.key_of)
    field = entry.field
    if isinstance(field, ReverseSide):
        return _short(field.forward)
    return field_docstring(field) or field.description


def _short(field: Field[Any]) -> str | None:
    if field.description:
        return field.description
    docstring = field_docstring(field)
    return docstring.split("\n")[0] if docstring else None


def html_lines(text: str) -> str:
    """Newlines as `<br/>`, as Tortoise writes descriptions into schemas."""
    return text.replace("\n", "<br/>").strip()


def model_doc(model: type[Any]) -> str:
    return html_lines(inspect.cleandoc(model.__doc__ or ""))


# Annotations ---------------------------------------------------------------------------


def model_annotations(model: type[Any]) -> dict[str, Any]:
    """The model's own attribute annotations, resolved one by one (an annotation that does not
    resolve is left out instead of spoiling the others). Models of the registry are in scope,
    so `"Tournament"` resolves wherever Tournament is defined."""
    known = _model_names()
    found: dict[str, Any] = {}
    for klass in reversed(model.__mro__):
        if klass is object or klass.__module__.startswith("yara_orm."):
            continue
        module = sys.modules.get(klass.__module__)
        scope = dict(vars(module)) if module is not None else {}
        scope.setdefault(klass.__name__, klass)  # a model defined in a function names itself
        for name, annotation in inspect.get_annotations(klass).items():
            resolved = resolve(annotation, scope, known)
            if resolved is not _UNRESOLVED:
                found[name] = resolved
    return found


def annotated_names(model: type[Any]) -> set[str]:
    """Every name the model (or a base) annotates, resolvable or not."""
    return {name for klass in model.__mro__ for name in inspect.get_annotations(klass)}


def return_annotation(function: Any) -> Any:
    """The resolved return annotation of `function`, or None when it has none."""
    annotation = getattr(function, "__annotations__", {}).get("return")
    if annotation is None:
        return None
    scope = getattr(function, "__globals__", {})
    resolved = resolve(annotation, scope, _model_names())
    return None if resolved is _UNRESOLVED else resolved


_UNRESOLVED = object()


def resolve(annotation: Any, scope: dict[str, Any], names: dict[str, Any]) -> Any:
    """`annotation` evaluated (as typing.get_type_hints does) in the module's `scope`, with
    the registry's model `names` as a fallback for what the module does not define."""
    if not isinstance(annotation, str):
        return annotation
    try:
        return eval(annotation, {**names, **scope})
    except Exception:
        return _UNRESOLVED


def _model_names() -> dict[str, Any]:
    names: dict[str, Any] = {}
    for pool in (registry.defined, registry.active):
        for model in pool.values():
            names[model.__name__] = model
    return names


def field_annotation(annotations: dict[str, Any], name: str) -> Any:
    """The type a model's annotation gives the field `name`, or None. `Field[Color]` means
    Color; an annotation naming a field class says nothing about the value."""
    annotation = annotations.get(name)
    if annotation is None:
        return None
    origin = typing.get_origin(annotation)
    if isinstance(origin, type) and issubclass(origin, Field):
        arguments = typing.get_args(annotation)
        return arguments[0] if arguments else None
    if isinstance(annotation, type) and issubclass(annotation, Field):
        return None
    return annotation
