"""Querysets of one shape reuse their compiled SQL: each run still gets its own values,
validated as on the first run, and shapes that differ in anything but values never mix."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from tests.orm.models import Author, Book, Event, Kind
from yara_orm.exceptions import DoesNotExist, ValidationError
from yara_orm.query import shapes

pytestmark = pytest.mark.usefixtures("orm")


async def _library() -> list[Author]:
    authors = [await Author.create(id=i, name=f"author {i}") for i in range(1, 4)]
    for author in authors:
        for n in range(3):
            await Book.create(
                id=author.id * 10 + n,
                title=f"{author.name} book {n}",
                author=author,
                price=Decimal(n),
            )
    return authors


async def test_one_shape_many_values() -> None:
    await _library()
    for key in (1, 2, 3, 1):
        author = await Author.get(id=key)
        assert (author.id, author.name) == (key, f"author {key}")
    assert [b.id for b in await Book.filter(author_id=2).order_by("-id")] == [22, 21, 20]
    assert [b.id for b in await Book.filter(author_id=3).order_by("-id")] == [32, 31, 30]
    assert [b.id for b in await Book.filter(author_id=3).order_by("id")] == [30, 31, 32]
    assert [b.id for b in await Book.filter(author_id=3).order_by("id").limit(2)] == [30, 31]
    page = Book.filter(author_id=3).order_by("id").limit(2).offset(1)
    assert [b.id for b in await page] == [31, 32]
    assert [b.id for b in await Book.filter(author_id=3).order_by("id").offset(2)] == [32]


async def test_a_cached_shape_still_validates_every_value() -> None:
    await _library()
    assert (await Author.get(id=1)).id == 1
    with pytest.raises(ValidationError, match="id"):
        await Author.get(id="not a number")
    with pytest.raises(DoesNotExist):
        await Author.get(id=99)


async def test_model_instances_and_keys_give_the_same_rows() -> None:
    authors = await _library()
    by_key = [b.id for b in await Book.filter(author=2).order_by("id")]
    by_instance = [b.id for b in await Book.filter(author=authors[1]).order_by("id")]
    assert by_key == by_instance == [20, 21, 22]


async def test_none_and_expressions_are_not_values_of_a_shape() -> None:
    await _library()
    await Book.filter(id=20).update(rating=4.5)
    assert [b.id for b in await Book.filter(rating=4.5)] == [20]
    # The same keys with None compile to IS NULL, not "= NULL".
    assert len(await Book.filter(rating=None)) == 8
    assert [b.id for b in await Book.filter(rating=4.5)] == [20]


async def test_shapes_of_different_models_and_fields_do_not_mix() -> None:
    await _library()
    event = await Event.create(id=uuid.uuid4(), kind=Kind.OPEN)
    assert (await Event.get(id=event.id)).id == event.id
    assert (await Author.get(id=1)).name == "author 1"
    assert (await Book.get(id=10)).title == "author 1 book 0"
    assert (await Book.get(title="author 1 book 0")).id == 10


async def test_plain_shapes_are_compiled_once() -> None:
    await _library()
    for key in range(1, 4):
        await Author.get(id=key)
        await Author.filter(name=f"author {key}").first()
    cached = {
        shape[3]: entry
        for shape, entry in shapes._CACHE.items()
        if shape[0] == "select" and shape[1] is Author
    }
    assert cached[(("id",),)] is not None
    assert cached[(("name",),)] is not None
    # A shape that is not plain (a lookup through a relation) is never cached.
    assert [a.id for a in await Author.filter(books__id=21)] == [2]
    assert all("__" not in key for keys in cached for group in keys for key in group)


async def test_counts_of_one_shape() -> None:
    await _library()
    assert [await Book.filter(author_id=k).count() for k in (1, 2, 3, 4)] == [3, 3, 3, 0]
    assert await Book.filter(author_id=1).limit(2).count() == 2
    assert await Book.filter(author_id=1).offset(1).count() == 2
    with pytest.raises(ValidationError):
        await Book.filter(author_id="x").count()
    counts = [s for s in shapes._CACHE if s[0] == "count" and s[1] is Book]
    assert counts and all(shapes._CACHE[s] is not None for s in counts)


async def test_comparisons_of_one_shape() -> None:
    await _library()
    assert [await Book.filter(id__gt=k).count() for k in (0, 20, 31, 99)] == [9, 5, 1, 0]
    assert [b.id for b in await Book.filter(id__gte=21, id__lt=31).order_by("id")] == [
        21,
        22,
        30,
    ]
    assert [b.id for b in await Book.filter(id__gte=11, id__lte=12).order_by("id")] == [11, 12]
    with pytest.raises(ValidationError):
        await Book.filter(id__gt=None).count()
    with pytest.raises(ValidationError):
        await Book.filter(id__gt="many").count()
