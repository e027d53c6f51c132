"""Statement methods: fetch, execute, batches, scripts, and their statistics."""

from __future__ import annotations

import pytest

from yara_orm import Engine, IntegrityError, ProgrammingError, QueryStats

from .conftest import placeholders


async def make_items(engine: Engine) -> None:
    await engine.execute_script(
        "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, qty INTEGER)"
    )


async def test_execute_returns_affected_rows(engine: Engine, backend: str) -> None:
    await make_items(engine)
    insert = f"INSERT INTO items (id, name, qty) VALUES ({placeholders(backend, 3)})"
    assert await engine.execute(insert, [1, "a", 1]) == 1
    assert await engine.execute(insert, (2, "b", 2)) == 1
    assert await engine.execute("UPDATE items SET qty = qty + 1") == 2
    assert await engine.execute("UPDATE items SET qty = 0 WHERE id = 99") == 0
    assert await engine.execute("CREATE TABLE other (x INTEGER)") == 0
    assert await engine.execute("DELETE FROM items") == 2


async def test_fetch_with_columns_and_returning(engine: Engine, backend: str) -> None:
    await make_items(engine)
    insert = (
        f"INSERT INTO items (id, name, qty) VALUES ({placeholders(backend, 3)}) RETURNING id, name"
    )
    assert await engine.fetch_rows(insert, [7, "seven", None]) == [(7, "seven")]
    names, rows = await engine.fetch_rows("SELECT id, name, qty FROM items", with_columns=True)
    assert names == ("id", "name", "qty")
    assert rows == [(7, "seven", None)]
    names, rows = await engine.fetch_rows(
        "SELECT id AS ident FROM items WHERE id < 0", with_columns=True
    )
    assert names == ("ident",) and rows == []


async def test_execute_many_is_all_or_nothing(engine: Engine, backend: str) -> None:
    await make_items(engine)
    insert = f"INSERT INTO items (id, name, qty) VALUES ({placeholders(backend, 3)})"
    assert await engine.execute_many(insert, [[i, f"n{i}", i] for i in range(100)]) == 100
    with pytest.raises(IntegrityError):
        await engine.execute_many(insert, [[200, "fresh", 1], [201, "n5", 1]])
    rows = await engine.fetch_rows("SELECT count(*) FROM items")
    assert rows == [(100,)], "the failed batch left nothing behind"


async def test_execute_script_runs_every_statement(engine: Engine) -> None:
    await engine.execute_script(
        "CREATE TABLE a (x INTEGER); CREATE TABLE b (y INTEGER); INSERT INTO a VALUES (1);"
    )
    assert await engine.fetch_rows("SELECT x FROM a") == [(1,)]
    assert await engine.fetch_rows("SELECT y FROM b") == []


async def test_wrong_parameter_count_is_a_programming_error(engine: Engine, backend: str) -> None:
    with pytest.raises(ProgrammingError, match="expects 2 parameters, 1 given") as info:
        await engine.fetch_rows(f"SELECT {placeholders(backend, 2)}", [1])
    assert info.value.sqlstate == "07001"


async def test_parameters_must_be_a_sequence(engine: Engine, backend: str) -> None:
    from yara_orm import InterfaceError

    with pytest.raises(InterfaceError, match="list or tuple"):
        await engine.fetch_rows(f"SELECT {placeholders(backend, 1)}", {"a": 1})


async def test_stats_for_every_statement_kind(engine: Engine, backend: str) -> None:
    await make_items(engine)
    insert = f"INSERT INTO items (id, name, qty) VALUES ({placeholders(backend, 3)})"
    calls = [
        lambda: engine.execute(insert, [1, "a", 1], with_stats=True),
        lambda: engine.execute_many(insert, [[2, "b", 2], [3, "c", 3]], with_stats=True),
        lambda: engine.fetch_rows("SELECT * FROM items", with_stats=True),
        lambda: engine.execute_script("SELECT 1", with_stats=True),
    ]
    expected_rows = [1, 2, 3, 0]
    for call, rows in zip(calls, expected_rows, strict=True):
        _, stats = await call()
        assert isinstance(stats, QueryStats)
        assert stats.rows == rows
        assert stats.total > 0
        assert min(stats.io, stats.gil_held, stats.gil_wait) >= 0
        assert stats.gil_held + stats.io <= stats.total + 1e-6, stats


async def test_gil_held_time_grows_with_rows(engine: Engine, backend: str) -> None:
    if backend == "postgres":
        sql = "SELECT g, g::text, g * 1.5::float8 FROM generate_series(1, $1) AS g"
    else:
        sql = (
            "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < ?) "
            "SELECT n, CAST(n AS TEXT), n * 1.5 FROM g"
        )

    async def held(rows: int) -> float:
        # The median of a few runs: one slow run on a shared machine decides nothing.
        samples = []
        for _ in range(5):
            result, stats = await engine.fetch_rows(sql, [rows], with_stats=True)
            assert len(result) == rows == stats.rows
            samples.append(stats.gil_held)
        return sorted(samples)[2]

    small, large = await held(10), await held(50_000)
    assert large > 20 * small, (small, large)
