"""`Model._meta`: a model's table, fields and the plans computed once per model (column
lists, hydration order, converters)."""

from __future__ import annotations

import enum
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from yara_orm.exceptions import ConfigurationError, FieldError
from yara_orm.fields.base import Field
from yara_orm.fields.relations import ForeignKeyField
from yara_orm.models.constructor import Constructor, compile_constructor

if TYPE_CHECKING:
    from yara_orm.indexes import Index
    from yara_orm.models.base import Model


class MetaInfo:
    def __init__(
        self,
        model: type[Model],
        *,
        table: str,
        abstract: bool,
        ordering: tuple[str, ...],
        unique_together: tuple[tuple[str, ...], ...],
        indexes: list[Index],
        connection: str | None,
        table_description: str | None,
        app: str | None = None,
        fetch_db_defaults: bool = True,
    ) -> None:
        self.model = model
        self.table = table
        # Meta.table when given; a `table_name_generator=` of `init` names the others.
        self.explicit_table: str | None = None
        self.abstract = abstract
        self.ordering = ordering
        self.unique_together = unique_together
        self.indexes = indexes
        # Meta.connection when given; otherwise the connection of the app the model is
        # initialised in (`YaraOrm.init`), "default" until then.
        self.explicit_connection = connection
        self.connection = connection or "default"
        # Meta.app when given: the model belongs to that app only.
        self.explicit_app = app
        self.app = app or "models"
        self.table_description = table_description
        # After an INSERT, read back the values the database filled in (db_default).
        self.fetch_db_defaults = fetch_db_defaults
        # Meta.manager as declared (inherited by subclasses), and bound to this model.
        self.manager_template: Any = None
        self.manager: Any = None
        self.fields: dict[str, Field[Any]] = {}
        # Fields as declared (inherited ones included), before the ORM adds reverse sides.
        self.declared: dict[str, Field[Any]] = {}
        self.pk: Field[Any] = None  # type: ignore[assignment]
        self.finalized = False
        # Plans, built by `finalize()`.
        self.columns: list[Field[Any]] = []
        self.attnames: tuple[str, ...] = ()
        self.converters: list[tuple[int, Callable[[Any], Any]]] = []
        self.fk_attnames: dict[str, str] = {}
        # Per column, how instances are built and written (see `init_step`, `write_step`),
        # worked out once rather than per instance.
        self.write_plan: tuple[WriteStep, ...] = ()
        self.init_plan: tuple[InitStep, ...] = ()
        # Names a constructor takes for columns (field names and `_id` attnames).
        self.column_names: frozenset[str] = frozenset()
        # The constructor compiled from `init_plan` (see `constructor`).
        self.construct: Constructor = self._not_initialised

    def add_field(self, name: str, field: Field[Any]) -> None:
        field.bind(self.model, name)
        self.fields[name] = field
        if field.pk:
            if self.pk is not None and self.pk is not field:
                raise FieldError(
                    f"{self.model.__name__} has two primary keys: {self.pk.name} and {name}"
                )
            self.pk = field

    def finalize(self) -> None:
        """Compute the per-model plans once every relation is resolved."""
        self.columns = [f for f in self.fields.values() if f.has_column]
        self.attnames = tuple(attname(f) for f in self.columns)
        self.converters = [
            (index, f.from_db) for index, f in enumerate(self.columns) if f.from_db is not None
        ]
        self.fk_attnames = {
            f.attname: f.name for f in self.fields.values() if isinstance(f, ForeignKeyField)
        }
        self.write_plan = tuple(write_step(f) for f in self.columns)
        self.init_plan = tuple(init_step(f) for f in self.columns)
        self.column_names = frozenset({*(f.name for f in self.columns), *self.attnames})
        self.construct = compile_constructor(self.model.__name__, self.init_plan, self.column_names)
        self.finalized = True

    def _not_initialised(self, instance: Model, kwargs: dict[str, Any]) -> None:
        raise ConfigurationError(
            f"{self.model.__name__} is not initialised: call `await YaraOrm.init(...)` first"
        )

    # Tortoise's names ------------------------------------------------------------------

    @property
    def fields_map(self) -> dict[str, Field[Any]]:
        return self.fields

    @property
    def db_table(self) -> str:
        return self.table

    @property
    def full_name(self) -> str:
        return f"{self.app}.{self.model.__name__}"

    @property
    def pk_attr(self) -> str:
        """The instance attribute holding the primary key (`event_id` for a one-to-one pk)."""
        return attname(self.pk)

    @property
    def _default_ordering(self) -> tuple[tuple[str, str], ...]:
        return tuple(
            (name[1:], "desc") if name.startswith("-") else (name, "asc") for name in self.ordering
        )

    @property
    def db_fields(self) -> set[str]:
        return {f.column for f in self.fields.values() if f.has_column}

    @property
    def fk_fields(self) -> set[str]:
        return {
            n
            for n, f in self.fields.items()
            if isinstance(f, ForeignKeyField) and not f.unique_relation
        }

    @property
    def o2o_fields(self) -> set[str]:
        return {
            n
            for n, f in self.fields.items()
            if isinstance(f, ForeignKeyField) and f.unique_relation
        }

    @property
    def m2m_fields(self) -> set[str]:
        return {
            n
            for n, f in self.fields.items()
            if (f.is_relation and not f.has_column and type(f).__name__.endswith("ManyToMany"))
            or type(f).__name__ == "ManyToManyField"
        }

    @property
    def fetch_fields(self) -> set[str]:
        return {n for n, f in self.fields.items() if f.is_relation}

    # Lookups used by the query compiler -------------------------------------------------

    @property
    def forward_fks(self) -> list[ForeignKeyField[Any]]:
        return [f for f in self.fields.values() if isinstance(f, ForeignKeyField)]

    def column_field(self, name: str) -> Field[Any]:
        """A field stored in this table (an FK may be named by its `_id` attname too)."""
        if name == "pk":
            return self.pk
        for f in self.columns:
            if name in (f.name, attname(f)):
                return f
        relation = self.fields.get(name)
        if relation is not None:
            raise FieldError(
                f"{self.model.__name__}.{name} is a relation stored in another table; "
                "it cannot be set or selected as a column"
            )
        raise FieldError(
            f'Unknown field "{name}" for model "{self.model.__name__}"; '
            f"valid fields: {', '.join(sorted(self.fields))}"
        )


class InitDefault(enum.Enum):
    """What the constructor stores for a column it is not given."""

    NONE = enum.auto()
    VALUE = enum.auto()  # the field's default (a value, or a function called per instance)
    AWAITED = enum.auto()  # an async function, awaited when the instance is saved
    DATABASE = enum.auto()  # left to the column's db_default


InitStep = tuple["Field[Any]", str, str, bool, "Callable[[Any, bool], Any]", InitDefault]


def init_step(field: Field[Any]) -> InitStep:
    """One entry of `MetaInfo.init_plan`: the field, its name and attribute, whether it is a
    foreign key, its `validate`, and what stands for a value the constructor is not given."""
    if field.has_default():
        default = (
            InitDefault.AWAITED if inspect.iscoroutinefunction(field.default) else InitDefault.VALUE
        )
    else:
        default = InitDefault.DATABASE if field.has_db_default() else InitDefault.NONE
    is_fk = isinstance(field, ForeignKeyField)
    return (field, field.name, attname(field), is_fk, field.validate, default)


WriteStep = tuple["Field[Any]", str, str, bool, bool, bool, "Callable[[Any], Any] | None"]


def write_step(field: Field[Any]) -> WriteStep:
    """One entry of `MetaInfo.write_plan`: the field, its attribute and column, whether it is
    a foreign key, whether it is auto_now, whether a value it validated stays valid, and its
    `to_db` (None where that returns the value as it is)."""
    to_db = None if type(field).to_db is Field.to_db else field.to_db
    return (
        field,
        attname(field),
        field.column,
        isinstance(field, ForeignKeyField),
        bool(getattr(field, "auto_now", False)),
        field.valid_until_replaced,
        to_db,
    )


def attname(field: Field[Any]) -> str:
    """The instance attribute holding a column's value (`author_id` for the FK `author`)."""
    return field.attname if isinstance(field, ForeignKeyField) else field.name
