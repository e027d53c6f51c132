"""How results reach Python: small ones on the event loop's own thread (queued, one wake-up
for a burst), large ones built in slices by a background thread; loops that cannot watch a
socket get theirs through `call_soon_threadsafe`. And the blocking isolation calls the test
toolkit makes from synchronous fixtures, without any event loop."""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest

from yara_orm import Engine, connect
from yara_orm.exceptions import ConfigurationError, InterfaceError

from .conftest import placeholders

# Above the engine's limit for building a result on the loop's thread (8,192 values).
T = TypeVar("T")

LARGE = 5_000


def _run(make: Callable[[], Awaitable[T]]) -> T:
    """Run one engine call on a fresh event loop (the call needs a running loop)."""

    async def call() -> T:
        return await make()

    return asyncio.run(call())


def _numbers(backend: str, count: int) -> str:
    if backend == "postgres":
        return f"SELECT n, n * 2 FROM generate_series(1, {count}) AS n"
    return (
        f"WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < {count}) "
        "SELECT n, n * 2 FROM c"
    )


def _echo(backend: str) -> str:
    return f"SELECT {placeholders(backend, 1)}" + ("::int" if backend == "postgres" else "")


async def test_a_burst_of_statements_gives_each_caller_its_own_result(
    engine: Engine, backend: str
) -> None:
    sql = _echo(backend)
    results = await asyncio.gather(*(engine.fetch_rows(sql, [i]) for i in range(300)))
    assert results == [[(i,)] for i in range(300)]


async def test_late_cancellations_never_reach_the_next_statement(
    engine: Engine, backend: str
) -> None:
    # A statement whose caller gives up as it finishes: the connection it used goes on to the
    # next statement, which must not be interrupted by the late cancellation.
    rnd = random.Random(7)
    work = _numbers(backend, 2_000)
    for _ in range(60):
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(engine.fetch_rows(work), timeout=rnd.uniform(0, 0.004))
        assert await engine.fetch_rows(_echo(backend), [5]) == [(5,)]
    # Every connection comes back (a PostgreSQL one once the server confirmed the cancel).
    for _ in range(300):
        status = engine.pool_status()
        if status["idle"] == status["size"]:
            break
        await asyncio.sleep(0.01)
    assert status["idle"] == status["size"], status


@pytest.fixture
def shared_url(backend: str, url: str, tmp_path: Path) -> str:
    """A database a second engine sees too (a file for SQLite)."""
    return f"sqlite:///{tmp_path / 'kept.db'}" if backend == "sqlite" else url


async def test_a_pooled_connection_is_never_left_inside_a_transaction(
    backend: str, shared_url: str
) -> None:
    engine = await connect(shared_url, max_size=1)  # one connection: any leak would show
    other = await connect(shared_url)
    insert = f"INSERT INTO kept (x) VALUES ({placeholders(backend, 1)})"
    try:
        await engine.execute_script("DROP TABLE IF EXISTS kept; CREATE TABLE kept (x INTEGER)")
        for begin in ("BEGIN", "  start transaction"):
            with pytest.raises(InterfaceError, match=r"engine\.begin\(\)"):
                await engine.execute(begin)
        with pytest.raises(InterfaceError, match="left a transaction open"):
            await engine.execute_script("BEGIN; INSERT INTO kept (x) VALUES (1)")
        await engine.execute(insert, [2])  # committed on its own, on the same connection
        await engine.execute_script("BEGIN; INSERT INTO kept (x) VALUES (3); COMMIT")
        assert await other.fetch_rows("SELECT x FROM kept ORDER BY x") == [(2,), (3,)]
        tx = await engine.begin()  # a transaction of the engine's own is the way
        await tx.execute(insert, [4])
        await tx.commit()
        assert await other.fetch_rows("SELECT count(*) FROM kept") == [(3,)]
        status = engine.pool_status()
        assert status["idle"] == status["size"], status
        await engine.enter_isolation()  # refused in a test's isolation as in production
        with pytest.raises(InterfaceError, match=r"engine\.begin\(\)"):
            await engine.execute("BEGIN")
        await engine.leave_isolation()
    finally:
        await other.close()
        await engine.close()


async def test_small_and_large_results_interleave(engine: Engine, backend: str) -> None:
    sql = _echo(backend)
    large = _numbers(backend, LARGE)
    results = await asyncio.gather(
        *(
            engine.fetch_rows(large if i % 5 == 0 else sql, [] if i % 5 == 0 else [i])
            for i in range(20)
        )
    )
    for i, rows in enumerate(results):
        if i % 5 == 0:
            assert len(rows) == LARGE and rows[-1] == (LARGE, 2 * LARGE)
        else:
            assert rows == [(i,)]


class _LoopWithoutReaders(asyncio.SelectorEventLoop):
    """A loop that cannot watch file descriptors (as Windows' proactor loop)."""

    def add_reader(self, *args: object) -> None:  # type: ignore[override]
        raise NotImplementedError


def test_a_loop_that_cannot_watch_sockets_still_gets_results(url: str, backend: str) -> None:
    async def main() -> tuple[list[tuple[int]], int, int]:
        engine = await connect(url)
        try:
            small = await engine.fetch_rows(_echo(backend), [7])
            large = await engine.fetch_rows(_numbers(backend, LARGE))
            failed = 0
            try:
                await engine.execute("SELECT * FROM no_such_table")
            except Exception:
                failed = 1
            return small, len(large), failed
        finally:
            await engine.close()

    loop = _LoopWithoutReaders()
    try:
        assert loop.run_until_complete(main()) == ([(7,)], LARGE, 1)
    finally:
        loop.close()


def test_loops_on_two_threads_share_an_engine(url: str, backend: str) -> None:
    engine = _run(lambda: connect(url))
    sql = _echo(backend)
    found: dict[int, list[list[tuple[int]]]] = {}

    def worker(offset: int) -> None:
        async def main() -> list[list[tuple[int]]]:
            return list(
                await asyncio.gather(*(engine.fetch_rows(sql, [offset + i]) for i in range(100)))
            )

        found[offset] = asyncio.run(main())

    threads = [threading.Thread(target=worker, args=(k * 1000,)) for k in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    _run(engine.close)
    for offset, results in found.items():
        assert results == [[(offset + i,)] for i in range(100)]


def test_isolation_entered_and_left_without_an_event_loop(url: str, backend: str) -> None:
    engine = _run(lambda: connect(url))
    try:
        _run(lambda: engine.execute_script("DROP TABLE IF EXISTS kept; CREATE TABLE kept (x INT)"))
        assert engine.enter_isolation_blocking(patience=5.0) == 1
        insert = f"INSERT INTO kept (x) VALUES ({placeholders(backend, 1)})"
        _run(lambda: engine.execute(insert, [1]))
        assert _run(lambda: engine.fetch_rows("SELECT count(*) FROM kept")) == [(1,)]
        assert engine.isolation_depth == 1
        assert engine.leave_isolation_blocking() == 0
        assert _run(lambda: engine.fetch_rows("SELECT count(*) FROM kept")) == [(0,)]
        with pytest.raises(ConfigurationError, match="patience"):
            engine.enter_isolation_blocking(patience=-1.0)
    finally:
        _run(engine.close)
