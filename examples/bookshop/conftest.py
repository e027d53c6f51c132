"""The bookshop's test set-up: factories, and a catalogue seeded once per session."""

from __future__ import annotations

import uuid
from decimal import Decimal

import factory
import pytest
from bookshop.models import Author, Book, Customer, Genre

from yara_testing import ModelFactory, register


class AuthorFactory(ModelFactory):
    class Meta:
        model = Author

    name = factory.Faker("name")
    email = factory.Sequence(lambda n: f"author{n}@example.com")


class GenreFactory(ModelFactory):
    class Meta:
        model = Genre

    name = factory.Sequence(lambda n: f"genre-{n}")


class BookFactory(ModelFactory):
    class Meta:
        model = Book

    title = factory.Faker("sentence", nb_words=3)
    isbn = factory.LazyFunction(uuid.uuid4)
    price = factory.LazyFunction(lambda: Decimal("12.50"))
    stock = 5
    author = factory.SubFactory(AuthorFactory)

    @factory.post_generation
    def genres(self, create, extracted, **kwargs):
        if create and extracted:
            return self.genres.add(*extracted)


class CustomerFactory(ModelFactory):
    class Meta:
        model = Customer

    name = factory.Faker("name")
    email = factory.Sequence(lambda n: f"customer{n}@example.com")


register(AuthorFactory)
register(BookFactory)
register(CustomerFactory)


@pytest.fixture(scope="session")
def yara_seed():
    """A standing catalogue every test starts from (and returns to)."""

    async def seed(db):
        classics = await GenreFactory.create(name="classics")
        await BookFactory.create_batch(5, genres=[classics])

    return seed
