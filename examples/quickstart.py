"""A tour of the yara-orm engine on an in-memory SQLite database (or any URL you pass).

    python examples/quickstart.py
    python examples/quickstart.py postgres://postgres@127.0.0.1:5432/postgres

It builds a small bookshop, loads it in one batch, queries it with per-statement timings,
shows a transaction rolling back, and shows the isolation mode that the test toolkit wraps
around every test.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import sys
import uuid
from decimal import Decimal

from yara_orm import Engine, IntegrityError, connect

SCHEMA = {
    "sqlite": """
        CREATE TABLE author (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
        CREATE TABLE book (
            id INTEGER PRIMARY KEY,
            isbn UUID NOT NULL,
            title TEXT NOT NULL,
            price DECIMAL_TEXT NOT NULL,
            published DATE,
            in_stock BOOLEAN NOT NULL,
            author_id INTEGER NOT NULL REFERENCES author(id)
        );
    """,
    "postgres": """
        DROP TABLE IF EXISTS book; DROP TABLE IF EXISTS author;
        CREATE TABLE author (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
        CREATE TABLE book (
            id INTEGER PRIMARY KEY,
            isbn UUID NOT NULL,
            title TEXT NOT NULL,
            price NUMERIC(10, 2) NOT NULL,
            published DATE,
            in_stock BOOLEAN NOT NULL,
            author_id INTEGER NOT NULL REFERENCES author(id)
        );
    """,
}


def marks(engine: Engine, count: int) -> str:
    if engine.backend == "postgres":
        return ", ".join(f"${i}" for i in range(1, count + 1))
    return ", ".join("?" * count)


async def main(url: str) -> None:
    engine = await connect(url)
    print(f"connected: {engine!r}")
    await engine.execute_script(SCHEMA[engine.backend])

    authors = [[1, "Ada Lovelace"], [2, "Grace Hopper"], [3, "Edsger Dijkstra"]]
    await engine.execute_many(f"INSERT INTO author (id, name) VALUES ({marks(engine, 2)})", authors)
    books = [
        [
            n,
            uuid.uuid5(uuid.NAMESPACE_URL, f"book/{n}"),
            f"Volume {n}",
            Decimal(f"{10 + n % 7}.{n % 100:02d}"),
            dt.date(1950, 1, 1) + dt.timedelta(days=97 * n),
            n % 3 != 0,
            1 + n % 3,
        ]
        for n in range(1, 1001)
    ]
    inserted, stats = await engine.execute_many(
        f"INSERT INTO book (id, isbn, title, price, published, in_stock, author_id) "
        f"VALUES ({marks(engine, 7)})",
        books,
        with_stats=True,
    )
    print(f"inserted {inserted} books in {stats.total * 1000:.1f} ms")

    rows, stats = await engine.fetch_rows(
        "SELECT a.name, count(*), sum(b.price) FROM book b JOIN author a ON a.id = b.author_id "
        "WHERE b.in_stock GROUP BY a.name ORDER BY a.name",
        with_stats=True,
    )
    for name, count, total in rows:
        print(f"  {name:<16} {count:>4} books in stock, worth {total}")
    print(f"  ({stats})")

    names, rows = await engine.fetch_rows(
        f"SELECT isbn, title, price, published FROM book WHERE id = {marks(engine, 1)}",
        [42],
        with_columns=True,
    )
    print("book 42:", dict(zip(names, rows[0], strict=True)))

    tx = await engine.begin()
    await tx.execute("DELETE FROM book")
    await tx.rollback()
    remaining = await engine.fetch_rows("SELECT count(*) FROM book")
    print(f"a rolled-back DELETE left {remaining[0][0]} books")

    try:
        await engine.execute(
            f"INSERT INTO author (id, name) VALUES ({marks(engine, 2)})", [9, "Ada Lovelace"]
        )
    except IntegrityError as error:
        print(f"duplicate author refused: SQLSTATE {error.sqlstate}, constraint {error.constraint}")

    await engine.enter_isolation()
    await engine.execute("DELETE FROM book")
    tx = await engine.begin()  # a savepoint inside the isolation
    await engine.execute(
        f"INSERT INTO author (id, name) VALUES ({marks(engine, 2)})", [4, "Barbara Liskov"]
    )
    await tx.commit()
    await engine.leave_isolation()
    counts = await engine.fetch_rows(
        "SELECT (SELECT count(*) FROM book), (SELECT count(*) FROM author)"
    )
    print(f"after leaving isolation: {counts[0][0]} books, {counts[0][1]} authors (all restored)")
    await engine.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "sqlite://:memory:"))
