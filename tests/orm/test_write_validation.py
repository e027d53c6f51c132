"""Values are validated when they are written: a save skips validating again only values the
constructor validated, of immutable types, with no validators, on an instance left as built."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from tests.orm.conftest import initialised
from tests.orm.custom_field_models import Paint
from tests.orm.models import Author, Book, Event, Kind
from yara_orm import ValidationError


async def test_a_value_set_after_construction_is_validated_on_save(orm: str) -> None:
    author = await Author.create(name="Ada")
    book = Book(title="fine", author=author, price=Decimal("1.5"))
    book.title = "x" * 201
    with pytest.raises(ValidationError, match="title"):
        await book.save()
    books = [Book(title=f"b{i}", author=author) for i in range(3)]
    books[1].price = "not a number"
    with pytest.raises(ValidationError, match="price"):
        await Book.bulk_create(books)
    assert await Book.all().count() == 0


async def test_an_instance_left_as_built_is_written_as_validated(orm: str) -> None:
    author = await Author.create(name="Ada")
    book = Book(title="fine", author=author, price=Decimal("1.5"))
    await Book.bulk_create([book, Book(title="other", author_id=author.id, price=2)])
    stored = await Book.all().order_by("title").values_list("title", "price")
    assert stored == [("fine", Decimal("1.50")), ("other", Decimal("2.00"))]
    book.price = Decimal("3.333")  # changed after a save: validated (and rounded) again
    await book.save()
    assert (await Book.get(title="fine")).price == Decimal("3.33")


async def test_a_mutable_value_changed_in_place_is_validated_again(orm: str) -> None:
    event = Event(kind=Kind.OPEN, payload={"ok": 1})
    event.payload["bad"] = object()  # no attribute is set: the JSON field checks anyway
    with pytest.raises(ValidationError, match="JSON"):
        await event.save()
    assert await Event.all().count() == 0


@pytest.fixture
async def paints(backend: str, db_url: str) -> AsyncIterator[str]:
    async with initialised(db_url, "tests.orm.custom_field_models"):
        yield backend


async def test_validators_run_on_save_of_an_instance_left_as_built(paints: str) -> None:
    paint = Paint(name="thin", coats=0)  # validators run when written, as in Tortoise
    with pytest.raises(ValidationError, match="coats"):
        await paint.save()
    with pytest.raises(ValidationError, match="coats"):
        await Paint.bulk_create([Paint(name="a", coats=2), Paint(name="b", coats=0)])
    assert await Paint.all().count() == 0


async def test_bulk_create_of_instances_as_built_reads_them_column_by_column(orm: str) -> None:
    author = await Author.create(name="Ada")
    # Keys given as ids (no relation object), nullable values left out, keys left to the
    # database: the rows are taken column by column from what the constructors validated.
    books = [
        Book(title=f"b{i}", author_id=author.id, price=Decimal("1.005") * i, rating=i or None)
        for i in range(3)
    ]
    await Book.bulk_create(books)
    assert all(book.pk is not None for book in books)
    stored = await Book.all().order_by("title").values_list("id", "title", "price", "rating")
    assert stored == [
        (books[0].pk, "b0", Decimal("0.00"), None),
        (books[1].pk, "b1", Decimal("1.00"), 1.0),
        (books[2].pk, "b2", Decimal("2.01"), 2.0),
    ]
    # A key given on some rows and left to the database on others; a value set after
    # construction: both go the usual way, with the same result.
    mixed = [
        Book(id=1000, title="given", author_id=author.id),
        Book(title="left", author_id=author.id),
    ]
    mixed[1].title = "x" * 201
    with pytest.raises(ValidationError, match="title"):
        await Book.bulk_create(mixed)
    mixed[1].title = "left"
    await Book.bulk_create(mixed)
    assert mixed[0].pk == 1000 and mixed[1].pk not in (None, 1000)
    assert await Book.filter(title__in=["given", "left"]).count() == 2
