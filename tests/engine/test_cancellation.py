"""Cancellation never reaches a later statement: a cancelled statement's connection is used
again only once the server has acted on the cancel request (or it is closed)."""

from __future__ import annotations

import asyncio
import random

import pytest

from yara_orm import Engine, QueryCanceledError, connect

pytestmark = pytest.mark.postgres

TRIES = 150


async def _cancel_after(awaitable_factory, delay: float) -> None:  # type: ignore[no-untyped-def]
    task = asyncio.ensure_future(awaitable_factory())
    await asyncio.sleep(delay)
    task.cancel()
    try:
        await task
    except (asyncio.CancelledError, QueryCanceledError):
        pass


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
