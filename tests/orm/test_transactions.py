"""in_transaction / atomic: commit, rollback, nesting, and one transaction per task."""

from __future__ import annotations

import asyncio

import pytest

from tests.orm.models import Author
from yara_orm import YaraOrm, atomic, connections, in_transaction


class Boom(Exception):
    pass


async def names() -> list[str]:
    return [a.name async for a in Author.all()]


async def test_commit_and_rollback(orm: str) -> None:
    async with in_transaction():
        await Author.create(name="kept")
    with pytest.raises(Boom):
        async with in_transaction():
            await Author.create(name="dropped")
            raise Boom
    assert await names() == ["kept"]


async def test_nested_block_rolls_back_alone(orm: str) -> None:
    async with in_transaction():
        await Author.create(name="outer")
        with pytest.raises(Boom):
            async with in_transaction():
                await Author.create(name="inner")
                raise Boom
        async with in_transaction():
            await Author.create(name="inner ok")
    assert await names() == ["inner ok", "outer"]


async def test_atomic_decorator(orm: str) -> None:
    @atomic()
    async def create_two(fail: bool) -> None:
        await Author.create(name="one")
        if fail:
            raise Boom
        await Author.create(name="two")

    with pytest.raises(Boom):
        await create_two(True)
    assert await names() == []
    await create_two(False)
    assert await names() == ["one", "two"]


async def test_statements_inside_use_the_transaction(orm: str) -> None:
    async with in_transaction() as tx:
        await Author.create(name="inside")
        assert connections.get() is tx
        rows = await tx.execute_query_dict("SELECT name FROM author")
        assert rows == [{"name": "inside"}]
        await tx.execute("UPDATE author SET name = 'raw'")
        # using_db: a query run on a client given explicitly.
        assert [a.name for a in await Author.all().using_db(tx)] == ["raw"]
    assert await names() == ["raw"]


@pytest.mark.parametrize("backend", [pytest.param("postgres", marks=pytest.mark.postgres)])
async def test_concurrent_tasks_have_their_own_transactions(orm: str) -> None:
    started = asyncio.Event()
    release = asyncio.Event()

    async def slow_writer() -> None:
        async with in_transaction():
            await Author.create(name="uncommitted")
            started.set()
            await release.wait()
            raise Boom

    writer = asyncio.create_task(slow_writer())
    await started.wait()
    # Another task, outside the writer's transaction, does not see its row.
    assert await names() == []
    assert connections.get() is connections.base()
    release.set()
    with pytest.raises(Boom):
        await writer
    assert await names() == []


@pytest.mark.parametrize("backend", [pytest.param("postgres", marks=pytest.mark.postgres)])
async def test_isolation_levels_on_postgres(orm: str) -> None:
    async with in_transaction(isolation="serializable") as tx:
        rows = await tx.fetch("SHOW transaction_isolation")
        assert rows == [("serializable",)]


async def test_a_transaction_left_open_by_a_closed_orm_is_not_used_after_init(
    orm: str, request: pytest.FixtureRequest
) -> None:
    # A context (a fixture's task, say) that still holds a transaction of an ORM since closed
    # and initialised again must use the new connection, not the dead transaction.
    from yara_orm.connection import open_transactions
    from yara_orm.transactions import current_transaction

    url = "sqlite://:memory:" if orm == "sqlite" else str(request.getfixturevalue("pg_url"))
    stale = connections.get()
    async with in_transaction() as tx:
        pass
    token = open_transactions.set({"default": tx})
    assert current_transaction("default") is tx
    await YaraOrm.close()
    await YaraOrm.init(url, models=["tests.orm.models"])
    try:
        assert current_transaction("default") is None
        assert connections.get() is not stale
        await connections.get().execute_query("SELECT 1")
    finally:
        open_transactions.reset(token)
