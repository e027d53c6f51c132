"""Cancellation never reaches a later statement: a cancelled statement's connection is used
again only once the server has acted on the cancel request (or it is closed)."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest

from yara_orm import Engine, InternalError, QueryCanceledError, connect

TRIES = 150


async def _cancel_after(awaitable_factory, delay: float) -> None:  # type: ignore[no-untyped-def]
    task = asyncio.ensure_future(awaitable_factory())
    await asyncio.sleep(delay)
    task.cancel()
    try:
        await task
    except (asyncio.CancelledError, QueryCanceledError):
        pass


@pytest.mark.postgres
async def test_a_cancel_never_hits_the_next_statement(pg_url: str) -> None:
    # One connection, so the statement after a cancel runs on the cancelled session. Without
    # waiting for the server to act on the cancel request, about a third of the follow-up
    # statements were cancelled instead.
    rnd = random.Random(8)
    engine = await connect(pg_url, max_size=1)
    stray = 0
    try:
        for _ in range(TRIES):
            await _cancel_after(
                lambda: engine.fetch_rows("SELECT pg_sleep(0.003)"), rnd.uniform(0.001, 0.006)
            )
            try:
                assert await engine.fetch_rows("SELECT 1 FROM pg_sleep(0.002)") == [(1,)]
            except QueryCanceledError:
                stray += 1
    finally:
        await engine.close()
    assert stray == 0, f"{stray} of {TRIES} statements were hit by an earlier cancel"


@pytest.mark.postgres
async def test_a_cancelled_transaction_times_out_instead_of_failing_its_rollback(
    pg_url: str,
) -> None:
    rnd = random.Random(9)
    engine = await connect(pg_url, max_size=1)
    outcomes: dict[str, int] = {}

    async def work(e: Engine) -> None:
        # As in_transaction() does: roll back when the block fails, else commit.
        tx = await e.begin()
        try:
            await tx.fetch_rows("SELECT pg_sleep(0.003)")
        except BaseException:
            await tx.rollback()
            raise
        await tx.commit()

    try:
        for _ in range(TRIES):
            try:
                await asyncio.wait_for(work(engine), timeout=rnd.uniform(0.001, 0.006))
                outcome = "done"
            except TimeoutError:
                outcome = "timeout"
            except QueryCanceledError as error:
                outcome = f"QueryCanceledError ({error.sql})"
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
        assert await engine.fetch_rows("SELECT 1") == [(1,)]
        status = engine.pool_status()
        assert status["idle"] == status["size"], status
    finally:
        await engine.close()
    assert set(outcomes) <= {"done", "timeout"}, outcomes


@pytest.mark.postgres
async def test_cancelled_savepoint_calls_keep_their_order(pg_url: str) -> None:
    # Python moves on while a cancelled call's task has not run yet: without an order, a
    # cancelled RELEASE could reach the server after the next call's ROLLBACK TO and abort
    # the transaction (or worse, let commit() return with nothing committed).
    engine = await connect(pg_url)
    try:
        await engine.execute_script("DROP TABLE IF EXISTS sc; CREATE TABLE sc (x INT)")
        for i in range(100):
            tx = await engine.begin()
            await tx.execute("INSERT INTO sc VALUES ($1)", [i])
            await tx.savepoint("a")
            await tx.savepoint("b")
            call = tx.release("b") if i % 2 else tx.rollback_to("b")
            task = asyncio.ensure_future(call)
            await asyncio.sleep(0)
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
            await tx.rollback_to("a")
            await tx.commit()
        assert await engine.fetch_rows("SELECT count(*) FROM sc") == [(100,)]
    finally:
        await engine.close()


@pytest.mark.parametrize("where", ["file", "memory"])
async def test_sqlite_cancelled_write_ends_the_transaction_visibly(
    tmp_path: Path, where: str
) -> None:
    # SQLite rolls the whole transaction back when a write in it is interrupted: later
    # statements must not run outside it, and commit() must say nothing was kept.
    url = f"sqlite:///{tmp_path / 'ac.db'}" if where == "file" else "sqlite://:memory:"
    engine = await connect(url)
    try:
        await engine.execute_script("CREATE TABLE ac (x INTEGER)")
        long_write = (
            "INSERT INTO ac WITH RECURSIVE r(x) AS (SELECT 1000 UNION ALL SELECT x + 1 FROM r "
            "WHERE x < 5000000) SELECT x FROM r"
        )
        tx = await engine.begin()
        await tx.execute("INSERT INTO ac VALUES (1)")
        task = asyncio.ensure_future(tx.execute(long_write))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        with pytest.raises(InternalError) as refused:
            await tx.execute("INSERT INTO ac VALUES (2)")
        assert refused.value.sqlstate == "25P02"
        with pytest.raises(InternalError):
            await tx.commit()
        assert await engine.fetch_rows("SELECT count(*) FROM ac") == [(0,)]
    finally:
        await engine.close()
