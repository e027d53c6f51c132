"""The raw drivers: asyncpg on PostgreSQL, the standard library's sqlite3 on SQLite.

What a hand-written data layer would do: asyncpg through a pool (max_size 10, as ours),
statements prepared and cached by asyncpg; sqlite3 in autocommit mode with the same pragmas as
the ORMs (WAL, synchronous=NORMAL), called straight from the coroutines (it blocks the event
loop, which the stall figure shows). sqlite3 returns what SQLite stores: text for the
timestamp and uuid columns, 0/1 for the boolean, a float for the price (NUMERIC affinity);
the ORMs decode them.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from common import AUTHORS, Contender, main, sqlite_path

COLUMNS = "title, pages, price, published, code, in_print, rating, author_id"
SELECT = f"SELECT id, {COLUMNS} FROM raw_book"
PLACES = ", ".join(f"${n}" for n in range(1, 9))
DDL_PG = """
CREATE TABLE IF NOT EXISTS raw_author (id serial PRIMARY KEY, name varchar(100) NOT NULL);
CREATE TABLE IF NOT EXISTS {table} (
    id serial PRIMARY KEY, title varchar(200) NOT NULL, pages int NOT NULL,
    price numeric(10,2) NOT NULL, published timestamptz NOT NULL, code uuid NOT NULL,
    in_print bool NOT NULL, rating double precision NOT NULL,
    author_id int NOT NULL REFERENCES raw_author (id) ON DELETE CASCADE)
"""
DDL_LITE = """
CREATE TABLE IF NOT EXISTS raw_author (id INTEGER PRIMARY KEY, name VARCHAR(100) NOT NULL);
CREATE TABLE IF NOT EXISTS {table} (
    id INTEGER PRIMARY KEY, title VARCHAR(200) NOT NULL, pages INT NOT NULL,
    price NUMERIC(10,2) NOT NULL, published TIMESTAMP NOT NULL, code CHAR(36) NOT NULL,
    in_print INT NOT NULL, rating REAL NOT NULL,
    author_id INT NOT NULL REFERENCES raw_author (id) ON DELETE CASCADE);
"""


class RawPostgres(Contender):
    name = "raw"
    packages = ("asyncpg",)

    async def setup(self, fresh: bool) -> None:
        import asyncpg

        self.pool = await asyncpg.create_pool(self.url, min_size=1, max_size=10)
        if fresh:
            await self.pool.execute("DROP TABLE IF EXISTS raw_book_big, raw_book, raw_author")
        for table in ("raw_book", "raw_book_big"):
            await self.pool.execute(DDL_PG.format(table=table))
        if not await self.pool.fetchval("SELECT count(*) FROM raw_author"):
            await self.pool.executemany(
                "INSERT INTO raw_author (name) VALUES ($1)",
                [(f"Author {i}",) for i in range(AUTHORS)],
            )

    async def close(self) -> None:
        await self.pool.close()

    async def clear(self) -> None:
        await self.pool.execute("DELETE FROM raw_book")

    async def big_count(self) -> int:
        return int(await self.pool.fetchval("SELECT count(*) FROM raw_book_big"))

    async def insert_many(self, table: str, rows: list[dict[str, Any]]) -> None:
        sql = f"INSERT INTO {table} ({COLUMNS}) VALUES ({PLACES})"
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.executemany(sql, [tuple(r.values()) for r in rows])

    async def fill_big(self, rows: list[dict[str, Any]]) -> None:
        await self.pool.execute("DELETE FROM raw_book_big")
        await self.insert_many("raw_book_big", rows)

    async def ids(self) -> list[int]:
        return [r[0] for r in await self.pool.fetch("SELECT id FROM raw_book ORDER BY id")]

    async def bulk_insert(self, rows: list[dict[str, Any]]) -> None:
        await self.insert_many("raw_book", rows)

    async def fetch_all(self) -> Any:
        return await self.pool.fetch(SELECT)

    async def values(self) -> Any:
        return [dict(r) for r in await self.pool.fetch(SELECT)]

    async def get(self, pk: int) -> Any:
        return await self.pool.fetchrow(f"{SELECT} WHERE id = $1", pk)

    async def filter_count(self, pages: int) -> int:
        return int(
            await self.pool.fetchval("SELECT count(*) FROM raw_book WHERE pages > $1", pages)
        )

    async def filter_order_limit(self) -> Any:
        return await self.pool.fetch(f"{SELECT} WHERE price > $1 ORDER BY id DESC LIMIT 100", 50)

    async def update(self) -> Any:
        return await self.pool.execute(
            "UPDATE raw_book SET in_print = $1 WHERE pages < $2", False, 100
        )

    async def single_insert(self, row: dict[str, Any]) -> Any:
        sql = f"INSERT INTO raw_book ({COLUMNS}) VALUES ({PLACES}) RETURNING id"
        return await self.pool.fetchval(sql, *row.values())

    async def fetch_big(self) -> Any:
        return await self.pool.fetch(f"SELECT id, {COLUMNS} FROM raw_book_big")


def plain(row: dict[str, Any]) -> tuple[Any, ...]:
    """What sqlite3 can bind: it has no adapter for Decimal, UUID or aware datetimes."""
    return (
        row["title"],
        row["pages"],
        str(row["price"]),
        row["published"].isoformat(" "),
        str(row["code"]),
        row["in_print"],
        row["rating"],
        row["author_id"],
    )


class RawSqlite(Contender):
    name = "raw"
    packages = ()

    async def setup(self, fresh: bool) -> None:
        self.db = sqlite3.connect(sqlite_path(self.url), isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA foreign_keys=ON")
        if fresh:
            for table in ("raw_book_big", "raw_book", "raw_author"):
                self.db.execute(f"DROP TABLE IF EXISTS {table}")
        for table in ("raw_book", "raw_book_big"):
            self.db.executescript(DDL_LITE.format(table=table))
        if not self.db.execute("SELECT count(*) FROM raw_author").fetchone()[0]:
            names = [(f"Author {i}",) for i in range(AUTHORS)]
            self.in_transaction("INSERT INTO raw_author (name) VALUES (?)", names)

    def in_transaction(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        self.db.execute("BEGIN")
        self.db.executemany(sql, rows)
        self.db.execute("COMMIT")

    async def close(self) -> None:
        self.db.close()

    async def clear(self) -> None:
        self.db.execute("DELETE FROM raw_book")

    async def big_count(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM raw_book_big").fetchone()[0])

    async def fill_big(self, rows: list[dict[str, Any]]) -> None:
        self.db.execute("DELETE FROM raw_book_big")
        sql = f"INSERT INTO raw_book_big ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        self.in_transaction(sql, [plain(r) for r in rows])

    async def ids(self) -> list[int]:
        return [r[0] for r in self.db.execute("SELECT id FROM raw_book ORDER BY id")]

    async def bulk_insert(self, rows: list[dict[str, Any]]) -> None:
        sql = f"INSERT INTO raw_book ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        self.in_transaction(sql, [plain(r) for r in rows])

    async def fetch_all(self) -> Any:
        return self.db.execute(SELECT).fetchall()

    async def values(self) -> Any:
        cursor = self.db.execute(SELECT)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    async def get(self, pk: int) -> Any:
        return self.db.execute(f"{SELECT} WHERE id = ?", (pk,)).fetchone()

    async def filter_count(self, pages: int) -> int:
        sql = "SELECT count(*) FROM raw_book WHERE pages > ?"
        return int(self.db.execute(sql, (pages,)).fetchone()[0])

    async def filter_order_limit(self) -> Any:
        sql = f"{SELECT} WHERE price > ? ORDER BY id DESC LIMIT 100"
        return self.db.execute(sql, (50,)).fetchall()

    async def update(self) -> Any:
        return self.db.execute("UPDATE raw_book SET in_print = ? WHERE pages < ?", (False, 100))

    async def single_insert(self, row: dict[str, Any]) -> Any:
        sql = f"INSERT INTO raw_book ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        return self.db.execute(sql, plain(row)).lastrowid

    async def fetch_big(self) -> Any:
        return self.db.execute(f"SELECT id, {COLUMNS} FROM raw_book_big").fetchall()


def raw(backend: str, url: str) -> Contender:
    return RawPostgres(backend, url) if backend == "postgres" else RawSqlite(backend, url)


if __name__ == "__main__":
    main(raw)
