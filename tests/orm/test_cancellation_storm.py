"""A seeded storm of cancellations (queries, transactions, savepoints, bulk writes, inside
the test isolation too): afterwards the pool is full and idle, nothing is left open, no bulk
write is half-done, and no cancel ever reached a later statement."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from tests.conftest import reset_public_schema
from tests.orm.models import Author, Tag
from yara_orm import QueryCanceledError, YaraOrm, connections, in_transaction

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
OPERATIONS = 500
WORKERS = 4


@pytest.fixture(params=BACKENDS)
async def storm_db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    backend = str(request.param)
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'storm.db'}"
    else:
        url = str(request.getfixturevalue("pg_url"))
        await reset_public_schema(url)
        url += "?application_name=yara_storm"
    await YaraOrm.init(url, models=["tests.orm.models"], max_size=WORKERS)
    await YaraOrm.generate_schemas()
    try:
        yield backend
    finally:
        await YaraOrm.close()


def _slow_sql(backend: str) -> str:
    if backend == "postgres":
        return "SELECT pg_sleep(0.003)"
    return (
        "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 20000) "
        "SELECT max(n) FROM c"
    )


def _operations(backend: str) -> list[Callable[[int], Awaitable[object]]]:
    client = connections.get

    async def query(i: int) -> object:
        return await client().fetch(_slow_sql(backend))

    async def transaction(i: int) -> object:
        async with in_transaction():
            await Author.create(name=f"tx{i}")
            await client().fetch(_slow_sql(backend))
        return None

    async def savepoint(i: int) -> object:
        async with in_transaction():
            await Author.create(name=f"outer{i}")
            async with in_transaction():
                await Author.create(name=f"inner{i}")
                await client().fetch(_slow_sql(backend))
        return None

    async def bulk(i: int) -> object:
        return await Tag.bulk_create([Tag(name=f"b{i}-{n}") for n in range(40)], batch_size=10)

    return [query, transaction, savepoint, bulk]


async def _storm(backend: str, seed: int, operations: int) -> list[str]:
    rnd = random.Random(seed)
    kinds = _operations(backend)
    strays: list[str] = []

    async def worker(start: int) -> None:
        for i in range(start, operations, WORKERS):
            operation = rnd.choice(kinds)
            task = asyncio.ensure_future(operation(i))
            await asyncio.sleep(rnd.uniform(0, 0.005))
            task.cancel()
            try:
                await task
            except (asyncio.CancelledError, QueryCanceledError):
                pass
            try:
                await connections.get().fetch("SELECT 1")
            except QueryCanceledError as error:
                strays.append(f"{operation.__name__} {i}: {error}")

    await asyncio.gather(*(worker(n) for n in range(WORKERS)))
    return strays


async def _assert_clean(backend: str) -> None:
    engine = connections.engine()
    for _ in range(200):  # cancelled work finishes its bookkeeping in the background
        status = engine.pool_status()
        if status["idle"] == status["size"]:
            break
        await asyncio.sleep(0.01)
    status = engine.pool_status()
    assert status["idle"] == status["size"], status
    # Every bulk write went in whole or not at all.
    counts: dict[str, int] = {}
    for tag in await Tag.all():
        prefix = tag.name.split("-")[0]
        counts[prefix] = counts.get(prefix, 0) + 1
    assert {n for n in counts.values()} <= {40}, counts
    # A savepoint's inner row never outlives its outer one.
    names = {a.name for a in await Author.all()}
    orphans = {n for n in names if n.startswith("inner") and f"outer{n[5:]}" not in names}
    assert orphans == set()
    if backend == "postgres":
        rows = await connections.get().fetch(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'yara_storm' "
            "AND state LIKE 'idle in transaction%'"
        )
        assert rows == [(0,)]


async def test_a_storm_of_cancellations_leaves_nothing_behind(storm_db: str) -> None:
    strays = await _storm(storm_db, seed=11, operations=OPERATIONS)
    assert strays == []
    await _assert_clean(storm_db)


async def test_a_storm_of_cancellations_inside_the_test_isolation(storm_db: str) -> None:
    engine = connections.engine()
    await engine.enter_isolation()
    try:
        strays = await _storm(storm_db, seed=12, operations=OPERATIONS // 2)
        assert strays == []
        assert engine.isolation_depth == 1
    finally:
        await engine.leave_isolation()
    assert await Author.all().count() == 0
    assert await Tag.all().count() == 0
    await _assert_clean(storm_db)
