"""The isolation mode the test toolkit builds on: nothing done inside survives leaving it."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from yara_orm import Engine, IntegrityError, InterfaceError, connect

from .conftest import placeholders


async def ids(engine: Engine) -> list[int]:
    return [row[0] for row in await engine.fetch_rows("SELECT id FROM t ORDER BY id")]


def insert_sql(backend: str) -> str:
    return f"INSERT INTO t (id) VALUES ({placeholders(backend, 1)})"


@pytest.fixture
async def table(engine: Engine, backend: str) -> None:
    await engine.execute_script("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    await engine.execute(insert_sql(backend), [1])


async def test_nothing_survives_leaving(engine: Engine, backend: str, table: None) -> None:
    assert await engine.enter_isolation() == 1
    assert engine.isolation_depth == 1
    await engine.execute(insert_sql(backend), [2])
    await engine.execute_script("CREATE TABLE made_inside (x INTEGER)")
    tx = await engine.begin()
    assert tx.is_savepoint
    await tx.execute(insert_sql(backend), [3])
    await tx.commit()  # a commit inside isolation only releases a savepoint
    assert await ids(engine) == [1, 2, 3]
    assert await engine.leave_isolation() == 0
    assert await ids(engine) == [1]
    with pytest.raises(Exception, match="made_inside"):
        await engine.fetch_rows("SELECT * FROM made_inside")


async def test_failed_inner_transaction_rolls_back_alone(
    engine: Engine, backend: str, table: None
) -> None:
    await engine.enter_isolation()
    await engine.execute(insert_sql(backend), [2])
    tx = await engine.begin()
    await tx.execute(insert_sql(backend), [3])
    await tx.rollback()
    nested_ok = await engine.begin()
    await nested_ok.execute(insert_sql(backend), [4])
    await nested_ok.commit()
    assert await ids(engine) == [1, 2, 4]
    await engine.leave_isolation()
    assert await ids(engine) == [1]


async def test_a_failing_statement_does_not_poison_the_isolation(
    engine: Engine, backend: str, table: None
) -> None:
    await engine.enter_isolation()
    await engine.execute(insert_sql(backend), [2])
    with pytest.raises(IntegrityError):
        await engine.execute(insert_sql(backend), [1])
    # As in autocommit mode, the failure undid only itself.
    await engine.execute(insert_sql(backend), [3])
    assert await ids(engine) == [1, 2, 3]
    await engine.leave_isolation()
    assert await ids(engine) == [1]


async def test_nested_levels_roll_back_one_at_a_time(
    engine: Engine, backend: str, table: None
) -> None:
    await engine.enter_isolation()
    await engine.execute(insert_sql(backend), [10])  # "seed" data
    assert await engine.enter_isolation() == 2
    await engine.execute(insert_sql(backend), [20])
    tx = await engine.begin()
    await tx.execute(insert_sql(backend), [30])
    assert await engine.leave_isolation() == 1
    assert await ids(engine) == [1, 10]
    with pytest.raises(InterfaceError, match="isolation level"):
        await tx.commit()
    assert await engine.enter_isolation() == 2
    await engine.execute(insert_sql(backend), [40])
    assert await engine.leave_isolation() == 1
    assert await ids(engine) == [1, 10]
    assert await engine.leave_isolation() == 0
    assert await ids(engine) == [1]


async def test_every_task_and_thread_uses_the_isolated_connection(
    engine: Engine, backend: str, table: None
) -> None:
    await engine.enter_isolation()
    await asyncio.gather(*(engine.execute(insert_sql(backend), [i]) for i in range(100, 120)))

    async def insert_500() -> None:
        await engine.execute(insert_sql(backend), [500])

    def from_another_loop() -> None:
        asyncio.run(insert_500())

    thread = threading.Thread(target=from_another_loop)
    thread.start()
    await asyncio.to_thread(thread.join)
    assert len(await ids(engine)) == 22
    await engine.leave_isolation()
    assert await ids(engine) == [1]


async def test_leaving_when_not_isolated_is_an_error(engine: Engine) -> None:
    with pytest.raises(InterfaceError, match="not in isolation mode"):
        await engine.leave_isolation()


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgres"])
async def test_isolation_is_invisible_to_other_connections(
    engine: Engine, pg_url: str, table: None
) -> None:
    await engine.enter_isolation()
    await engine.execute("INSERT INTO t (id) VALUES (2)")
    observer = await connect(pg_url)
    try:
        assert await observer.fetch_rows("SELECT id FROM t") == [(1,)]
    finally:
        await observer.close()
    await engine.leave_isolation()


async def test_closing_an_isolated_engine_rolls_back(
    url: str, backend: str, tmp_path: Path
) -> None:
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path}/closing.db"  # a file, so a second engine can look
    engine = await connect(url)
    await engine.execute_script("CREATE TABLE IF NOT EXISTS kept (x INTEGER)")
    await engine.execute("DELETE FROM kept")
    await engine.enter_isolation()
    await engine.execute("INSERT INTO kept (x) VALUES (1)")
    await engine.close()
    check = await connect(url)
    try:
        assert await check.fetch_rows("SELECT count(*) FROM kept") == [(0,)]
    finally:
        await check.close()


def start_rewind(engine: Engine, way: str) -> Callable[[], int]:
    """Rewind the innermost level the blocking way, or start it in the background; the
    function returned gives the depth once the rollback has run."""
    if way == "blocking":
        depth = engine.rewind_isolation_blocking()
        return lambda: depth
    return engine.start_rewind_isolation().wait


@pytest.mark.parametrize("way", ["blocking", "background"])
async def test_rewinding_a_level_drops_its_work_and_keeps_it_open(
    engine: Engine, backend: str, table: None, way: str
) -> None:
    assert engine.enter_isolation_blocking() == 1
    await engine.execute(insert_sql(backend), [2])
    left_open = await engine.begin()
    await left_open.execute(insert_sql(backend), [3])
    finish = start_rewind(engine, way)
    # In the background way sent before the rollback is known to have run: it lands after it.
    await engine.execute(insert_sql(backend), [4])  # still isolated: gone at the end
    assert finish() == 1
    assert engine.isolation_depth == 1
    assert await ids(engine) == [1, 4]
    with pytest.raises(InterfaceError, match="has been left"):
        await left_open.execute(insert_sql(backend), [9])
    assert engine.enter_isolation_blocking() == 2
    await engine.execute(insert_sql(backend), [5])
    inner = await engine.begin()
    await inner.execute(insert_sql(backend), [6])
    assert start_rewind(engine, way)() == 2
    assert await ids(engine) == [1, 4]
    with pytest.raises(InterfaceError, match="has been left"):
        await inner.commit()
    await engine.execute(insert_sql(backend), [7])
    finish = start_rewind(engine, way)  # twice in a row: a fresh savepoint each time
    assert engine.leave_isolation_blocking() == 1  # queued behind the rollback
    assert finish() == 2
    assert await ids(engine) == [1, 4]
    assert engine.leave_isolation_blocking() == 0
    assert await ids(engine) == [1]
    with pytest.raises(InterfaceError, match="not in isolation mode"):
        start_rewind(engine, way)


async def test_a_rewind_started_while_a_statement_runs_undoes_that_statement_too(
    engine: Engine, backend: str, table: None
) -> None:
    slow_insert = (
        "INSERT INTO t (id) SELECT 9 FROM pg_sleep(0.3)"
        if backend == "postgres"
        else "INSERT INTO t (id) SELECT 9 FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL "
        "SELECT x + 1 FROM c WHERE x < 2000000) SELECT count(*) FROM c)"
    )
    engine.enter_isolation_blocking()
    running = asyncio.ensure_future(engine.execute(slow_insert))
    await asyncio.sleep(0.05)  # the insert holds the connection now
    rewind = engine.start_rewind_isolation()
    assert rewind.wait() == 1
    await running
    assert await ids(engine) == [1]
    engine.leave_isolation_blocking()
