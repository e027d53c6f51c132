"""only(): partial instances, across relations, and what saving one may do."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.orm.models import Author, Book, Note
from yara_orm import Count, FieldError, IncompleteInstanceError, ParamsError


@pytest.fixture
async def books(orm: str) -> Author:
    ada = await Author.create(name="Ada")
    await Book.create(title="Notes", author=ada, price=Decimal("10.00"))
    await Book.create(title="Sketch", author=ada, price=Decimal("5.50"))
    return ada


async def test_only_loads_just_the_named_fields(books: Author) -> None:
    book = await Book.get(title="Notes").only("title")
    assert book.title == "Notes"
    for name in ("id", "price", "author", "author_id"):
        with pytest.raises(AttributeError):
            getattr(book, name)


async def test_only_across_a_relation_builds_partial_related_objects(books: Author) -> None:
    found = await Book.filter(author=books).only("title", "author__name").order_by("title")
    assert [(b.title, b.author.name) for b in found] == [("Notes", "Ada"), ("Sketch", "Ada")]
    with pytest.raises(AttributeError):
        _ = found[0].author.id
    # select_related of the same relation loads what only() names, no more.
    book = await Book.filter(title="Notes").select_related("author").only("author__name").first()
    assert book is not None and book.author.name == "Ada"
    with pytest.raises(AttributeError):
        _ = book.title


async def test_only_follows_a_chain_and_tells_a_missing_relation(orm: str) -> None:
    grand = await Note.create(text="grand")
    parent = await Note.create(text="parent", parent=grand)
    child = await Note.create(text="child", parent=parent)
    got = await Note.get(pk=child.pk).only("parent__parent__text", "parent__text", "text")
    assert (got.text, got.parent.text, got.parent.parent.text) == ("child", "parent", "grand")
    top = await Note.get(pk=grand.pk).only("text", "parent__text")
    assert top.parent is None


async def test_only_with_an_annotation(books: Author) -> None:
    (author,) = await Author.annotate(n=Count("books")).only("name", "n")
    assert (author.name, author.n) == ("Ada", 2)
    with pytest.raises(AttributeError):
        _ = author.born


async def test_saving_a_partial_instance(books: Author) -> None:
    no_pk = await Book.get(title="Notes").only("title")
    with pytest.raises(IncompleteInstanceError, match="is a partial model"):
        await no_pk.save()
    with pytest.raises(IncompleteInstanceError, match="Partial update not available"):
        await no_pk.save(update_fields=["title"])
    with_pk = await Book.get(title="Notes").only("id", "title")
    with pytest.raises(IncompleteInstanceError, match="field 'price' is not available"):
        await with_pk.save(update_fields=["price"])
    with_pk.title = "Notes, revised"
    await with_pk.save(update_fields=["title"])
    saved = await Book.get(pk=with_pk.pk)
    assert (saved.title, saved.price) == ("Notes, revised", Decimal("10.00"))


async def test_bad_only_calls(books: Author) -> None:
    with pytest.raises(ParamsError):
        Book.all().only()
    with pytest.raises(ParamsError, match="only"):
        Book.all().only("title").values("title")
    with pytest.raises(FieldError, match="colour"):
        await Book.all().only("colour")
