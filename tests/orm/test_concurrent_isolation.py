"""Concurrent transactions under the engine's isolation (what `yara_db` runs a test in):
tasks that each open a transaction behave as they do in production."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator

import pytest

from tests.orm.models import Author
from yara_orm import IsolationDeadlockError, connections, in_transaction
from yara_orm.exceptions import YaraError


@pytest.fixture
async def isolated(orm: str) -> AsyncIterator[str]:
    engine = connections.engine()
    await engine.enter_isolation(patience=0.5)
    try:
        yield orm
    finally:
        if engine.isolation_depth:
            await engine.leave_isolation()
        # Nothing is left for the next test.
        assert await Author.all().count() == 0


async def _pause(rnd: random.Random) -> None:
    await asyncio.sleep(rnd.choice([0, 0, 0.001]))


@pytest.mark.parametrize("tasks", [2, 4, 20])
async def test_concurrent_transactions_each_commit(isolated: str, tasks: int) -> None:
    rnd = random.Random(tasks)

    async def work(i: int) -> int:
        async with in_transaction():
            await Author.create(name=f"t{i}")
            await _pause(rnd)
            return await Author.filter(name=f"t{i}").count()

    assert await asyncio.gather(*(work(i) for i in range(tasks))) == [1] * tasks
    assert await Author.all().count() == tasks


async def test_nested_transactions_in_concurrent_tasks(isolated: str) -> None:
    rnd = random.Random(2)

    async def work(i: int) -> None:
        async with in_transaction():
            await Author.create(name=f"outer{i}")
            await _pause(rnd)
            with pytest.raises(ValueError):
                async with in_transaction():
                    await Author.create(name=f"inner{i}")
                    await _pause(rnd)
                    raise ValueError("roll back the inner block only")
            async with in_transaction():
                await Author.create(name=f"kept{i}")

    await asyncio.gather(*(work(i) for i in range(6)))
    names = {a.name for a in await Author.all()}
    assert names == {f"outer{i}" for i in range(6)} | {f"kept{i}" for i in range(6)}


async def test_a_failing_transaction_rolls_back_alone(isolated: str) -> None:
    rnd = random.Random(3)

    async def work(i: int) -> None:
        async with in_transaction():
            await Author.create(name=f"t{i}")
            await _pause(rnd)
            if i == 2:
                raise RuntimeError("this one fails")

    results = await asyncio.gather(*(work(i) for i in range(5)), return_exceptions=True)
    assert [type(r).__name__ for r in results].count("RuntimeError") == 1
    assert sorted(a.name for a in await Author.all()) == ["t0", "t1", "t3", "t4"]


async def test_a_cancelled_task_rolls_back_its_transaction_only(isolated: str) -> None:
    started = asyncio.Event()

    async def slow() -> None:
        async with in_transaction():
            await Author.create(name="cancelled")
            started.set()
            await asyncio.sleep(10)

    async def work(i: int) -> None:
        await started.wait()
        async with in_transaction():
            await Author.create(name=f"t{i}")

    victim = asyncio.create_task(slow())
    others = [asyncio.create_task(work(i)) for i in range(3)]
    await started.wait()
    await asyncio.sleep(0.01)
    victim.cancel()
    with pytest.raises(asyncio.CancelledError):
        await victim
    await asyncio.gather(*others)
    assert sorted(a.name for a in await Author.all()) == ["t0", "t1", "t2"]


async def test_plain_statements_never_join_another_tasks_transaction(isolated: str) -> None:
    in_tx = asyncio.Event()

    async def failing_transaction() -> None:
        async with in_transaction():
            await Author.create(name="rolled back")
            in_tx.set()
            await asyncio.sleep(0.02)
            raise RuntimeError("undo")

    async def plain() -> None:
        await in_tx.wait()
        await Author.create(name="plain")  # waits for the transaction; not part of it

    results = await asyncio.gather(failing_transaction(), plain(), return_exceptions=True)
    assert isinstance(results[0], RuntimeError) and results[1] is None
    assert [a.name for a in await Author.all()] == ["plain"]


async def test_same_task_statements_run_inside_its_transaction(isolated: str) -> None:
    # With one connection there is nowhere else for them to go: as before, they join it.
    engine = connections.engine()
    async with in_transaction():
        await Author.create(name="via the transaction")
        table = '"author"'
        assert (await engine.fetch_rows(f"SELECT count(*) FROM {table}"))[0][0] == 1


async def test_awaiting_another_task_inside_a_transaction_is_a_clear_error(isolated: str) -> None:
    go = asyncio.Event()

    async def other() -> None:
        await go.wait()
        await Author.create(name="other")

    helper = asyncio.create_task(other())  # started outside the transaction
    with pytest.raises(IsolationDeadlockError) as raised:
        async with in_transaction():
            await Author.create(name="mine")
            go.set()
            await helper
    message = str(raised.value)
    assert "transaction of another task" in message and "deadlock" in message
    assert isinstance(raised.value, YaraError)
    assert await Author.all().count() == 0
