"""Fields holding one plain value each."""

from __future__ import annotations

import datetime as dt
import enum
import json
import uuid
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

from yara_orm.fields.base import NO_DEFAULT, Field


class IntField(Field):
    db_kind: ClassVar[str] = "int"
    python_types: ClassVar[tuple[type, ...]] = (int,)
    bounds: ClassVar[tuple[int, int]] = (-(2**31), 2**31 - 1)

    def __init__(self, *, pk: bool = False, primary_key: bool | None = None, **kwargs: Any):
        is_pk = bool(pk or primary_key)
        # An integer primary key without a default is filled in by the database.
        kwargs.setdefault("generated", is_pk and kwargs.get("default", NO_DEFAULT) is NO_DEFAULT)
        super().__init__(pk=is_pk, **kwargs)

    def coerce(self, value: Any) -> Any:
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                raise self.fail(value, "is not an integer") from None
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise self.fail(value, "is not an integer")

    def check(self, value: Any) -> Any:
        if isinstance(value, bool):
            raise self.fail(value, "is a bool, not an integer")
        low, high = self.bounds
        if not low <= value <= high:
            raise self.fail(value, f"is out of range [{low}, {high}]")
        return value


class BigIntField(IntField):
    db_kind: ClassVar[str] = "bigint"
    bounds: ClassVar[tuple[int, int]] = (-(2**63), 2**63 - 1)


class SmallIntField(IntField):
    db_kind: ClassVar[str] = "smallint"
    bounds: ClassVar[tuple[int, int]] = (-(2**15), 2**15 - 1)


class FloatField(Field):
    db_kind: ClassVar[str] = "float"
    python_types: ClassVar[tuple[type, ...]] = (float,)

    def coerce(self, value: Any) -> Any:
        if isinstance(value, int | Decimal) and not isinstance(value, bool):
            return float(value)
        raise self.fail(value, "is not a number")


class DecimalField(Field):
    db_kind: ClassVar[str] = "decimal"
    python_types: ClassVar[tuple[type, ...]] = (Decimal,)

    def __init__(self, max_digits: int = 18, decimal_places: int = 2, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if decimal_places > max_digits:
            raise ValueError("decimal_places cannot exceed max_digits")
        self.max_digits = max_digits
        self.decimal_places = decimal_places
        self._quantum = Decimal(1).scaleb(-decimal_places)

    def type_arguments(self) -> dict[str, Any]:
        return {"max_digits": self.max_digits, "decimal_places": self.decimal_places}

    def coerce(self, value: Any) -> Any:
        if isinstance(value, bool):
            raise self.fail(value, "is not a decimal number")
        try:
            return Decimal(str(value)) if isinstance(value, float) else Decimal(value)
        except (InvalidOperation, TypeError, ValueError):
            raise self.fail(value, "is not a decimal number") from None

    def check(self, value: Any) -> Any:
        if not value.is_finite():
            raise self.fail(value, "is not a finite number")
        too_long = self.fail(
            value,
            f"has more than {self.max_digits} digits (max_digits={self.max_digits}, "
            f"decimal_places={self.decimal_places})",
        )
        try:
            quantized = value.quantize(self._quantum)
        except InvalidOperation:  # more digits than the decimal context can even hold
            raise too_long from None
        if len(quantized.as_tuple().digits) > self.max_digits:
            raise too_long
        return quantized


class CharField(Field):
    db_kind: ClassVar[str] = "char"
    python_types: ClassVar[tuple[type, ...]] = (str,)

    def __init__(self, max_length: int = 255, **kwargs: Any) -> None:
        if max_length < 1:
            raise ValueError("max_length must be at least 1")
        super().__init__(**kwargs)
        self.max_length = max_length

    def type_arguments(self) -> dict[str, Any]:
        return {"max_length": self.max_length}

    def coerce(self, value: Any) -> Any:
        raise self.fail(value, "is not a string")

    def check(self, value: Any) -> Any:
        if len(value) > self.max_length:
            raise self.fail(value, f"is longer than max_length={self.max_length}")
        return value


class TextField(Field):
    db_kind: ClassVar[str] = "text"
    python_types: ClassVar[tuple[type, ...]] = (str,)

    def coerce(self, value: Any) -> Any:
        raise self.fail(value, "is not a string")


class BooleanField(Field):
    db_kind: ClassVar[str] = "bool"
    python_types: ClassVar[tuple[type, ...]] = (bool,)

    def coerce(self, value: Any) -> Any:
        if value in (0, 1) and isinstance(value, int):
            return bool(value)
        raise self.fail(value, "is not a bool")


class BinaryField(Field):
    db_kind: ClassVar[str] = "binary"
    python_types: ClassVar[tuple[type, ...]] = (bytes,)

    def coerce(self, value: Any) -> Any:
        if isinstance(value, bytearray | memoryview):
            return bytes(value)
        raise self.fail(value, "is not bytes")


def _parse_iso(field: Field, value: Any, parse: Any) -> Any:
    if isinstance(value, str):
        try:
            return parse(value)
        except ValueError:
            pass
    raise field.fail(value, f"is not a valid {field.db_kind}")


class DatetimeField(Field):
    """Aware datetimes, stored in UTC; a naive value is taken to be UTC."""

    db_kind: ClassVar[str] = "datetime"
    python_types: ClassVar[tuple[type, ...]] = (dt.datetime,)

    def __init__(self, auto_now: bool = False, auto_now_add: bool = False, **kwargs: Any):
        if auto_now or auto_now_add:
            kwargs.setdefault("default", lambda: dt.datetime.now(dt.UTC))
        super().__init__(**kwargs)
        self.auto_now = auto_now
        self.auto_now_add = auto_now_add

    def coerce(self, value: Any) -> Any:
        return _parse_iso(self, value, dt.datetime.fromisoformat)

    def check(self, value: Any) -> Any:
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value


class DateField(Field):
    db_kind: ClassVar[str] = "date"
    python_types: ClassVar[tuple[type, ...]] = (dt.date,)

    def coerce(self, value: Any) -> Any:
        return _parse_iso(self, value, dt.date.fromisoformat)

    def check(self, value: Any) -> Any:
        if isinstance(value, dt.datetime):
            raise self.fail(value, "is a datetime, not a date")
        return value


class TimeField(Field):
    db_kind: ClassVar[str] = "time"
    python_types: ClassVar[tuple[type, ...]] = (dt.time,)

    def coerce(self, value: Any) -> Any:
        return _parse_iso(self, value, dt.time.fromisoformat)


class TimeDeltaField(Field):
    db_kind: ClassVar[str] = "timedelta"
    python_types: ClassVar[tuple[type, ...]] = (dt.timedelta,)

    def coerce(self, value: Any) -> Any:
        raise self.fail(value, "is not a timedelta")


class UUIDField(Field):
    db_kind: ClassVar[str] = "uuid"
    python_types: ClassVar[tuple[type, ...]] = (uuid.UUID,)

    def __init__(self, **kwargs: Any) -> None:
        if kwargs.get("pk") or kwargs.get("primary_key"):
            kwargs.setdefault("default", uuid.uuid4)
        super().__init__(**kwargs)

    def coerce(self, value: Any) -> Any:
        try:
            return uuid.UUID(str(value))
        except ValueError:
            raise self.fail(value, "is not a UUID") from None


class JSONField(Field):
    """Any JSON-serialisable value: dicts, lists, strings, numbers, booleans."""

    db_kind: ClassVar[str] = "json"

    def check(self, value: Any) -> Any:
        try:
            json.dumps(value)
        except (TypeError, ValueError) as error:
            raise self.fail(value, f"is not JSON-serialisable ({error})") from None
        return value

    def to_db(self, value: Any) -> Any:
        # Sent as JSON text so a str or a number means the same on every backend.
        return None if value is None else json.dumps(value)


class _EnumField(Field):
    enum_type: type[enum.Enum]

    def __init__(self, enum_type: type[enum.Enum], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.enum_type = enum_type
        self.from_db = self._from_db

    def coerce(self, value: Any) -> Any:
        try:
            return self.enum_type(value)
        except ValueError:
            valid = ", ".join(repr(member.value) for member in self.enum_type)
            raise self.fail(value, f"is not one of {valid}") from None

    def validate(self, value: Any) -> Any:
        if value is not None and not isinstance(value, self.enum_type):
            value = self.coerce(value)
        return super().validate(value)

    def to_db(self, value: Any) -> Any:
        return None if value is None else value.value

    def _from_db(self, value: Any) -> Any:
        return None if value is None else self.enum_type(value)


class IntEnumField(_EnumField):
    db_kind: ClassVar[str] = "smallint"
    python_types: ClassVar[tuple[type, ...]] = (enum.Enum,)


class CharEnumField(_EnumField):
    db_kind: ClassVar[str] = "char"
    python_types: ClassVar[tuple[type, ...]] = (enum.Enum,)

    def __init__(self, enum_type: type[enum.Enum], max_length: int = 0, **kwargs: Any) -> None:
        super().__init__(enum_type, **kwargs)
        self.max_length = max_length or max(len(str(m.value)) for m in enum_type)

    def type_arguments(self) -> dict[str, Any]:
        return {"max_length": self.max_length}
