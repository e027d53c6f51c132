"""Tortoise ORM 1.1.9: asyncpg on PostgreSQL, aiosqlite on SQLite."""

from __future__ import annotations

from common import TortoiseStyle, declare_models, main
from tortoise import Tortoise, connections, fields
from tortoise.models import Model

Author, Book, BigBook = declare_models(
    Model, fields, "tortoise", module=__name__, author_ref="models.Author"
)


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
