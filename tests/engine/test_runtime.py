"""The two runtimes: the GIL is free during I/O, cancellation is clean, and an engine is
bound to no event loop."""

from __future__ import annotations

import asyncio
import gc
import threading
import time
from collections.abc import Awaitable
from typing import TypeVar

import pytest

from yara_orm import Engine, QueryCanceledError, connect

from .conftest import placeholders

T = TypeVar("T")


def slow_query(backend: str, seconds: float) -> str:
    if backend == "postgres":
        return f"SELECT pg_sleep({seconds})"
    # SQLite has no sleep: count far enough to take a while, on the SQLite thread.
    return (
        "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 3000000) "
        "SELECT max(n) FROM c"
    )


async def _ticks_and_spins_during(operation: Awaitable[T]) -> tuple[T, int, int]:
    """Await `operation` while an asyncio ticker and a Python thread both try to run: how
    often each got to. Neither can run while the awaited work holds the GIL."""
    ticks = 0
    thread_spins = 0
    stop = threading.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            await asyncio.sleep(0.005)

    def spinner() -> None:
        nonlocal thread_spins
        while not stop.is_set():
            thread_spins += 1
            sum(range(100))  # pure Python work: needs the GIL

    thread = threading.Thread(target=spinner)
    thread.start()
    tick_task = asyncio.create_task(ticker())
    try:
        result = await operation
    finally:
        stop.set()
        await tick_task
        thread.join()
    return result, ticks, thread_spins


async def test_gil_is_released_while_the_database_works(engine: Engine, backend: str) -> None:
    (_, stats), ticks, spins = await _ticks_and_spins_during(
        engine.fetch_rows(slow_query(backend, 0.5), with_stats=True)
    )
    # The baseline: the same two competitors over the same time with nothing else running.
    _, base_ticks, base_spins = await _ticks_and_spins_during(asyncio.sleep(stats.total))
    # Both kept running for the whole query, at a pace comparable to the baseline's.
    assert ticks >= 0.3 * base_ticks, (ticks, base_ticks)
    assert spins >= 0.2 * base_spins, (spins, base_spins)
    assert stats.io > 0.9 * stats.total - stats.gil_wait - stats.gil_held


async def test_cancelled_query_frees_its_connection(engine: Engine, backend: str) -> None:
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(engine.fetch_rows(slow_query(backend, 5)), timeout=0.1)
    # The server was asked to stop: the connection is back well before 5 s.
    for _ in range(200):
        status = engine.pool_status()
        if status["idle"] == status["size"]:
            break
        await asyncio.sleep(0.01)
    status = engine.pool_status()
    assert status["idle"] == status["size"], status
    assert time.monotonic() - started < 3
    assert await engine.fetch_rows("SELECT 1") == [(1,)]


async def test_cancelled_statement_inside_a_transaction(engine: Engine, backend: str) -> None:
    await engine.execute_script("CREATE TABLE t (x INTEGER)")
    tx = await engine.begin()
    await tx.execute("INSERT INTO t (x) VALUES (1)")
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(tx.fetch_rows(slow_query(backend, 5)), timeout=0.1)
    await tx.rollback()
    assert await engine.fetch_rows("SELECT count(*) FROM t") == [(0,)]
    status = engine.pool_status()
    assert status["idle"] == status["size"], status


async def test_cancelled_statement_in_isolation_leaves_it_usable(
    engine: Engine, backend: str
) -> None:
    await engine.execute_script("CREATE TABLE t (x INTEGER)")
    await engine.enter_isolation()
    await engine.execute("INSERT INTO t (x) VALUES (1)")
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(engine.fetch_rows(slow_query(backend, 5)), timeout=0.1)
    await engine.execute("INSERT INTO t (x) VALUES (2)")
    assert await engine.fetch_rows("SELECT x FROM t ORDER BY x") == [(1,), (2,)]
    await engine.leave_isolation()
    assert await engine.fetch_rows("SELECT count(*) FROM t") == [(0,)]


async def test_cancelling_the_awaitable_itself(engine: Engine, backend: str) -> None:
    # Cancelling the awaitable itself (not through wait_for) behaves the same.
    task = asyncio.ensure_future(engine.fetch_rows(slow_query(backend, 5)))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await engine.fetch_rows("SELECT 2") == [(2,)]


@pytest.mark.postgres
async def test_a_statement_the_server_cancels_raises_query_canceled(pg_url: str) -> None:
    engine = await connect(pg_url)
    try:
        tx = await engine.begin()
        await tx.execute("SET LOCAL statement_timeout = 50")
        with pytest.raises(QueryCanceledError) as raised:
            await tx.fetch_rows("SELECT pg_sleep(5)")
        assert raised.value.sqlstate == "57014"
        await tx.rollback()
    finally:
        await engine.close()


def test_engine_serves_a_later_event_loop(url: str, backend: str) -> None:
    async def first() -> Engine:
        eng = await connect(url)
        await eng.execute_script("CREATE TABLE IF NOT EXISTS loops (x INTEGER)")
        return eng

    engine = asyncio.run(first())

    async def second() -> list[tuple[int]]:
        await engine.execute(f"INSERT INTO loops (x) VALUES ({placeholders(backend, 1)})", [7])
        rows = await engine.fetch_rows("SELECT x FROM loops WHERE x = 7")
        tx = await engine.begin()
        await tx.rollback()
        await engine.close()
        return rows

    assert asyncio.run(second())[0] == (7,)


@pytest.mark.postgres
async def test_engine_dropped_without_close_releases_its_connections(pg_url: str) -> None:
    async def backends() -> int:
        probe = await connect(pg_url, max_size=1)
        try:
            rows = await probe.fetch_rows(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'dropped-engine'"
            )
            return int(rows[0][0])
        finally:
            await probe.close()

    url = pg_url + "?application_name=dropped-engine"
    engine = await connect(url, min_size=3)
    await engine.enter_isolation()
    await engine.execute_script("CREATE TABLE never_kept (x INTEGER)")
    assert await backends() == 3
    del engine
    gc.collect()
    for _ in range(200):
        if await backends() == 0:
            break
        await asyncio.sleep(0.02)
    assert await backends() == 0
    probe = await connect(pg_url)
    try:
        rows = await probe.fetch_rows("SELECT to_regclass('never_kept') IS NULL")
        assert rows == [(True,)]
    finally:
        await probe.close()


def test_engine_dropped_on_another_thread_without_a_loop(url: str) -> None:
    engine = asyncio.run(connect(url))
    holder = [engine]
    del engine
    thread = threading.Thread(target=holder.clear)
    thread.start()
    thread.join(timeout=5)
    assert not thread.is_alive()
    gc.collect()
