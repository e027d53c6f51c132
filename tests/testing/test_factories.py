"""factory_boy factories and `make()` for yara-orm models."""

from __future__ import annotations

from tests.testing.conftest import Runner

FACTORIES = """
import factory
from app_models import Author, Book, Tag
from yara_testing import ModelFactory, register


class AuthorFactory(ModelFactory):
    class Meta:
        model = Author

    name = factory.Sequence(lambda n: f"author-{n}")


class TagFactory(ModelFactory):
    class Meta:
        model = Tag

    label = factory.Faker("word")


class BookFactory(ModelFactory):
    class Meta:
        model = Book

    title = factory.LazyAttribute(lambda book: f"A book by {book.author.name}")
    author = factory.SubFactory(AuthorFactory)

    class Params:
        sequel = factory.Trait(title="The Return")

    @factory.post_generation
    def tags(self, create, extracted, **kwargs):
        if create and extracted:
            return self.tags.add(*extracted)


class AuthorWithBookFactory(AuthorFactory):
    book = factory.RelatedFactory(BookFactory, factory_related_name="author")


register(AuthorFactory)
register(BookFactory)
"""


def test_model_factories(app: Runner) -> None:
    result = app(
        conftest=FACTORIES,
        test_factories="""
        import pytest
        from app_models import Author, Book, Tag
        from conftest import AuthorWithBookFactory, BookFactory, TagFactory


        async def test_create_saves_the_graph(yara_db):
            book = await BookFactory.create()
            assert book.pk and book.author.pk
            assert book.title == f"A book by {book.author.name}"
            loaded = await Book.get(pk=book.pk)
            assert loaded.author_id == book.author.pk


        async def test_build_touches_no_database(yara_db):
            with yara_db.assert_num_queries(0):
                book = BookFactory.build()
            assert book.pk is None and book.author.pk is None


        async def test_batch_inserts_in_bulk(yara_db):
            with yara_db.record() as log:
                books = await BookFactory.create_batch(10)
            assert len({b.pk for b in books}) == 10
            inserts = log.filter(sql_contains="INSERT")
            assert len(inserts) == 2, [r.sql for r in inserts]  # one per table
            assert await Author.all().count() == 10


        async def test_traits_related_factories_and_post_generation(yara_db):
            sequel = await BookFactory.create(sequel=True)
            assert sequel.title == "The Return"
            author = await AuthorWithBookFactory.create()
            assert await author.books.count() == 1
            tags = await TagFactory.create_batch(2)
            tagged = await BookFactory.create(tags=tags)
            assert sorted(t.pk for t in await tagged.tags.all()) == sorted(t.pk for t in tags)


        def test_sync_create_says_how(yara_db):
            with pytest.raises(RuntimeError, match="coroutine function here: use .await"):
                BookFactory._generate("create", {})


        async def test_registered_fixtures(author, book_factory, yara_db):
            assert author.pk and author.name.startswith("author-")
            book = await book_factory.create(author=author)
            assert book.author_id == author.pk
        """,
    )
    result.assert_outcomes(passed=6)


def test_make_fills_required_fields(app: Runner) -> None:
    result = app(
        test_make="""
        from app_models import Author, Book


        async def test_make(yara_db):
            book = await yara_db.make(Book)
            assert book.pk and book.title and len(book.title) <= 100
            assert (await book.author).pk  # the required relation was made too
            authors = await yara_db.make(Author, _quantity=20)
            assert len({a.name for a in authors}) == 20  # unique fields stay unique
            named = await yara_db.make(Author, name="Chosen")
            assert named.name == "Chosen"
        """,
    )
    result.assert_outcomes(passed=1)
