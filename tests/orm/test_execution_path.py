"""The one execution path: listeners see every statement with its engine timings, and the
context the N+1 detector needs (batches, lazy loads)."""

from __future__ import annotations

import pytest

from tests.orm.models import Author, Book
from yara_orm import YaraOrm, connections, in_transaction
from yara_orm.connection import QueryEvent, listening
from yara_orm.exceptions import ConfigurationError, IntegrityError


async def test_every_kind_of_statement_passes_through(orm: str) -> None:
    events: list[QueryEvent] = []
    with listening(events.append):
        await YaraOrm.generate_schemas()  # DDL (safe: nothing new)
        ada = await Author.create(name="Ada")  # model write
        await Author.filter(name="Ada").count()  # queryset
        book = await Book.create(title="T", author=ada)
        await book.author  # lazy relation load
        await connections.get().fetch("SELECT 1")  # raw SQL
        async with in_transaction():  # transaction control
            await Author.create(name="Grace")
    sqls = [e.sql for e in events]
    assert any(s.startswith("CREATE TABLE IF NOT EXISTS") for s in sqls)
    assert any(s.startswith('INSERT INTO "author"') for s in sqls)
    assert any("COUNT(*)" in s for s in sqls)
    assert "SELECT 1" in sqls
    # Labelled with what the engine runs: SQLite takes the write lock up front.
    begin = "BEGIN IMMEDIATE" if orm == "sqlite" else "BEGIN"
    assert sqls[-3:-2] == [begin] and sqls[-1] == "COMMIT"
    timed = [e for e in events if not e.control]
    for event in timed:
        assert event.stats is not None
        assert event.stats.gil_held + event.stats.io <= event.stats.total + 1e-6
    assert all(e.connection == "default" for e in events)


async def test_failed_statements_are_reported_too(orm: str) -> None:
    await Author.create(name="Ada", id=1)
    events: list[QueryEvent] = []
    with listening(events.append), pytest.raises(IntegrityError):
        await Author.create(name="Dup", id=1)
    assert len(events) == 1 and isinstance(events[0].error, IntegrityError)


async def test_instances_know_their_batch_and_lazy_loads_say_what_they_load(orm: str) -> None:
    ada = await Author.create(name="Ada")
    for n in range(3):
        await Book.create(title=f"B{n}", author=ada)
    books = await Book.all()
    assert books[0]._batch is not None and books[0]._batch.size == 3
    assert len({id(b._batch) for b in books}) == 1
    single = await Book.get(title="B0")
    assert single._batch is None, "a one-row result is not a batch"
    first = await Book.all().order_by("id").first()
    (only,) = await Book.filter(title="B1")
    assert first is not None and (first._batch, only._batch) == (None, None)
    events: list[QueryEvent] = []
    with listening(events.append):
        for book in books:
            await book.author
    contexts = [e.context for e in events]
    assert all(c is not None and c.kind == "lazy" for c in contexts)
    assert {(c.model, c.relation) for c in contexts} == {("Book", "author")}  # type: ignore[union-attr]
    assert {c.batch.id for c in contexts} == {books[0]._batch.id}  # type: ignore[union-attr]
    events.clear()
    with listening(events.append):
        await Book.all().prefetch_related("author")
    assert [e.context.kind if e.context else None for e in events] == [None, "prefetch"]


async def test_no_listener_means_no_stats_requested(
    orm: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = connections.get()
    calls: list[dict[str, object]] = []
    original = client.runner

    class Spy:
        def __getattr__(self, name: str) -> object:
            method = getattr(original, name)

            def call(*args: object, **kwargs: object) -> object:
                calls.append(kwargs)
                return method(*args, **kwargs)

            return call

    monkeypatch.setattr(client, "runner", Spy())
    await Author.all().count()
    assert calls == [{}]


async def test_raw_sql_api(orm: str) -> None:
    client = connections.get("default")
    await Author.create(name="Ada")
    count, rows = await client.execute_query("SELECT id, name FROM author")
    assert count == 1 and rows[0]["name"] == "Ada"
    assert await client.execute_query_dict("SELECT name FROM author") == [{"name": "Ada"}]
    assert await client.fetch("SELECT name FROM author") == [("Ada",)]
    with pytest.raises(ConfigurationError, match="no connection named 'other'"):
        connections.get("other")


async def test_init_errors_are_clear() -> None:
    with pytest.raises(ConfigurationError, match="could not be imported"):
        await YaraOrm.init("sqlite://:memory:", models=["tests.orm.no_such_module"])
    with pytest.raises(ConfigurationError, match="not initialised"):
        connections.base()


async def test_transaction_control_is_labelled_as_the_engine_runs_it(orm: str) -> None:
    events: list[QueryEvent] = []
    engine = connections.engine()
    await engine.enter_isolation()
    try:
        with listening(events.append):
            async with in_transaction():
                async with in_transaction():
                    await Author.create(name="Grace")
    finally:
        await engine.leave_isolation()
    control = [e.sql for e in events if e.control]
    # Under isolation a transaction is a savepoint: that is what listeners are told.
    assert control[0].startswith('SAVEPOINT "yara_tx_')
    assert control[1] == 'SAVEPOINT "yara_nested_' + control[1].split("_")[-1]
    assert control[2].startswith('RELEASE SAVEPOINT "yara_nested_')
    assert control[3].startswith('RELEASE SAVEPOINT "yara_tx_')
