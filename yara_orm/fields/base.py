"""The field base class: a column's name, options, validation and Python <-> database values.

Fields know nothing of SQL dialects: each declares a logical `db_kind` ("int", "decimal", …)
that the dialect turns into a column type.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from yara_orm.exceptions import ValidationError

if TYPE_CHECKING:
    from yara_orm.models.base import Model


class _Missing:
    def __repr__(self) -> str:
        return "<no default>"


NO_DEFAULT: Any = _Missing()


class Field:
    """A model attribute stored in one column."""

    db_kind: ClassVar[str] = ""
    #: Python types accepted as they are; anything else goes through `coerce`.
    python_types: ClassVar[tuple[type, ...]] = (object,)
    #: False for relations that live in other tables (reverse FK, many-to-many).
    has_column: ClassVar[bool] = True
    #: True for relation fields (FK, O2O, M2M and their reverses).
    is_relation: ClassVar[bool] = False

    def __init__(
        self,
        *,
        pk: bool = False,
        primary_key: bool | None = None,
        null: bool = False,
        default: Any = NO_DEFAULT,
        unique: bool = False,
        index: bool = False,
        db_index: bool | None = None,
        description: str | None = None,
        source_field: str | None = None,
        generated: bool = False,
    ) -> None:
        self.pk = bool(pk or primary_key)
        self.null = null
        self.default = default
        self.unique = unique or self.pk
        self.index = bool(index or db_index)
        self.description = description
        self.source_field = source_field
        self.generated = generated
        # Filled in when the model class is built.
        self.name: str = ""
        self.model: type[Model] = None  # type: ignore[assignment]

    def bind(self, model: type[Model], name: str) -> None:
        self.model = model
        self.name = name

    @property
    def column(self) -> str:
        return self.source_field or self.name

    @property
    def required(self) -> bool:
        """A value must be given on create: no default, not nullable, not generated."""
        return self.default is NO_DEFAULT and not self.null and not self.generated

    def has_default(self) -> bool:
        return self.default is not NO_DEFAULT

    def default_value(self) -> Any:
        default = self.default
        return default() if callable(default) else default

    def type_arguments(self) -> dict[str, Any]:
        """Arguments of the column type template (max_length, max_digits, …)."""
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

    def validate(self, value: Any) -> Any:
        """Check (and normalise) a Python value for this field; return what to store."""
        if value is None:
            if self.null or self.generated:
                return None
            raise self.fail(value, "is not allowed: the field is not nullable")
        if not isinstance(value, self.python_types):
            value = self.coerce(value)
        return self.check(value)

    def check(self, value: Any) -> Any:
        """Constraints beyond the type (lengths, ranges)."""
        return value

    def to_db(self, value: Any) -> Any:
        """The value sent to the engine; `value` is already validated."""
        return value

    #: Converts a value read from the database; None when the engine's type is already right.
    from_db: Callable[[Any], Any] | None = None

    def __repr__(self) -> str:
        owner = self.model.__name__ if self.model else "?"
        return f"<{type(self).__name__} {owner}.{self.name}>"
