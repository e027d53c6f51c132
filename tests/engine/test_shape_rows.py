"""`shape_rows`: result rows to instances or dicts in the engine, with each column's reader."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from yara_orm import Engine, InterfaceError
from yara_orm._engine import shape_rows

from .conftest import placeholders

UTC_ZONE = ZoneInfo("UTC")
AT = dt.datetime(2024, 3, 1, 12, 30, 5, 250, tzinfo=dt.UTC)


class Thing:
    """A plain class."""


class Counted:
    def __new__(cls) -> Counted:
        Counted.made_here = getattr(Counted, "made_here", 0) + 1
        return super().__new__(cls)


class Slotted:
    __slots__ = ("a",)


def test_rows_become_dicts_with_readers_applied() -> None:
    rows = [(1, "a", 10), (2, "b", None)]
    shaped = shape_rows(rows, ("id", "name", "n"), [(2, lambda v: ("read", v), None)])
    assert shaped == [
        {"id": 1, "name": "a", "n": ("read", 10)},
        {"id": 2, "name": "b", "n": ("read", None)},  # None is the converter's to read too
    ]


def test_rows_become_instances_with_state_and_hidden_columns_left_out() -> None:
    rows = [(1, "a", "hidden ordering value"), (2, "b", "x")]
    built = shape_rows(rows, ("id", "name"), [], Thing, {"_saved_in_db": True})
    assert [type(thing) for thing in built] == [Thing, Thing]
    assert [vars(thing) for thing in built] == [
        {"id": 1, "name": "a", "_saved_in_db": True},
        {"id": 2, "name": "b", "_saved_in_db": True},
    ]
    assert built[0].__dict__ is not built[1].__dict__


def test_instances_are_made_through_the_class_new() -> None:
    Counted.made_here = 0
    built = shape_rows([(1,), (2,)], ("id",), [], Counted)
    assert Counted.made_here == 2
    assert [thing.id for thing in built] == [1, 2]


def test_a_utc_datetime_takes_the_utc_zone_without_the_converter() -> None:
    calls: list[Any] = []

    def convert(value: Any) -> Any:
        calls.append(value)
        return value.astimezone(UTC_ZONE)

    offset = dt.datetime(2024, 3, 1, 14, 30, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    rows = [(AT,), (None,), (offset,), (AT.replace(tzinfo=None),)]
    shaped = shape_rows(rows, ("at",), [(0, lambda v: v and convert(v), UTC_ZONE)])
    first = shaped[0]["at"]
    assert first == AT and first.tzinfo is UTC_ZONE and first.fold == 0
    assert first == AT.astimezone(UTC_ZONE) and repr(first) == repr(AT.astimezone(UTC_ZONE))
    # Anything but a datetime in timezone.utc is the converter's.
    assert shaped[1]["at"] is None
    assert shaped[2]["at"].tzinfo is UTC_ZONE and shaped[2]["at"] == offset
    assert calls == [offset, AT.replace(tzinfo=None)]


def test_a_converter_error_reaches_the_caller() -> None:
    def refuse(value: Any) -> Any:
        raise LookupError(f"cannot read {value!r}")

    with pytest.raises(LookupError, match="cannot read 3"):
        shape_rows([(1, 3)], ("a", "b"), [(1, refuse, None)])


def test_bad_shapes_are_refused_with_a_clear_error() -> None:
    with pytest.raises(ValueError, match="a row of 1 values for 2 names"):
        shape_rows([(1,)], ("a", "b"), [])
    with pytest.raises(IndexError, match="reader for column 5 of a 2-column shape"):
        shape_rows([(1, 2)], ("a", "b"), [(5, str, None)])
    with pytest.raises(TypeError):
        shape_rows([[1, 2]], ("a", "b"), [])  # type: ignore[list-item]
    with pytest.raises(AttributeError):
        shape_rows([(1,)], ("b",), [], Slotted)  # not one of its slots


class Guarded:
    def __setattr__(self, name: str, value: Any) -> None:
        raise AssertionError("the row's values are the object's own, not assignments")


def test_attributes_are_set_as_object_setattr_sets_them() -> None:
    (built,) = shape_rows([(1, "a")], ("id", "name"), [], Guarded, {"_saved_in_db": True})
    assert (built.id, built.name, built._saved_in_db) == (1, "a", True)
    assert built.__dict__ == {"id": 1, "name": "a", "_saved_in_db": True}


# Built by the fetch itself, straight from the result, on both backends ---------------------


async def _table(engine: Engine, backend: str) -> None:
    stamp = "timestamptz" if backend == "postgres" else "TIMESTAMP"
    await engine.execute_script(f"CREATE TABLE shaped (id integer, name text, at {stamp})")
    marks = placeholders(backend, 3)
    for row in [(1, "a", AT), (2, "b", None), (3, "c", AT)]:
        await engine.execute(f"INSERT INTO shaped (id, name, at) VALUES ({marks})", list(row))


async def test_a_fetch_builds_instances_from_the_result(engine: Engine, backend: str) -> None:
    await _table(engine, backend)
    seen: list[Any] = []

    def convert(value: Any) -> Any:
        seen.append(value)
        return value

    shape = (("id", "name", "at"), [(2, convert, UTC_ZONE)], Thing, {"_saved_in_db": True})
    # The hidden last column (an ordering value) is not kept.
    sql = "SELECT id, name, at, id * 10 FROM shaped ORDER BY id"
    built = await engine.fetch_rows(sql, shape=shape)
    assert [type(thing) for thing in built] == [Thing] * 3
    assert [vars(thing) for thing in built] == [
        {"id": 1, "name": "a", "at": AT, "_saved_in_db": True},
        {"id": 2, "name": "b", "at": None, "_saved_in_db": True},
        {"id": 3, "name": "c", "at": AT, "_saved_in_db": True},
    ]
    assert built[0].at.tzinfo is UTC_ZONE and seen == [None]  # UTC swapped in, None converted
    dicts, stats = await engine.fetch_rows(
        "SELECT id, name FROM shaped ORDER BY id",
        with_stats=True,
        shape=(("id", "name"), [], None, None),
    )
    assert dicts == [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}, {"id": 3, "name": "c"}]
    assert stats.rows == 3


async def test_a_fetch_shape_that_does_not_fit_fails_cleanly(engine: Engine, backend: str) -> None:
    await _table(engine, backend)

    def refuse(value: Any) -> Any:
        raise LookupError(f"cannot read {value!r}")

    with pytest.raises(LookupError, match="cannot read 'a'"):
        await engine.fetch_rows(
            "SELECT id, name FROM shaped", shape=(("id", "name"), [(1, refuse, None)], Thing, None)
        )
    with pytest.raises(InterfaceError, match="rows of 2 columns cannot fill 3 names"):
        await engine.fetch_rows(
            "SELECT id, name FROM shaped", shape=(("id", "name", "at"), [], None, None)
        )
    with pytest.raises(IndexError, match="reader for column 4 of a 2-column shape"):
        await engine.fetch_rows(
            "SELECT id, name FROM shaped", shape=(("id", "name"), [(4, str, None)], None, None)
        )
    with pytest.raises(ValueError, match="expected tuple of length 4"):
        await engine.fetch_rows("SELECT id FROM shaped", shape=("not a shape",))  # type: ignore[arg-type]
    # The engine is still fine for the next statement.
    assert await engine.fetch_rows("SELECT count(*) FROM shaped") == [(3,)]
