"""Tortoise ORM 1.1.9: asyncpg on PostgreSQL, aiosqlite on SQLite."""

from __future__ import annotations

from common import TortoiseStyle, main
from tortoise import Tortoise, connections, fields
from tortoise.models import Model


class Author(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=100)

    class Meta:
        table = "tortoise_author"


class BookFields(Model):
    id = fields.IntField(primary_key=True)
    title = fields.CharField(max_length=200)
    pages = fields.IntField()
    price = fields.DecimalField(max_digits=10, decimal_places=2)
    published = fields.DatetimeField()
    code = fields.UUIDField()
    in_print = fields.BooleanField()
    rating = fields.FloatField()

    class Meta:
        abstract = True


class Book(BookFields):
    author = fields.ForeignKeyField("models.Author", related_name="books")

    class Meta:
        table = "tortoise_book"


class BigBook(BookFields):
    author = fields.ForeignKeyField("models.Author", related_name="big_books")

    class Meta:
        table = "tortoise_book_big"


class TortoiseOrm(TortoiseStyle):
    name = "tortoise"
    packages = ("tortoise-orm", "asyncpg", "aiosqlite")
    Author, Book, BigBook = Author, Book, BigBook
    tables = ("tortoise_book_big", "tortoise_book", "tortoise_author")

    async def connect(self) -> None:
        await Tortoise.init(
            db_url=self.url, modules={"models": [type(self).__module__]}, use_tz=True
        )
        await Tortoise.generate_schemas()

    async def script(self, sql: str) -> None:
        await connections.get("default").execute_script(sql)

    async def close(self) -> None:
        await Tortoise.close_connections()


if __name__ == "__main__":
    main(TortoiseOrm)
