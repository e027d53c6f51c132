"""yara-orm as it is in this repository (installed from the working tree, release build)."""

from __future__ import annotations

from common import TortoiseStyle, declare_models, main

from yara_orm import Model, YaraOrm, connections, fields

Author, Book, BigBook = declare_models(Model, fields, "ours", module=__name__)


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
