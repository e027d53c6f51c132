"""yara-orm 1.19.1, the package published on PyPI under the same name (a different code base
with a Tortoise-style API of its own): models register themselves when they are defined, and
`YaraOrm.init` takes only the URL. It runs SQLite on its default asynchronous path (its
`?sync_fast_path=1` option is not used, as ours has no such mode)."""

from __future__ import annotations

from common import TortoiseStyle, main

from yara_orm import Model, YaraOrm, connections, fields


class Author(Model):
    id = fields.IntField(pk=True)
    name = fields.CharField(max_length=100)

    class Meta:
        table = "y119_author"


class BookFields(Model):
    id = fields.IntField(pk=True)
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
    author = fields.ForeignKeyField("Author", related_name="books")

    class Meta:
        table = "y119_book"


class BigBook(BookFields):
    author = fields.ForeignKeyField("Author", related_name="big_books")

    class Meta:
        table = "y119_book_big"


class Yara119(TortoiseStyle):
    name = "yara_1_19"
    packages = ("yara-orm",)
    Author, Book, BigBook = Author, Book, BigBook
    tables = ("y119_book_big", "y119_book", "y119_author")

    async def connect(self) -> None:
        await YaraOrm.init(self.url, use_tz=True)
        await YaraOrm.generate_schemas()

    async def script(self, sql: str) -> None:
        await connections.get("default").execute_script(sql)

    async def close(self) -> None:
        await YaraOrm.close()


if __name__ == "__main__":
    main(Yara119)
