"""The field base class: a column's name, options, validation and Python <-> database values.

Fields know nothing of SQL dialects: each declares a logical `db_kind` ("int", "decimal", …)
that the dialect turns into a column type. `Field[T]` is generic, as in Tortoise, so
`fields.JSONField[dict]` and annotations such as `Field[MyEnum]` work.
"""

from __future__ import annotations

import datetime as dt
import enum
import os
import sys
import uuid
import warnings
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from yara_orm.exceptions import ConfigurationError, NullValueError, ValidationError

if TYPE_CHECKING:
    from yara_orm.models.base import Model

VALUE = TypeVar("VALUE")


# Values of these types cannot change in place (an Enum member is one fixed object).
IMMUTABLE_TYPES = frozenset(
    {int, float, bool, str, bytes, Decimal, dt.datetime, dt.date, dt.time, dt.timedelta}
    | {uuid.UUID, enum.Enum}
)


class _Missing:
    """No default given (Tortoise's `DB_DEFAULT_NOT_SET`: falsy, shown as NOT_PROVIDED)."""

    def __repr__(self) -> str:
        return "NOT_PROVIDED"

    def __bool__(self) -> bool:
        return False


NO_DEFAULT: Any = _Missing()


class DatabaseDefault:
    """The value of a field with `db_default` that was not set: the database fills it in on
    INSERT. Falsy, so `if obj.field:` reads as "nothing yet"."""

    def __init__(self, field: Field[Any]) -> None:
        self.field = field

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"DatabaseDefault({self.field.name!r})"

    def __str__(self) -> str:
        return "<DB_DEFAULT>"


#: Tortoise's name for "no db_default".
DB_DEFAULT_NOT_SET = NO_DEFAULT


StrEnum = enum.StrEnum


class OnDelete(enum.StrEnum):
    CASCADE = "CASCADE"
    RESTRICT = "RESTRICT"
    SET_NULL = "SET NULL"
    SET_DEFAULT = "SET DEFAULT"
    NO_ACTION = "NO ACTION"


CASCADE = OnDelete.CASCADE
RESTRICT = OnDelete.RESTRICT
SET_NULL = OnDelete.SET_NULL
SET_DEFAULT = OnDelete.SET_DEFAULT
NO_ACTION = OnDelete.NO_ACTION


def native_reader(method: Callable[..., Any]) -> Callable[..., Any]:
    """Marks a built-in field's `to_python_value`: rows are decoded by the engine, so reads
    do not go through it (only a user's override routes every read through its own)."""
    method.native = True  # type: ignore[attr-defined]
    return method


def user_stacklevel() -> int:
    """The `stacklevel` of the first caller outside yara_orm's field classes, so a warning
    about a field's arguments points at the model that declared it."""
    frame = sys._getframe(1)
    level = 1
    while frame is not None and frame.f_code.co_filename.startswith(_FIELDS_DIR):
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    return level


_FIELDS_DIR = os.path.dirname(os.path.abspath(__file__))


class Field(Generic[VALUE]):
    """A model attribute stored in one column."""

    db_kind: ClassVar[str] = ""
    #: Python types accepted as they are; anything else goes through `coerce`.
    python_types: ClassVar[tuple[type, ...]] = (object,)
    #: False for relations that live in other tables (reverse FK, many-to-many).
    has_column: ClassVar[bool] = True
    #: True for relation fields (FK, O2O, M2M and their reverses).
    is_relation: ClassVar[bool] = False
    #: Not None for types no index can cover (text, binary, JSON): what to say after "can't be
    #: indexed" when unique= or db_index= asks for one.
    unindexable: ClassVar[str | None] = None

    def __init__(
        self,
        source_field: str | None = None,
        generated: bool = False,
        primary_key: bool | None = None,
        null: bool = False,
        default: Any = NO_DEFAULT,
        db_default: Any = NO_DEFAULT,
        unique: bool = False,
        db_index: bool | None = None,
        description: str | None = None,
        model: Any = None,
        validators: list[Callable[[Any], Any]] | None = None,
        *,
        pk: bool | None = None,
        index: bool | None = None,
        **extra: Any,
    ) -> None:
        name = type(self).__name__
        if pk is not None and primary_key is not None and bool(pk) != bool(primary_key):
            raise ConfigurationError(f"{name} can't set both primary_key and pk")
        if index is not None and db_index is not None and bool(index) != bool(db_index):
            raise ConfigurationError(f"{name} can't set both db_index and index")
        # Tortoise 1.x's spellings, deprecated there too: the same warnings.
        if pk is not None:
            warnings.warn(
                "`pk` is deprecated, please use `primary_key` instead",
                DeprecationWarning,
                stacklevel=user_stacklevel(),
            )
        if index is not None:
            warnings.warn(
                "`index` is deprecated, please use `db_index` instead",
                DeprecationWarning,
                stacklevel=user_stacklevel(),
            )
        if self.unindexable is not None and (unique or index or db_index):
            raise ConfigurationError(f"{name} can't be indexed{self.unindexable}")
        self.pk = bool(primary_key if primary_key is not None else pk)
        if null and self.pk:
            raise ConfigurationError(f"{name} can't be both null=True and primary_key=True")
        if callable(db_default) and not isinstance(db_default, type):
            raise ConfigurationError(
                f"{name}: db_default must be a static value or SqlDefault(...), not a callable"
            )
        self.null = null
        # Tortoise spells "no default" default=None.
        self.default = NO_DEFAULT if default is None else default
        self.db_default = db_default
        self.unique = unique or self.pk
        self.index = bool(index if db_index is None else db_index) or self.pk
        self.description = description
        self.docstring: str | None = None
        self.source_field = source_field
        self.generated = generated
        self.validators: list[Callable[[Any], Any]] = list(validators or [])
        # Options for subclasses that do not use them, kept for describe().
        self.extra = extra
        # Filled in when the model class is built.
        self.name: str = ""
        self.model: type[Model] = None  # type: ignore[assignment]

    def __copy__(self) -> Field[VALUE]:
        copied = type(self).__new__(type(self))
        copied.__dict__.update(self.__dict__)
        # Subclasses may keep attributes in __slots__ (Tortoise's fields do).
        for klass in type(self).__mro__:
            for slot in klass.__dict__.get("__slots__", ()):
                if hasattr(self, slot):
                    setattr(copied, slot, getattr(self, slot))
        copied.validators = list(self.validators)
        return copied

    def bind(self, model: type[Model], name: str) -> None:
        self.model = model
        self.name = name
        self._route_reads_through_to_python_value()

    @property
    def model_field_name(self) -> str:
        """Tortoise's name for the attribute name."""
        return self.name

    @model_field_name.setter
    def model_field_name(self, name: str) -> None:
        self.name = name

    @property
    def column(self) -> str:
        return self.source_field or self.name

    @property
    def required(self) -> bool:
        """A value must be given on create: no default, not nullable, not generated."""
        return (
            self.default is NO_DEFAULT
            and not self.null
            and not self.generated
            and not self.has_db_default()
        )

    def has_default(self) -> bool:
        return self.default is not NO_DEFAULT

    def has_db_default(self) -> bool:
        return self.db_default is not NO_DEFAULT

    def default_value(self) -> Any:
        default = self.default
        return default() if callable(default) else default

    def type_arguments(self) -> dict[str, Any]:
        """Arguments of the column type template (max_length, max_digits, …)."""
        return {}

    @property
    def constraints(self) -> dict[str, Any]:
        """JSON-schema style constraints (max_length, ge, le…), for schema generators."""
        return {}

    # Values ---------------------------------------------------------------------------

    def fail(self, value: Any, reason: str) -> ValidationError:
        model = self.model.__name__ if self.model else "?"
        return ValidationError(
            f"{model}.{self.name}: {value!r} {reason}", model=model, field=self.name, value=value
        )

    def coerce(self, value: Any) -> Any:
        """Turn an acceptable value of another type into this field's type, or fail."""
        raise self.fail(value, f"is not a valid {type(self).__name__} value")

    def validate(self, value: Any, run_validators: bool = True) -> Any:
        """Check (and normalise) a Python value for this field; return what to store.
        `run_validators=False` when building an instance: as in Tortoise, `validators=` run
        when the value is written (save, update), so an instance may hold a value it cannot
        save yet."""
        if value is None:
            if self.null or self.generated:
                return None
            model = self.model.__name__ if self.model else "?"
            raise NullValueError(
                f"{model}.{self.name}: {self.name} is non nullable field, but null was passed",
                model=model,
                field=self.name,
            )
        if not isinstance(value, self.python_types):
            value = self.coerce(value)
        value = self.check(value)
        if self.validators and run_validators:
            self.run_validators(value)
        return value

    def init_fast_test(self) -> str | None:
        """For the constructor compiled per model: a Python expression over `v` that is true
        only when `validate(v, False)` would return `v` itself, so the constructor stores it
        without the call (None: always call `validate`)."""
        return None

    def validates_as(self, owner: type[Field[Any]]) -> bool:
        """Whether this field validates exactly as the built-in `owner` does (a subclass
        that checks or accepts more must not get `owner`'s `init_fast_test`)."""
        cls = type(self)
        return (
            cls.validate is Field.validate
            and cls.check is owner.check
            and cls.python_types is owner.python_types
        )

    def run_validators(self, value: Any) -> None:
        """The field's own `validators=`; a failure names the field and the value."""
        plain = value.value if isinstance(value, enum.Enum) else value
        for validator in self.validators:
            try:
                validator(plain)
            except (ValidationError, ValueError) as error:
                model = self.model.__name__ if self.model else "?"
                raise ValidationError(
                    f"{self.name}: {error}", model=model, field=self.name, value=value
                ) from error

    def check(self, value: Any) -> Any:
        """Constraints beyond the type (lengths, ranges)."""
        return value

    def to_db(self, value: Any) -> Any:
        """The value sent to the engine; `value` is already validated."""
        return value

    #: Converts a value read from the database; None when the engine's type is already right.
    from_db: Callable[[Any], Any] | None = None

    @property
    def valid_until_replaced(self) -> bool:
        """Whether a value this field validated stays valid as long as it is not replaced: an
        immutable type and no `validators=` (which run only when a value is written). Such
        values are not validated again on save when the instance was built and not changed."""
        return not self.validators and all(kind in IMMUTABLE_TYPES for kind in self.python_types)

    def utc_read_zone(self) -> dt.tzinfo | None:
        """A zone when reading a value the engine decoded in UTC is only giving it that zone
        as tzinfo (which the engine then does itself); None for other fields."""
        return None

    # Tortoise's conversion hooks. A subclass that overrides them (Tortoise's way to write a
    # custom field) is converted through them: `to_db_value` on the way in, with the type
    # left to it, `to_python_value` on the way out. `super()` calls reach the native ones.
    def to_db_value(self, value: Any, instance: Any) -> Any:
        """The value stored for `value` (Tortoise's name)."""
        return type(self)._native_to_db(self, value)

    def to_python_value(self, value: Any) -> Any:
        """The Python value for `value` as read from the database (Tortoise's name)."""
        native = self.__dict__.get("_native_from_db", self.from_db)
        return value if native is None or value is None else native(value)

    _native_to_db: ClassVar[Callable[[Any, Any], Any]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "to_db_value" in cls.__dict__:
            if cls.to_db is not _through_to_db_value:
                cls._native_to_db = cls.to_db
            cls.to_db = _through_to_db_value  # type: ignore[method-assign, assignment]
            # The field's own conversion decides what it accepts (Tortoise checks nothing
            # more than null and validators before it).
            cls.python_types = (object,)
            cls.check = _accept  # type: ignore[method-assign, assignment]

    def describe(self, serializable: bool = True) -> dict[str, Any]:
        """The field's description, as Tortoise gives it."""
        from yara_orm.models.describe import describe_field

        return describe_field(self, serializable)

    def __repr__(self) -> str:
        owner = self.model.__name__ if self.model else "?"
        return f"<{type(self).__name__} {owner}.{self.name}>"

    def _route_reads_through_to_python_value(self) -> None:
        """A subclass overriding `to_python_value` reads every value through it; the
        field's own reading stays reachable from `super().to_python_value()`."""
        reader = type(self).to_python_value
        if reader is not Field.to_python_value and not getattr(reader, "native", False):
            if "_native_from_db" not in self.__dict__:
                self.__dict__["_native_from_db"] = self.from_db
            self.from_db = self.to_python_value


def _through_to_db_value(field: Field[Any], value: Any) -> Any:
    return field.to_db_value(value, None)


def _accept(field: Field[Any], value: Any) -> Any:
    return value


Field._native_to_db = Field.to_db
