"""Transactions and savepoints on a pinned connection."""

from __future__ import annotations

import asyncio
import gc

import pytest

from yara_orm import ConfigurationError, Engine, IntegrityError, InterfaceError, InternalError

from .conftest import placeholders


async def setup_table(engine: Engine) -> None:
    await engine.execute_script("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")


async def count(engine: Engine) -> int:
    rows = await engine.fetch_rows("SELECT count(*) FROM t")
    return int(rows[0][0])


def insert_sql(backend: str) -> str:
    return f"INSERT INTO t (id, v) VALUES ({placeholders(backend, 2)})"


async def test_commit_keeps_and_rollback_discards(engine: Engine, backend: str) -> None:
    await setup_table(engine)
    tx = await engine.begin()
    await tx.execute(insert_sql(backend), [1, "kept"])
    assert await tx.fetch_rows("SELECT v FROM t") == [("kept",)]
    await tx.commit()
    assert tx.is_finished
    tx = await engine.begin()
    await tx.execute(insert_sql(backend), [2, "dropped"])
    await tx.rollback()
    assert await engine.fetch_rows("SELECT id FROM t") == [(1,)]


async def test_finished_transaction_refuses_work(engine: Engine) -> None:
    tx = await engine.begin()
    await tx.commit()
    with pytest.raises(InterfaceError, match="already finished"):
        await tx.fetch_rows("SELECT 1")
    with pytest.raises(InterfaceError, match="already finished"):
        await tx.commit()


async def test_named_savepoints(engine: Engine, backend: str) -> None:
    await setup_table(engine)
    tx = await engine.begin()
    await tx.execute(insert_sql(backend), [1, "before"])
    await tx.savepoint('odd "name"; DROP TABLE t')  # quoted, never executed as SQL
    await tx.execute(insert_sql(backend), [2, "after"])
    await tx.rollback_to('odd "name"; DROP TABLE t')
    await tx.savepoint("second")
    await tx.execute(insert_sql(backend), [3, "kept"])
    await tx.release("second")
    await tx.commit()
    assert await engine.fetch_rows("SELECT id FROM t ORDER BY id") == [(1,), (3,)]


async def test_isolation_levels(engine: Engine, backend: str) -> None:
    level = "repeatable read" if backend == "postgres" else "exclusive"
    tx = await engine.begin(isolation=level)
    assert await tx.fetch_rows("SELECT 1") == [(1,)]
    await tx.commit()
    with pytest.raises(ConfigurationError, match="unknown isolation level"):
        await engine.begin(isolation="chaotic")


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgres"])
async def test_commit_after_a_failed_statement_says_it_rolled_back(engine: Engine) -> None:
    await setup_table(engine)
    tx = await engine.begin()
    await tx.execute("INSERT INTO t (id, v) VALUES (1, 'x')")
    with pytest.raises(IntegrityError):
        await tx.execute("INSERT INTO t (id, v) VALUES (1, 'dup')")
    with pytest.raises(InternalError, match="rolled back, not committed"):
        await tx.commit()
    assert await count(engine) == 0


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgres"])
async def test_transactions_see_their_own_work_only(engine: Engine, pg_url: str) -> None:
    await setup_table(engine)
    tx = await engine.begin(isolation="read committed")
    await tx.execute("INSERT INTO t (id, v) VALUES (1, 'mine')")
    assert await count(engine) == 0, "uncommitted work is invisible elsewhere"
    await tx.commit()
    assert await count(engine) == 1


async def test_dropped_transaction_rolls_back_and_frees_its_connection(
    engine: Engine, backend: str
) -> None:
    await setup_table(engine)
    tx = await engine.begin()
    await tx.execute(insert_sql(backend), [1, "orphan"])
    del tx
    gc.collect()
    # The rollback runs in the background; the connection comes back to the pool.
    for _ in range(100):
        status = engine.pool_status()
        if status["idle"] == status["size"]:
            break
        await asyncio.sleep(0.01)
    assert await count(engine) == 0
    status = engine.pool_status()
    assert status["idle"] == status["size"], status


async def test_transaction_dropped_from_another_thread(engine: Engine, backend: str) -> None:
    await setup_table(engine)
    holder = [await engine.begin()]
    await holder[0].execute(insert_sql(backend), [1, "x"])
    await asyncio.to_thread(holder.clear)
    gc.collect()
    for _ in range(100):
        if await count(engine) == 0:
            break
        await asyncio.sleep(0.01)
    assert await count(engine) == 0
