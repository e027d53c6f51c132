"""yara-orm as it is in this repository (installed from the working tree, release build)."""

from __future__ import annotations

from common import TortoiseStyle, main

from yara_orm import Model, YaraOrm, connections, fields


class Author(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=100)

    class Meta:
        table = "ours_author"


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
    author = fields.ForeignKeyField("Author", related_name="books")

    class Meta:
        table = "ours_book"


class BigBook(BookFields):
    author = fields.ForeignKeyField("Author", related_name="big_books")

    class Meta:
        table = "ours_book_big"


class Ours(TortoiseStyle):
    name = "ours"
    packages = ("yara-orm",)
    Author, Book, BigBook = Author, Book, BigBook
    tables = ("ours_book_big", "ours_book", "ours_author")

    async def connect(self) -> None:
        await YaraOrm.init(self.url, models=[Author, Book, BigBook])
        await YaraOrm.generate_schemas()

    async def script(self, sql: str) -> None:
        await connections.get("default").execute_script(sql)

    async def close(self) -> None:
        await YaraOrm.close()


if __name__ == "__main__":
    main(Ours)
