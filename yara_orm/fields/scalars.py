"""Fields holding one plain value each."""

from __future__ import annotations

import copy
import datetime as dt
import enum
import json
import uuid
import warnings
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar, TypeVar

from yara_orm import timezone
from yara_orm.exceptions import ConfigurationError
from yara_orm.fields.base import NO_DEFAULT, Field, native_reader, user_stacklevel


class IntField(Field[Any]):
    db_kind: ClassVar[str] = "int"
    python_types: ClassVar[tuple[type, ...]] = (int,)
    bounds: ClassVar[tuple[int, int]] = (-(2**31), 2**31 - 1)

    def __init__(self, primary_key: bool | None = None, **kwargs: Any):
        is_pk = bool(primary_key if primary_key is not None else kwargs.get("pk"))
        # An integer primary key without a default is filled in by the database.
        no_default = kwargs.get("default", NO_DEFAULT) in (NO_DEFAULT, None)
        kwargs.setdefault("generated", is_pk and no_default)
        super().__init__(primary_key=primary_key, **kwargs)

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

    def init_fast_test(self) -> str | None:
        low, high = self.bounds
        return f"type(v) is int and {low} <= v <= {high}" if self.validates_as(IntField) else None


class BigIntField(IntField):
    db_kind: ClassVar[str] = "bigint"
    bounds: ClassVar[tuple[int, int]] = (-(2**63), 2**63 - 1)


class SmallIntField(IntField):
    db_kind: ClassVar[str] = "smallint"
    bounds: ClassVar[tuple[int, int]] = (-(2**15), 2**15 - 1)


class FloatField(Field[Any]):
    db_kind: ClassVar[str] = "float"
    python_types: ClassVar[tuple[type, ...]] = (float,)

    def init_fast_test(self) -> str | None:
        return "type(v) is float" if self.validates_as(FloatField) else None

    def coerce(self, value: Any) -> Any:
        if isinstance(value, int | Decimal) and not isinstance(value, bool):
            try:
                return float(value)
            except OverflowError:
                raise self.fail(value, "is too large for a float") from None
        raise self.fail(value, "is not a number")


class DecimalField(Field[Any]):
    db_kind: ClassVar[str] = "decimal"
    python_types: ClassVar[tuple[type, ...]] = (Decimal,)

    def __init__(self, max_digits: int, decimal_places: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if int(max_digits) < 1:
            raise ConfigurationError("DecimalField: 'max_digits' must be >= 1")
        if int(decimal_places) < 0:
            raise ConfigurationError("DecimalField: 'decimal_places' must be >= 0")
        if decimal_places > max_digits:
            raise ConfigurationError("DecimalField: 'decimal_places' cannot exceed 'max_digits'")
        self.max_digits = max_digits
        self.decimal_places = decimal_places
        self._quantum = Decimal(1).scaleb(-decimal_places)

    def type_arguments(self) -> dict[str, Any]:
        return {"max_digits": self.max_digits, "decimal_places": self.decimal_places}

    @native_reader
    def to_python_value(self, value: Any) -> Any:
        """A stored value as this field's Decimal, at its scale (`"100"` -> `100.00`)."""
        if value is None:
            return None
        decimal = value if isinstance(value, Decimal) else self.coerce(value)
        return decimal.quantize(self._quantum)

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
        try:
            quantized = value.quantize(self._quantum)
        except InvalidOperation:  # more digits than the decimal context can even hold
            raise self._too_long(value) from None
        # Its digits are adjusted() + decimal_places + 1 (a zero's adjusted() is
        # -decimal_places): no digit tuple to build for every value written.
        if quantized.adjusted() >= self.max_digits - self.decimal_places:
            raise self._too_long(value)
        return quantized

    def _too_long(self, value: Any) -> Exception:
        return self.fail(
            value,
            f"has more than {self.max_digits} digits (max_digits={self.max_digits}, "
            f"decimal_places={self.decimal_places})",
        )


class CharField(Field[Any]):
    db_kind: ClassVar[str] = "char"
    python_types: ClassVar[tuple[type, ...]] = (str,)

    def __init__(self, max_length: int, **kwargs: Any) -> None:
        if max_length < 1:
            raise ConfigurationError("CharField: 'max_length' must be >= 1")
        super().__init__(**kwargs)
        self.max_length = max_length

    def type_arguments(self) -> dict[str, Any]:
        return {"max_length": self.max_length}

    def coerce(self, value: Any) -> Any:
        return _as_text(self, value)

    def check(self, value: Any) -> Any:
        if len(value) > self.max_length:
            raise self.fail(value, f"is longer than max_length={self.max_length}")
        return _no_nul(self, value)

    def init_fast_test(self) -> str | None:
        if not self.validates_as(CharField):
            return None
        return f"type(v) is str and len(v) <= {self.max_length} and '\\x00' not in v"


def _as_text(field: Field[Any], value: Any) -> str:
    """Numbers and UUIDs become their text, as Tortoise stores them (`17` -> "17"); anything
    else (bytes, bools, containers) is refused rather than guessed at."""
    if isinstance(value, int | float | Decimal | uuid.UUID) and not isinstance(value, bool):
        return str(value)
    raise field.fail(value, "is not a string")


def _no_nul(field: Field[Any], value: str) -> str:
    # PostgreSQL cannot store it in text; refused on both backends alike.
    if "\x00" in value:
        raise field.fail(value, "contains a NUL character, which text columns cannot hold")
    return value


class TextField(Field[Any]):
    db_kind: ClassVar[str] = "text"
    python_types: ClassVar[tuple[type, ...]] = (str,)
    unindexable: ClassVar[str | None] = ", consider CharField"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if kwargs.get("primary_key") or kwargs.get("pk"):
            warnings.warn(
                "TextField as a PrimaryKey is Deprecated, use CharField instead",
                DeprecationWarning,
                stacklevel=user_stacklevel(),
            )
        super().__init__(*args, **kwargs)

    def coerce(self, value: Any) -> Any:
        return _as_text(self, value)

    def check(self, value: Any) -> Any:
        return _no_nul(self, value)

    def init_fast_test(self) -> str | None:
        return "type(v) is str and '\\x00' not in v" if self.validates_as(TextField) else None


class BooleanField(Field[Any]):
    db_kind: ClassVar[str] = "bool"
    python_types: ClassVar[tuple[type, ...]] = (bool,)

    def init_fast_test(self) -> str | None:
        return "type(v) is bool" if self.validates_as(BooleanField) else None

    def coerce(self, value: Any) -> Any:
        if value in (0, 1) and isinstance(value, int):
            return bool(value)
        raise self.fail(value, "is not a bool")


class BinaryField(Field[Any]):
    db_kind: ClassVar[str] = "binary"
    python_types: ClassVar[tuple[type, ...]] = (bytes,)
    unindexable: ClassVar[str | None] = ""

    def coerce(self, value: Any) -> Any:
        if isinstance(value, bytearray | memoryview):
            return bytes(value)
        raise self.fail(value, "is not bytes")


def _parse_iso(field: Field[Any], value: Any, parse: Any) -> Any:
    if isinstance(value, str):
        try:
            return parse(value)
        except ValueError:
            pass
    raise field.fail(value, f"is not a valid {field.db_kind}")


class DatetimeField(Field[dt.datetime]):
    """Datetimes, aware by default (see `yara_orm.timezone`): a naive value is read as wall time
    in the configured time zone, values come back in that zone. With `use_tz=False` they are
    naive, in that zone."""

    db_kind: ClassVar[str] = "datetime"
    python_types: ClassVar[tuple[type, ...]] = (dt.datetime,)

    def __init__(self, auto_now: bool = False, auto_now_add: bool = False, **kwargs: Any):
        if auto_now and auto_now_add:
            raise ConfigurationError("You can choose only 'auto_now' or 'auto_now_add'")
        if auto_now or auto_now_add:
            kwargs.setdefault("default", timezone.now)
        super().__init__(**kwargs)
        self.auto_now = auto_now
        self.auto_now_add = auto_now_add
        self.from_db = self._from_db

    def coerce(self, value: Any) -> Any:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return dt.datetime.fromtimestamp(value, dt.UTC)
        return _parse_iso(self, value, dt.datetime.fromisoformat)

    def check(self, value: Any) -> Any:
        if timezone.get_use_tz():
            if value.tzinfo is None:
                return timezone.make_aware(value)
            return value.astimezone(timezone.get_default_timezone())
        if value.tzinfo is not None:
            return timezone.make_naive(value)
        return value

    def to_db(self, value: Any) -> Any:
        # Stored in UTC: a naive value (use_tz=False) is wall time in the configured zone.
        if value is not None and value.tzinfo is None:
            value = timezone.make_aware(value)
        return value

    def _from_db(self, value: Any) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        if timezone.get_use_tz():
            return value.astimezone(timezone.get_default_timezone())
        return timezone.make_naive(value)

    def utc_read_zone(self) -> dt.tzinfo | None:
        # Aware values in a UTC zone, read by this field's own reading (not an override).
        if getattr(self.from_db, "__func__", None) is not DatetimeField._from_db:
            return None
        if not timezone.get_use_tz():
            return None
        zone = timezone.get_default_timezone()
        return zone if zone is dt.UTC or getattr(zone, "key", None) == "UTC" else None

    @property
    def constraints(self) -> dict[str, Any]:
        return {"readOnly": True} if self.auto_now or self.auto_now_add else {}


class DateField(Field[Any]):
    db_kind: ClassVar[str] = "date"
    python_types: ClassVar[tuple[type, ...]] = (dt.date,)

    def coerce(self, value: Any) -> Any:
        return _parse_iso(self, value, dt.date.fromisoformat)

    def check(self, value: Any) -> Any:
        if isinstance(value, dt.datetime):
            raise self.fail(value, "is a datetime, not a date")
        return value


class TimeField(Field[Any]):
    """Times of day, handled as `DatetimeField` handles datetimes: a naive value is wall time
    in the configured zone, values are stored in UTC (so both backends compare and order them
    alike) and come back in the configured zone, aware with `use_tz` (the default) and naive
    without. A zone with daylight saving time converts at today's offset (a time of day has
    no date to choose one by)."""

    db_kind: ClassVar[str] = "time"
    python_types: ClassVar[tuple[type, ...]] = (dt.time,)

    def __init__(self, auto_now: bool = False, auto_now_add: bool = False, **kwargs: Any):
        if auto_now and auto_now_add:
            raise ConfigurationError("You can choose only 'auto_now' or 'auto_now_add'")
        if auto_now or auto_now_add:
            kwargs.setdefault("default", _time_now)
        super().__init__(**kwargs)
        self.auto_now = auto_now
        self.auto_now_add = auto_now_add
        self.from_db = self._from_db

    @property
    def constraints(self) -> dict[str, Any]:
        return {"readOnly": True} if self.auto_now or self.auto_now_add else {}

    def coerce(self, value: Any) -> Any:
        return _parse_iso(self, value, dt.time.fromisoformat)

    def check(self, value: Any) -> Any:
        return self._in_configured_zone(value)

    def to_db(self, value: Any) -> Any:
        return None if value is None else _convert_time(value, dt.UTC, _fixed_zone_now())

    def _from_db(self, value: Any) -> Any:
        if value is None:
            return None
        if value.utcoffset() is None:  # written by hand, or before times were stored in UTC
            value = value.replace(tzinfo=dt.UTC)
        return self._in_configured_zone(value)

    @staticmethod
    def _in_configured_zone(value: dt.time) -> dt.time:
        zone = _fixed_zone_now()
        converted = _convert_time(value, zone, zone)
        return converted if timezone.get_use_tz() else converted.replace(tzinfo=None)


def _time_now() -> dt.time:
    now = timezone.now()
    return now.timetz() if now.tzinfo is not None else now.time()


def _fixed_zone_now() -> dt.tzinfo:
    """The configured zone as a fixed offset (today's), which a time of day can carry."""
    zone = timezone.get_default_timezone()
    if zone is dt.UTC or getattr(zone, "key", None) == "UTC":  # the default: no clock to read
        return dt.UTC
    offset = dt.datetime.now(zone).utcoffset()
    return dt.UTC if not offset else dt.timezone(offset)


def _convert_time(value: dt.time, zone: dt.tzinfo, local: dt.tzinfo) -> dt.time:
    """`value` (naive: wall time in `local`, the configured zone) as the same instant in
    `zone`; the time of day wraps around midnight."""
    if value.utcoffset() is None:
        value = value.replace(tzinfo=local)
    moment = dt.datetime.combine(dt.date(2000, 1, 3), value)
    return moment.astimezone(zone).timetz()


class TimeDeltaField(Field[Any]):
    db_kind: ClassVar[str] = "timedelta"
    python_types: ClassVar[tuple[type, ...]] = (dt.timedelta,)

    def coerce(self, value: Any) -> Any:
        raise self.fail(value, "is not a timedelta")


class UUIDField(Field[Any]):
    db_kind: ClassVar[str] = "uuid"
    python_types: ClassVar[tuple[type, ...]] = (uuid.UUID,)

    def init_fast_test(self) -> str | None:
        return "type(v) is UUID" if self.validates_as(UUIDField) else None

    def __init__(self, **kwargs: Any) -> None:
        if (kwargs.get("pk") or kwargs.get("primary_key")) and kwargs.get("default") is None:
            kwargs["default"] = uuid.uuid4
        super().__init__(**kwargs)

    def coerce(self, value: Any) -> Any:
        try:
            return uuid.UUID(str(value))
        except ValueError:
            raise self.fail(value, "is not a UUID") from None


JSON_VALUE = TypeVar("JSON_VALUE")


class JSONField(Field[JSON_VALUE]):
    """Any JSON-serialisable value: dicts, lists, strings, numbers, booleans; or a pydantic
    model given as `field_type=`. `encoder=` (value to JSON text) and `decoder=` (JSON text to
    value) replace the json module's."""

    db_kind: ClassVar[str] = "json"
    unindexable: ClassVar[str | None] = ""

    def __init__(
        self,
        encoder: Callable[[Any], str] | None = None,
        decoder: Callable[[str], Any] | None = None,
        field_type: type | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.encoder = encoder or _json_dumps
        self.decoder = decoder
        self.field_type = field_type
        if decoder is not None or _is_pydantic(field_type):
            self.from_db = self._from_db

    def default_value(self) -> Any:
        # A dict or list default is copied, so instances never share one.
        default = super().default_value()
        return copy.deepcopy(default) if isinstance(default, dict | list) else default

    def coerce(self, value: Any) -> Any:
        # As in Tortoise, text is JSON text; text that is not JSON is kept as a string.
        if isinstance(value, str | bytes):
            text = value if isinstance(value, str) else value.decode()
            try:
                return self._decode(text)
            except ValueError:
                return text
        return value

    def validate(self, value: Any, run_validators: bool = True) -> Any:
        if isinstance(value, str | bytes):
            value = self.coerce(value)
        return super().validate(value, run_validators)

    def check(self, value: Any) -> Any:
        try:
            self.encoder(value)
        except (TypeError, ValueError) as error:
            raise self.fail(value, f"is not JSON-serialisable ({error})") from None
        return value

    def to_db(self, value: Any) -> Any:
        # Sent as JSON text so a str or a number means the same on every backend.
        return None if value is None else self.encoder(value)

    def _decode(self, text: str) -> Any:
        value = self.decoder(text) if self.decoder is not None else json.loads(text)
        kind = self.field_type
        if kind is not None and _is_pydantic(kind) and not isinstance(value, kind):
            value = kind.model_validate(value)  # type: ignore[attr-defined]
        return value

    def _from_db(self, value: Any) -> Any:
        if value is None:
            return None
        if self.decoder is not None:
            # The engine decodes JSON itself; a custom decoder reads the text.
            return self._decode(json.dumps(value))
        return self.field_type.model_validate(value)  # type: ignore[union-attr]


def _is_pydantic(kind: type | None) -> bool:
    return kind is not None and hasattr(kind, "model_validate")


def _json_dumps(value: Any) -> str:
    if hasattr(value, "model_dump_json"):
        return str(value.model_dump_json())
    # NaN and Infinity are not JSON: PostgreSQL refuses them, so both backends do.
    return json.dumps(value, allow_nan=False)


class _EnumField(Field[Any]):
    enum_type: type[enum.Enum]

    def __init__(self, enum_type: type[enum.Enum], **kwargs: Any) -> None:
        if not (isinstance(enum_type, type) and issubclass(enum_type, enum.Enum)):
            raise ConfigurationError(
                f"{type(self).__name__} needs an Enum class, not {enum_type!r}"
            )
        super().__init__(**kwargs)
        self.enum_type = enum_type
        self.from_db = self._from_db
        if self.description is None:  # the members, as Tortoise describes them
            self.description = "\n".join(f"{m.name}: {m.value}" for m in enum_type)

    def coerce(self, value: Any) -> Any:
        try:
            return self.enum_type(value)
        except ValueError:
            valid = ", ".join(repr(member.value) for member in self.enum_type)
            raise self.fail(value, f"is not one of {valid}") from None

    def validate(self, value: Any, run_validators: bool = True) -> Any:
        if value is not None and not isinstance(value, self.enum_type):
            value = self.coerce(value)
        return super().validate(value, run_validators)

    def to_db(self, value: Any) -> Any:
        return None if value is None else value.value

    def _from_db(self, value: Any) -> Any:
        return None if value is None else self.enum_type(value)


class IntEnumField(_EnumField):
    db_kind: ClassVar[str] = "smallint"
    python_types: ClassVar[tuple[type, ...]] = (enum.Enum,)

    def __init__(self, enum_type: type[enum.Enum], **kwargs: Any) -> None:
        super().__init__(enum_type, **kwargs)
        values = [member.value for member in enum_type]
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            raise ConfigurationError("IntEnumField only supports integer enums!")
        low = 1 if self.generated else -32768
        if not all(low <= v <= 32767 for v in values):  # a smallint column
            raise ConfigurationError(f"The valid range of IntEnumField's values is {low}..32767!")


class CharEnumField(_EnumField):
    db_kind: ClassVar[str] = "char"
    python_types: ClassVar[tuple[type, ...]] = (enum.Enum,)

    def __init__(self, enum_type: type[enum.Enum], max_length: int = 0, **kwargs: Any) -> None:
        super().__init__(enum_type, **kwargs)
        self.max_length = max_length or max(len(str(m.value)) for m in enum_type)

    def type_arguments(self) -> dict[str, Any]:
        return {"max_length": self.max_length}
