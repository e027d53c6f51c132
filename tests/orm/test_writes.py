"""The model API's writes: create, save, delete, bulk operations, get_or_create…"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import pytest

from tests.orm.models import Author, Book, Event, Kind, Priority, Tag
from yara_orm import (
    DoesNotExist,
    FieldError,
    IntegrityError,
    OperationalError,
    ParamsError,
    ValidationError,
    in_transaction,
)
from yara_orm.connection import QueryEvent, listening


async def test_save_inserts_then_updates(orm: str) -> None:
    author = Author(name="Ada")
    assert author.pk is None
    await author.save()
    assert isinstance(author.pk, int)
    author.name = "Ada L."
    await author.save()
    assert (await Author.get(pk=author.pk)).name == "Ada L."


async def test_save_with_update_fields_writes_only_those(orm: str) -> None:
    author = await Author.create(name="Ada")
    statements: list[str] = []
    author.name = "Changed"
    author.born = None
    with listening(lambda event: statements.append(event.sql)):
        await author.save(update_fields=["name"])
    assert len(statements) == 1
    assert '"name"' in statements[0] and '"born"' not in statements[0]
    with pytest.raises(FieldError, match="colour"):
        await author.save(update_fields=["colour"])


async def test_delete_and_refresh(orm: str) -> None:
    author = await Author.create(name="Ada")
    copy = await Author.get(pk=author.pk)
    await Author.filter(pk=author.pk).update(name="Renamed")
    await copy.refresh_from_db()
    assert copy.name == "Renamed"
    await copy.refresh_from_db(fields=["name"])
    await author.delete()
    with pytest.raises(DoesNotExist):
        await copy.refresh_from_db()
    with pytest.raises(OperationalError, match="unpersisted"):
        await Author(name="x").delete()


async def test_equality_hashing_and_repr(orm: str) -> None:
    first = await Author.create(name="Ada")
    again = await Author.get(pk=first.pk)
    assert first == again and hash(first) == hash(again)
    assert len({first, again}) == 1
    assert first != await Author.create(name="Grace")
    assert repr(first) == f"<Author: {first.pk}>"  # as Tortoise writes it
    assert repr(Author(name="x")) == "<Author>"
    with pytest.raises(TypeError):
        hash(Author(name="unsaved"))


async def test_bulk_create_is_one_statement_per_batch_and_returns_keys(orm: str) -> None:
    author = await Author.create(name="Ada")
    books = [Book(title=f"B{i}", author=author, price=Decimal(i)) for i in range(250)]
    events: list[QueryEvent] = []
    with listening(events.append):
        created = await Book.bulk_create(books, batch_size=100)
    # Three batches, in one transaction so that they go in all together or not at all.
    begin = "BEGIN IMMEDIATE" if orm == "sqlite" else "BEGIN"
    assert [e.sql for e in events][:: len(events) - 1] == [begin, "COMMIT"]
    assert len(events) == 5
    assert all(e.sql.startswith('INSERT INTO "book"') for e in events[1:-1])
    assert created == books
    assert len({b.pk for b in books}) == 250 and all(b.pk for b in books)
    fetched = await Book.get(pk=books[42].pk)
    assert fetched.title == "B42" and fetched.price == Decimal("42.00")
    tags = await Tag.bulk_create([Tag(name=n) for n in "abc"])
    assert [t.name for t in await Tag.all().order_by("id")] == ["a", "b", "c"]
    assert [t.pk for t in tags] == sorted(t.pk for t in tags)


async def test_bulk_create_validates_before_sql(orm: str) -> None:
    author = await Author.create(name="Ada")
    with pytest.raises(ValidationError, match=r"Book\.title"):
        await Book.bulk_create(
            [Book(title="ok", author=author), Book(title="x" * 500, author=author)]
        )
    assert await Book.all().count() == 0


async def test_bulk_update_and_in_bulk(orm: str) -> None:
    author = await Author.create(name="Ada")
    books = await Book.bulk_create(
        [Book(title=f"B{i}", author=author, rating=1.0) for i in range(5)]
    )
    for index, book in enumerate(books):
        book.rating = float(index)
        book.price = Decimal(index) / 4
    assert await Book.bulk_update(books, ["rating", "price"], batch_size=2) == 5
    again = await Book.in_bulk([b.pk for b in books])
    assert sorted(again) == sorted(b.pk for b in books)
    assert [again[b.pk].rating for b in books] == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert again[books[3].pk].price == Decimal("0.75")
    by_title = await Book.in_bulk(["B1", "B2"], field_name="title")
    assert set(by_title) == {"B1", "B2"}


async def test_get_or_create_and_update_or_create(orm: str) -> None:
    author, created = await Author.get_or_create(name="Ada")
    assert created
    same, created = await Author.get_or_create(name="Ada")
    assert not created and same == author
    updated, created = await Author.update_or_create(defaults={"name": "Ada L."}, id=author.pk)
    assert not created and updated.name == "Ada L."
    fresh, created = await Author.update_or_create(defaults={"born": None}, name="Nobody")
    assert created and fresh.name == "Nobody"
    # As in Tortoise: a default that contradicts the lookup is refused, not silently chosen.
    with pytest.raises(ParamsError, match="Conflict value with key='name'"):
        await Author.update_or_create(defaults={"name": "New"}, name="Somebody")
    with pytest.raises(ParamsError, match="Conflict value with key='name'"):
        await Author.get_or_create(defaults={"name": "New"}, name="Somebody")


async def test_bulk_create_is_all_or_nothing(orm: str) -> None:
    # 5 batches; the duplicate sits in the last one, after 4 batches went in.
    tags = [Tag(name=f"t{i}") for i in range(50)] + [Tag(name="t0")]
    with pytest.raises(IntegrityError):
        await Tag.bulk_create(tags, batch_size=10)
    assert await Tag.all().count() == 0
    assert all(tag.pk is None for tag in tags)


async def test_bulk_create_inside_a_transaction_rolls_back_only_itself(orm: str) -> None:
    async with in_transaction():
        await Tag.create(name="kept")
        with pytest.raises(IntegrityError):
            await Tag.bulk_create([Tag(name=f"t{i}") for i in range(30)] + [Tag(name="kept")], 10)
        assert await Tag.all().count() == 1
    assert [t.name for t in await Tag.all()] == ["kept"]


async def test_cancelled_bulk_create_leaves_nothing(orm: str) -> None:
    task: asyncio.Task[list[Tag]] | None = None
    inserts = 0

    def cancel_after_two_batches(event: QueryEvent) -> None:
        nonlocal inserts
        if event.sql.startswith("INSERT") and event.error is None:
            inserts += 1
            if inserts == 2 and task is not None:
                task.cancel()

    with listening(cancel_after_two_batches):
        task = asyncio.ensure_future(
            Tag.bulk_create([Tag(name=f"t{i}") for i in range(60)], batch_size=10)
        )
        with pytest.raises(asyncio.CancelledError):
            await task
    assert inserts == 2
    assert await Tag.all().count() == 0


async def test_bulk_update_is_all_or_nothing(orm: str) -> None:
    authors = await Author.bulk_create([Author(name=f"a{i}") for i in range(30)])
    for author in authors:
        author.name = "x" * 101 if author is authors[-1] else "renamed"
    # The last value is too long: validation fails before any SQL, so nothing changes.
    with pytest.raises(ValidationError):
        await Author.bulk_update(authors, ["name"], batch_size=10)
    assert await Author.filter(name="renamed").count() == 0
    authors[-1].name = "renamed"
    task: asyncio.Task[int] | None = None

    def cancel_after_first_batch(event: QueryEvent) -> None:
        if event.sql.startswith("UPDATE") and task is not None:
            task.cancel()

    with listening(cancel_after_first_batch):
        task = asyncio.ensure_future(Author.bulk_update(authors, ["name"], batch_size=10))
        with pytest.raises(asyncio.CancelledError):
            await task
    assert await Author.filter(name="renamed").count() == 0
    assert await Author.bulk_update(authors, ["name"], batch_size=10) == 30
    assert await Author.filter(name="renamed").count() == 30


async def test_bulk_create_of_every_field_type_matches_single_creates(orm: str) -> None:
    # On PostgreSQL bulk_create sends one array per column (unnest); the rows must come out
    # exactly as single INSERTs write them, NULLs included.
    def events(prefix: int) -> list[Event]:
        made = []
        for i in range(6):
            full = i % 2 == 0
            made.append(
                Event(
                    id=uuid.UUID(int=prefix * 100 + i),
                    kind=Kind.OPEN if full else Kind.CLOSED,
                    priority=Priority.HIGH if full else Priority.LOW,
                    payload={"n": i, "list": [1, "two", None]} if full else None,
                    duration=dt.timedelta(days=i, microseconds=7) if full else None,
                    at=dt.time(12, i, 30, 5) if full else None,
                    blob=bytes([i, 0, 255]) if full else None,
                    flag=full,
                    big=2**40 + i,
                    small=-i,
                    day=dt.date(2024, 2, 29) if full else None,
                    note=f"note 'quoted' {i}" if full else None,
                )
            )
        return made

    await Event.bulk_create(events(1))
    for event in events(2):
        await event.save()

    def shape(event: Event) -> tuple[Any, ...]:
        values = tuple(getattr(event, name) for name in Event._meta.fields if name != "id")
        return (event.id.int % 100, *values)

    bulk = [shape(e) for e in await Event.filter(id__lt=uuid.UUID(int=200)).order_by("id")]
    single = [shape(e) for e in await Event.filter(id__gte=uuid.UUID(int=200)).order_by("id")]
    assert bulk == single and len(bulk) == 6


async def test_bulk_create_beyond_the_parameter_limit(orm: str) -> None:
    # 40,000 rows of 2 columns: beyond one statement's parameters as VALUES lists (SQLite,
    # batches); one statement of two arrays on PostgreSQL.
    events: list[QueryEvent] = []
    with listening(events.append):
        tags = await Tag.bulk_create([Tag(name=f"tag {i}") for i in range(40_000)])
    inserts = [e for e in events if e.sql.startswith("INSERT")]
    assert len(inserts) == (1 if orm == "postgres" else 2)
    assert await Tag.all().count() == 40_000
    assert len({t.pk for t in tags}) == 40_000
    assert (await Tag.get(pk=tags[-1].pk)).name == "tag 39999"


async def test_bulk_create_with_conflicts_through_arrays(orm: str) -> None:
    await Tag.bulk_create([Tag(name="a"), Tag(name="b")])
    await Tag.bulk_create([Tag(name="b"), Tag(name="c")], ignore_conflicts=True)
    assert [t.name for t in await Tag.all().order_by("name")] == ["a", "b", "c"]
    author = await Author.create(name="Ada")
    await Book.bulk_create(
        [Book(id=1, title="old", author=author), Book(id=2, title="x", author=author)]
    )
    await Book.bulk_create(
        [Book(id=1, title="new", author=author), Book(id=3, title="y", author=author)],
        on_conflict=["id"],
        update_fields=["title"],
    )
    assert [(b.id, b.title) for b in await Book.all().order_by("id")] == [
        (1, "new"),
        (2, "x"),
        (3, "y"),
    ]


async def test_bulk_create_checks_lengths_and_scales_as_single_creates(orm: str) -> None:
    author = await Author.create(name="Ada")
    with pytest.raises(ValidationError, match="title"):
        await Book.bulk_create([Book(title="t" * 201, author=author)])
    assert await Book.all().count() == 0
    await Book.bulk_create([Book(title="p", author=author, price=Decimal("1.235"))])
    assert (await Book.get(title="p")).price == Decimal("1.24")
