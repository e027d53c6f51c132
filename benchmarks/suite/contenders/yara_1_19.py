"""yara-orm 1.19.1, the package published on PyPI under the same name (a different code base
with a Tortoise-style API of its own): models register themselves when they are defined, and
`YaraOrm.init` takes only the URL. It runs SQLite on its default asynchronous path (its
`?sync_fast_path=1` option is not used, as ours has no such mode)."""

from __future__ import annotations

from common import TortoiseStyle, declare_models, main

from yara_orm import Model, YaraOrm, connections, fields

Author, Book, BigBook = declare_models(Model, fields, "y119", module=__name__, pk="pk")


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
