"""Custom fields written the Tortoise way: `to_db_value` / `to_python_value` overrides."""

from __future__ import annotations

import enum
from typing import Any

from yara_orm import fields
from yara_orm.models import Model
from yara_orm.validators import MinValueValidator


class Colour(enum.Enum):  # a plain Enum: the field, not the ORM, knows how to store it
    RED = "r"
    GREEN = "g"


class ColourField(fields.CharField):
    __slots__ = ("enum_type",)  # Tortoise's fields keep their options in slots

    def __init__(self, enum_type: type[enum.Enum], **kwargs: Any) -> None:
        super().__init__(max_length=8, **kwargs)
        self.enum_type = enum_type

    def to_db_value(self, value: Any, instance: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, self.enum_type):
            raise TypeError(f"expected {self.enum_type.__name__}, got {value!r}")
        return value.value

    def to_python_value(self, value: Any) -> Any:
        return None if value is None else self.enum_type(value)


class TaggedJSONField(fields.JSONField):
    """Wraps the native JSON conversion: `super()` reaches it."""

    def to_db_value(self, value: Any, instance: Any) -> Any:
        return super().to_db_value({"tagged": value}, instance)

    def to_python_value(self, value: Any) -> Any:
        loaded = super().to_python_value(value)
        return loaded["tagged"] if isinstance(loaded, dict) else loaded


class IsoDatetimeField(fields.DatetimeField):
    """Reads its values as ISO text, through the native reading (in the configured zone)."""

    def to_python_value(self, value: Any) -> Any:
        read = super().to_python_value(value)
        return None if read is None else read.isoformat()


class ShoutField(fields.CharField):
    """A built-in field whose check does more: the constructor must call it."""

    def check(self, value: Any) -> Any:
        return super().check(value).upper()


class Paint(Model):
    name = fields.CharField(max_length=20)
    colour = ColourField(Colour, null=True)
    extra = TaggedJSONField(null=True)
    dried = IsoDatetimeField(null=True)
    coats = fields.IntField(null=True, validators=[MinValueValidator(1)])
    label = ShoutField(max_length=10, null=True)


__all__ = ["Colour", "ColourField", "IsoDatetimeField", "Paint", "TaggedJSONField"]
