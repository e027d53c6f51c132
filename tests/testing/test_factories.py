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


BUILD_ONLY = """
import factory
from app_models import Author, Book
from yara_testing import ModelFactory


class AuthorFactory(ModelFactory):
    class Meta:
        model = Author

    name = factory.Sequence(lambda n: f"author-{n}")


class BookFactory(ModelFactory):
    class Meta:
        model = Book

    title = "Dune"
    author = factory.SubFactory(AuthorFactory)
"""


def test_build_alone_needs_no_database(app: Runner) -> None:
    # The only test of the run: nothing else initialises the ORM before it.
    result = app(
        conftest=BUILD_ONLY,
        test_build="""
        from conftest import BookFactory


        def test_build_without_the_database():
            book = BookFactory.build()
            assert book.title == "Dune" and book.author.name.startswith("author-")
            assert book.pk is None and book.author.pk is None
        """,
    )
    result.assert_outcomes(passed=1)
    result.stdout.no_fnmatch_line("*provisioning*")  # no database was opened for it


GET_OR_CREATE = """
import factory
from app_models import Author, Book
from yara_testing import ModelFactory


class AuthorFactory(ModelFactory):
    class Meta:
        model = Author
        get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"author-{n}")


class BookFactory(ModelFactory):
    class Meta:
        model = Book

    title = factory.Sequence(lambda n: f"book-{n}")
    author = factory.SubFactory(AuthorFactory)


class BookByAuthorFactory(BookFactory):
    class Meta:
        get_or_create = ("title", "author")


class BadFactory(ModelFactory):
    class Meta:
        model = Author
        get_or_create = ("nickname",)

    name = "x"
"""


def test_get_or_create(app: Runner) -> None:
    result = app(
        conftest=GET_OR_CREATE,
        test_get_or_create="""
        import factory
        import pytest
        from app_models import Author, Book
        from conftest import AuthorFactory, BadFactory, BookByAuthorFactory, BookFactory


        async def test_an_existing_row_is_returned(yara_db):
            first = await AuthorFactory.create(name="Ann")
            again = await AuthorFactory.create(name="Ann")
            assert again.pk == first.pk and again._saved_in_db
            assert await Author.all().count() == 1
            other = await AuthorFactory.create()
            assert other.pk != first.pk


        async def test_a_subfactory_reuses_the_row(yara_db):
            ann = await AuthorFactory.create(name="Ann")
            book = await BookFactory.create(author__name="Ann")
            assert book.author.pk == ann.pk
            assert (await Book.get(pk=book.pk)).author_id == ann.pk
            assert await Author.all().count() == 1


        async def test_in_a_batch_one_row_per_key(yara_db):
            with yara_db.record() as log:
                books = await BookFactory.create_batch(5, author__name="Bea")
            assert len({b.author.pk for b in books}) == 1
            assert await Author.all().count() == 1 and await Book.all().count() == 5
            assert len(log.filter(kind="INSERT")) == 2  # the author once, the books
            assert len(log.filter(kind="SELECT")) == 1  # one lookup for the authors
            with yara_db.record() as log:
                more = await BookFactory.create_batch(3, author__name="Bea")
            assert {b.author.pk for b in more} == {books[0].author.pk}
            assert len(log.filter(sql_contains="INSERT")) == 1  # only the books
            assert await Author.all().count() == 1


        async def test_a_relation_as_key(yara_db):
            ann = await AuthorFactory.create(name="Ann")
            first = await BookByAuthorFactory.create(title="Dune", author=ann)
            again = await BookByAuthorFactory.create(title="Dune", author=ann)
            other = await BookByAuthorFactory.create(title="Dune")
            assert again.pk == first.pk and other.pk != first.pk
            assert await Book.filter(title="Dune").count() == 2


        async def test_the_row_wins_over_the_built_values(yara_db):
            dune = await BookByAuthorFactory.create(title="Dune", author__name="Frank")
            frank = dune.author
            again = await BookByAuthorFactory.create(title="Dune", author=frank)
            assert again.pk == dune.pk and again.author.name == "Frank"


        async def test_a_bad_key_says_which(yara_db):
            with pytest.raises(factory.errors.FactoryError, match="'nickname'.*fields: id, name"):
                await BadFactory.create()
        """,
    )
    result.assert_outcomes(passed=6)


REGISTERED = """
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

    label = "tag"


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


register(BookFactory)  # registers AuthorFactory too: `author` is what `book__author` is
register(AuthorFactory, "ann", name="Ann")
register(BookFactory, "annes_book", author__name="Anne")
register(TagFactory)
"""


def test_register_names_overrides_and_parametrize(app: Runner) -> None:
    result = app(
        conftest=REGISTERED,
        test_registered="""
        import pytest
        from app_models import Author, Book
        from conftest import AuthorFactory, BookFactory


        async def test_fixtures(book, author, book_factory, author_factory, yara_db):
            assert book_factory is BookFactory and author_factory is AuthorFactory
            assert book.pk and book.author is author
            assert book.title == f"A book by {author.name}"


        async def test_a_named_registration_with_overrides(ann, ann__name, author, yara_db):
            assert ann.pk and ann.name == ann__name == "Ann"
            assert author.pk != ann.pk and author.name.startswith("author-")


        async def test_a_nested_override_makes_an_own_row(annes_book, author, yara_db):
            assert annes_book.author.name == "Anne" and annes_book.author.pk != author.pk


        @pytest.mark.parametrize("author__name", ["Bill", "Ada"])
        async def test_a_related_attribute(book, author__name, yara_db):
            assert book.author.name == author__name
            assert book.title == f"A book by {author__name}"


        @pytest.mark.parametrize("book__title", ["Dune"])
        @pytest.mark.parametrize("book__sequel", [False])
        async def test_an_attribute(book, yara_db):
            assert book.title == "Dune"


        @pytest.mark.parametrize("book__sequel", [True])
        async def test_a_trait(book, yara_db):
            assert book.title == "The Return"


        @pytest.mark.parametrize("book__author__name", ["Zed"])
        async def test_a_relation_of_its_own(book, author, yara_db):
            assert book.author.name == "Zed" and book.author.pk != author.pk
            assert await Author.filter(name="Zed").count() == 1


        @pytest.fixture
        def book__tags(tag):
            return [tag]


        async def test_a_fixture_overrides_an_attribute(book, tag, yara_db):
            assert [t.pk for t in await book.tags.all()] == [tag.pk]


        @pytest.mark.parametrize("author__name", ["Sam"])
        async def test_only_the_changed_attributes_are_passed(book, author, yara_db):
            # the sequence still numbers the ones not given
            assert author.name == "Sam" and await Book.all().count() == 1
        """,
    )
    result.assert_outcomes(passed=10)


def test_registered_fixtures_are_documented(app: Runner) -> None:
    result = app("--fixtures", conftest=REGISTERED)
    assert result.ret == 0
    output = result.stdout.str()
    registered = output[output.index("fixtures defined from conftest") :]
    # Each at the line of the register() call that made it, with what it gives as its doc.
    line = REGISTERED.lstrip("\n").splitlines().index('register(AuthorFactory, "ann", name="Ann")')
    result.stdout.fnmatch_lines(
        [
            f"ann -- conftest.py:{line + 1}",
            "    Author saved by AuthorFactory with name='Ann'. Change a field with "
            '@pytest.mark.parametrize("ann__<field>", [...]) or a fixture named ann__<field>.',
        ]
    )
    for expected in [
        "The BookFactory class: `await book_factory.create(**kw)` saves a Book",
        "ann's `name`: 'Ann'. Parametrize or override this fixture to change it.",
        "book's `title`: the factory's LazyAttribute.",
        "book's `sequel`: False.",
        "The `author` fixture; a Author of its own, made by AuthorFactory, when a "
        "book__author__<field> is parametrized or overridden.",
        "the `name` of book's own `author`, used only when given",
    ]:
        assert expected in registered, expected


def test_factory_call_is_create(app: Runner) -> None:
    result = app(
        conftest=BUILD_ONLY,
        test_call="""
        import inspect
        from app_models import Author
        from conftest import AuthorFactory


        async def test_calling_the_factory_returns_a_coroutine(yara_db):
            pending = AuthorFactory(name="Ann")
            assert inspect.iscoroutine(pending)
            author = await pending
            assert author.pk and await Author.filter(name="Ann").count() == 1
        """,
    )
    result.assert_outcomes(passed=1)


def test_queries_of_registered_fixtures_name_the_fixture(app: Runner) -> None:
    result = app(
        conftest=REGISTERED,
        test_location="""
        import re
        from pathlib import Path

        import pytest


        def defined_at(location, fixture, factory):
            pattern = rf"fixture {fixture} \\({factory}, conftest.py:(\\d+)\\)"
            match = re.fullmatch(pattern, location)
            assert match, location
            line = Path("conftest.py").read_text().splitlines()[int(match[1]) - 1]
            assert line.startswith(f"class {factory}("), line


        async def test_the_fixture_and_the_factory(book, yara_db):
            inserts = yara_db.queries.filter(sql_contains="INSERT")
            defined_at(inserts[0].location, "author", "AuthorFactory")
            defined_at(inserts[1].location, "book", "BookFactory")


        @pytest.mark.parametrize("book__author__name", ["Zed"])
        async def test_a_related_row_of_its_own(book, yara_db):
            author_insert = yara_db.queries.filter(sql_contains="INSERT")[0]
            defined_at(author_insert.location, "book__author", "AuthorFactory")
        """,
    )
    result.assert_outcomes(passed=2)
