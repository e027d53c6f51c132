"""Every supported type survives a round trip through a table, on both backends."""

from __future__ import annotations

import datetime as dt
import gc
import itertools
import json
import math
import uuid
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from yara_orm import DataError, Engine, NotSupportedError, ParameterTypeError

from .conftest import placeholders

_tables = itertools.count()

# Column type per logical type and backend.
COLUMN_TYPES = {
    "bool": ("boolean", "BOOLEAN"),
    "int": ("bigint", "INTEGER"),
    "float": ("double precision", "REAL"),
    "decimal": ("numeric", "DECIMAL_TEXT"),
    "text": ("text", "TEXT"),
    "bytes": ("bytea", "BLOB"),
    "uuid": ("uuid", "UUID"),
    "date": ("date", "DATE"),
    "time": ("time", "TIME"),
    "timetz": ("timetz", "TIME"),
    "naive": ("timestamp", "TIMESTAMP"),
    "aware": ("timestamptz", "TIMESTAMP"),
    "interval": ("interval", "INTERVAL"),
    "json": ("jsonb", "JSON"),
}


async def round_trip(engine: Engine, backend: str, kind: str, value: Any) -> Any:
    column = COLUMN_TYPES[kind][0 if backend == "postgres" else 1]
    table = f"rt_{next(_tables)}"
    await engine.execute_script(f"CREATE TABLE {table} (v {column})")
    await engine.execute(f"INSERT INTO {table} (v) VALUES ({placeholders(backend, 1)})", [value])
    rows = await engine.fetch_rows(f"SELECT v FROM {table}")
    assert len(rows) == 1
    return rows[0][0]


UTC = dt.UTC
PLUS_5_30 = dt.timezone(dt.timedelta(hours=5, minutes=30))

EDGE_CASES = [
    ("bool", True),
    ("bool", False),
    ("int", 0),
    ("int", 2**63 - 1),
    ("int", -(2**63)),
    ("float", 0.1),
    ("float", -1.5e300),
    ("float", math.inf),
    ("float", -math.inf),
    ("decimal", Decimal("0")),
    ("decimal", Decimal("-12.50")),
    ("decimal", Decimal("123456789012345678901234567890.123456789012345678901234567890")),
    ("decimal", Decimal("1E+5")),
    ("decimal", Decimal("-7.25E-12")),
    ("decimal", Decimal("NaN")),
    ("text", ""),
    ("text", "héllo wörld ✓ 日本語 🚀"),
    ("text", "x" * 100_000),
    ("bytes", b""),
    ("bytes", b"\x00\x01\xff nul \x00 inside"),
    ("uuid", uuid.UUID("12345678-1234-5678-1234-567812345678")),
    ("uuid", uuid.UUID(int=2**128 - 1)),
    ("date", dt.date(2024, 2, 29)),
    ("date", dt.date(1, 1, 1)),
    ("date", dt.date(9999, 12, 31)),
    ("time", dt.time(0, 0)),
    ("time", dt.time(23, 59, 59, 999_999)),
    ("timetz", dt.time(10, 30, tzinfo=PLUS_5_30)),
    ("naive", dt.datetime(2024, 1, 2, 3, 4, 5, 6)),
    ("naive", dt.datetime(1, 1, 1)),
    ("naive", dt.datetime(9999, 12, 31, 23, 59, 59, 999_999)),
    ("aware", dt.datetime(2024, 6, 1, 12, 0, tzinfo=UTC)),
    ("aware", dt.datetime(2024, 6, 1, 12, 0, 0, 5, tzinfo=PLUS_5_30)),
    ("interval", dt.timedelta(0)),
    ("interval", dt.timedelta(days=-3, seconds=5, microseconds=7)),
    ("interval", dt.timedelta(days=9000, hours=5)),
    ("json", {"name": "Ada", "tags": ["a", "b"], "n": 1.5, "ok": True, "none": None}),
    ("json", [1, "two", {"three": 3}]),
    ("json", "just a string"),
    ("json", 42),
]


@pytest.mark.parametrize(("kind", "value"), EDGE_CASES, ids=lambda v: str(v)[:30])
async def test_round_trip(engine: Engine, backend: str, kind: str, value: Any) -> None:
    sent = value
    if kind == "json" and not isinstance(value, dict | list):
        # A str bound to a JSON column is JSON text; dicts and lists the engine serialises.
        sent = json.dumps(value)
    back = await round_trip(engine, backend, kind, sent)
    if isinstance(value, Decimal) and value.is_nan():
        assert isinstance(back, Decimal) and back.is_nan()
        return
    assert back == value
    assert type(back) is type(value)
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        assert back.utcoffset() == dt.timedelta(0), "aware values come back in UTC"


async def test_uuids_read_are_left_out_of_the_cycle_collector(engine: Engine, backend: str) -> None:
    # A UUID cannot be part of a cycle; a large result has one per row for gc to walk.
    value = uuid.UUID("12345678-1234-5678-1234-567812345678")
    back = await round_trip(engine, backend, "uuid", value)
    assert back == value and type(back) is uuid.UUID and not gc.is_tracked(back)
    assert back.is_safe is uuid.SafeUUID.unknown and hash(back) == hash(value)
    with pytest.raises(TypeError):
        back.extra = 1  # type: ignore[attr-defined]  # no attribute could make a cycle


async def test_null_round_trips_for_every_type(engine: Engine, backend: str) -> None:
    for kind in COLUMN_TYPES:
        assert await round_trip(engine, backend, kind, None) is None


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgres"])
async def test_postgres_nan_and_arrays(engine: Engine) -> None:
    rows = await engine.fetch_rows(
        "SELECT $1::float8, $2::int[], $3::text[], $4::int[], $5::numeric[], ARRAY[[1,2],[3,4]]",
        [math.nan, [1, None, 3], ["a", "é"], [], [Decimal("1.5")]],
    )
    nan, ints, texts, empty, decimals, matrix = rows[0]
    assert math.isnan(nan)
    assert ints == [1, None, 3]
    assert texts == ["a", "é"]
    assert empty == []
    assert decimals == [Decimal("1.5")]
    assert matrix == [[1, 2], [3, 4]]


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgres"])
async def test_postgres_small_ints_are_range_checked(engine: Engine) -> None:
    assert await engine.fetch_rows("SELECT $1::int2, $2::int4", [-32768, 2**31 - 1]) == [
        (-32768, 2**31 - 1)
    ]
    # The right type, too large for the column: a DataError, as the server's own 22003.
    with pytest.raises(DataError) as info:
        await engine.fetch_rows("SELECT $1::int4", [2**31])
    assert info.value.sqlstate == "22003"
    assert "value 2147483648 is out of range for type int4 (parameter $1)" in str(info.value)


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgres"])
async def test_postgres_unsupported_type_is_named(engine: Engine) -> None:
    with pytest.raises(NotSupportedError) as info:
        await engine.fetch_rows("SELECT '127.0.0.1'::inet AS addr")
    assert "inet" in str(info.value) and "addr" in str(info.value)
    # The documented way out works.
    assert await engine.fetch_rows("SELECT '127.0.0.1'::inet::text") == [("127.0.0.1/32",)]


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgres"])
async def test_postgres_enum_and_domain_types(engine: Engine) -> None:
    await engine.execute_script(
        "CREATE TYPE mood AS ENUM ('sad', 'happy'); CREATE DOMAIN positive AS int CHECK (VALUE > 0)"
    )
    assert await engine.fetch_rows("SELECT $1::mood, $2::positive", ["happy", 5]) == [("happy", 5)]


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_sqlite_refuses_nan_instead_of_storing_null(engine: Engine, backend: str) -> None:
    with pytest.raises(ParameterTypeError, match="NaN"):
        await round_trip(engine, backend, "float", math.nan)


async def test_unbindable_parameter_names_position_and_type(engine: Engine, backend: str) -> None:
    with pytest.raises(ParameterTypeError) as info:
        await engine.fetch_rows(f"SELECT {placeholders(backend, 2)}", [1, object()])
    assert info.value.position == 2
    assert info.value.python_type == "object"
    assert "parameter 2" in str(info.value)
    assert isinstance(info.value, TypeError)


# Property tests: what goes in comes out, for the scalar types where the space is large.
PROPERTY_SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
safe_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"))


@PROPERTY_SETTINGS
@given(
    number=st.integers(min_value=-(2**63), max_value=2**63 - 1),
    real=st.floats(allow_nan=False),
    text=safe_text,
    blob=st.binary(),
)
async def test_scalar_properties(
    engine: Engine, backend: str, number: int, real: float, text: str, blob: bytes
) -> None:
    if backend == "postgres":
        sql = "SELECT $1::int8, $2::float8, $3::text, $4::bytea"
    else:
        sql = "SELECT ?, ?, ?, ?"
    assert await engine.fetch_rows(sql, [number, real, text, blob]) == [(number, real, text, blob)]


@PROPERTY_SETTINGS
@given(value=st.decimals(allow_nan=False, allow_infinity=False))
async def test_decimal_property(engine: Engine, backend: str, value: Decimal) -> None:
    assert await round_trip(engine, backend, "decimal", value) == value


@PROPERTY_SETTINGS
@given(
    naive=st.datetimes(),
    aware=st.datetimes(
        min_value=dt.datetime(2, 1, 1),
        max_value=dt.datetime(9998, 12, 31),
        timezones=st.sampled_from([UTC, PLUS_5_30, dt.timezone(dt.timedelta(hours=-11))]),
    ),
    day=st.dates(),
    delta=st.timedeltas(min_value=dt.timedelta(days=-(10**6)), max_value=dt.timedelta(days=10**6)),
)
async def test_temporal_properties(
    engine: Engine,
    backend: str,
    naive: dt.datetime,
    aware: dt.datetime,
    day: dt.date,
    delta: dt.timedelta,
) -> None:
    assert await round_trip(engine, backend, "naive", naive) == naive
    assert await round_trip(engine, backend, "aware", aware) == aware
    assert await round_trip(engine, backend, "date", day) == day
    assert await round_trip(engine, backend, "interval", delta) == delta
