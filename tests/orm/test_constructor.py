"""The model constructor (compiled per model): values of the exact type a plain field takes
are stored as they are, everything else is validated, with the same results either way."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from tests.orm.models import Author, Book, Tag
from yara_orm import FieldError, ValidationError


async def test_values_of_the_exact_type_are_taken_and_the_rest_validated(orm: str) -> None:
    author = await Author.create(name="Ada")
    book = Book(title="Title", author_id=author.id, price=Decimal("2.5"), rating=4)
    assert (book.title, book.author_id, book.price, book.rating) == (
        "Title",
        author.id,
        Decimal("2.50"),
        4.0,
    )
    assert type(book.rating) is float  # an int for a float field is converted
    assert Book(title=17, author_id=author.id).title == "17"  # numbers become text
    assert Book(title="t", author_id=str(author.id)).author_id == author.id
    await book.save()
    assert (await Book.get(id=book.id)).rating == 4.0


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"title": "x" * 201}, "title"),
        ({"title": "a\x00b"}, "title"),
        ({"author_id": True}, r"Book\.author: True is not a valid key \(Author\.id: "),
        ({"author_id": 2**40}, r"Book\.author: .* is out of range"),
        ({"rating": "high"}, "rating"),
        ({"price": Decimal("1e20")}, "price"),
    ],
)
async def test_values_a_plain_field_refuses_are_refused(
    orm: str, values: dict[str, object], field: str
) -> None:
    given = {"title": "ok", "author_id": 1, **values}
    with pytest.raises(ValidationError, match=field):
        Book(**given)


async def test_defaults_and_unknown_names(orm: str) -> None:
    author = await Author.create(name="Ada")
    book = Book(title="t", author=author)
    assert (book.id, book.price, book.author_id, book.rating) == (
        None,
        Decimal("0"),
        author.id,
        None,
    )
    assert book.published is not None  # auto_now_add
    assert Tag(name="x").id is None
    with pytest.raises(FieldError, match="no field 'nonsense'"):
        Book(title="t", nonsense=1)
    key = uuid.uuid4()
    with pytest.raises(ValidationError, match="title"):
        Book(title=key.bytes, author_id=author.id)
