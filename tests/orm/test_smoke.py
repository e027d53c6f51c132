from __future__ import annotations

from tests.orm.models import Author, Book, Tag


async def test_issue_example(orm: str) -> None:
    ada = await Author.create(name="Ada")
    for n in range(3):
        await Book.create(title=f"B{n}", author=ada)
    hot = await Book.filter(author__name="Ada").order_by("-id").limit(10)
    assert [b.title for b in hot] == ["B2", "B1", "B0"]
    from yara_orm import in_transaction

    async with in_transaction():
        await Book.create(title="Atomic", author=ada)
    assert await Book.all().count() == 4
    books = await Book.filter(author=ada).prefetch_related("tags").select_related("author")
    assert books[0].author.name == "Ada"
    t = await Tag.create(name="x")
    await books[0].tags.add(t)
    assert [tag.name for tag in await books[0].tags.all()] == ["x"]
    authors = await Author.all().prefetch_related("books")
    assert len(authors[0].books) == 4
