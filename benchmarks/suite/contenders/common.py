"""What every contender shares: the data, the operations, the timing loop and the JSON it prints.

Standard library only: it runs in each contender's own virtual environment. A contender
subclasses `Contender`, implements the data-access methods with its library, and calls `main`.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import json
import os
import sqlite3
import sys
import time
import traceback
import uuid
from collections.abc import Awaitable, Callable
from decimal import Decimal
from importlib.metadata import PackageNotFoundError, version
from typing import Any

SIZES = {
    "full": {"rows": 5000, "gets": 500, "inserts": 200, "counts": 100, "big": 100_000},
    "quick": {"rows": 500, "gets": 50, "inserts": 20, "counts": 10, "big": 10_000},
}
AUTHORS = 100

# In the order they run: the single inserts change the row count, so they come after the reads.
OPERATIONS = [
    ("bulk_insert", "bulk_create of {rows} books (raw: executemany in one transaction)"),
    ("fetch_all", "all {rows} books as models (raw: rows as tuples)"),
    ("values", "all {rows} books as dicts, every column"),
    ("get_seq", "{gets} x get by primary key, one after another"),
    ("get_concurrent", "{gets} x get by primary key under asyncio.gather"),
    ("filter_count", "{counts} x filter(pages > n).count()"),
    ("filter_order_limit", "filter(price > 50).order_by('-id').limit(100), once"),
    ("update", "filter(pages < 100).update(in_print=False), once (about 5% of the rows)"),
    ("single_insert", "{inserts} x create() of one book, one after another"),
    ("fetch_100k", "all {big} rows of a second table of books, as models"),
    ("fetch_100k_stall", "the longest the event loop went without a 1 ms ticker in that fetch"),
]
OPERATION_NAMES = [name for name, _ in OPERATIONS]
BASE_TIME = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


class Missing(Exception):
    """The library cannot do this operation; the message says why."""


def book_values(i: int) -> dict[str, Any]:
    """Column values of book `i` (author_id is 1-based, as the authors' generated keys)."""
    return {
        "title": f"Book number {i}",
        "pages": 50 + i % 950,
        "price": Decimal(i % 100) + Decimal("0.99"),
        "published": BASE_TIME + dt.timedelta(minutes=i),
        "code": uuid.UUID(int=i + 1),
        "in_print": i % 2 == 0,
        "rating": (i % 50) / 10,
        "author_id": 1 + i % AUTHORS,
    }


def sqlite_path(url: str) -> str:
    """The file of a `sqlite:///abs/path.db` URL (the runner's form)."""
    return url.removeprefix("sqlite://")


def versions(*packages: str) -> dict[str, str]:
    found = {"python": sys.version.split()[0]}
    for package in packages:
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "absent"
    return found


class Contender:
    """One library's way to do each operation. `table` prefixes its tables so contenders can
    share a PostgreSQL database; each gets its own SQLite file from the runner."""

    name = "contender"
    packages: tuple[str, ...] = ()

    def __init__(self, backend: str, url: str) -> None:
        self.backend = backend
        self.url = url

    async def setup(self, fresh: bool) -> None:
        """Connect; create the tables (dropping them first when `fresh`) and the authors."""
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

    async def clear(self) -> None:
        """Delete every book (not the big table)."""
        raise NotImplementedError

    async def big_count(self) -> int:
        raise NotImplementedError

    async def fill_big(self, rows: list[dict[str, Any]]) -> None:
        """Empty the big table and insert `rows` (untimed; chunks are fine)."""
        raise NotImplementedError

    async def ids(self) -> list[int]:
        raise NotImplementedError

    async def bulk_insert(self, rows: list[dict[str, Any]]) -> None:
        raise NotImplementedError

    async def fetch_all(self) -> Any:
        raise NotImplementedError

    async def values(self) -> Any:
        raise NotImplementedError

    async def get(self, pk: int) -> Any:
        raise NotImplementedError

    async def filter_count(self, pages: int) -> int:
        raise NotImplementedError

    async def filter_order_limit(self) -> Any:
        raise NotImplementedError

    async def update(self) -> Any:
        raise NotImplementedError

    async def single_insert(self, row: dict[str, Any]) -> Any:
        raise NotImplementedError

    async def fetch_big(self) -> Any:
        raise NotImplementedError


def declare_models(
    model: type,
    fields: Any,
    prefix: str,
    *,
    module: str,
    pk: str = "primary_key",
    author_ref: str = "Author",
) -> tuple[Any, Any, Any]:
    """The suite's Author, Book and BigBook in one ORM (the three share Tortoise's way of
    declaring models): tables `{prefix}_author`, `{prefix}_book` and `{prefix}_book_big`.
    `module` is the contender's, so ORMs that find models by module find them there."""

    def declare(name: str, table: str, columns: dict[str, Any]) -> Any:
        meta = type("Meta", (), {"table": table})
        return type(name, (model,), {"__module__": module, "Meta": meta, **columns})

    def book(related_name: str) -> dict[str, Any]:
        return {
            "id": fields.IntField(**{pk: True}),
            "title": fields.CharField(max_length=200),
            "pages": fields.IntField(),
            "price": fields.DecimalField(max_digits=10, decimal_places=2),
            "published": fields.DatetimeField(),
            "code": fields.UUIDField(),
            "in_print": fields.BooleanField(),
            "rating": fields.FloatField(),
            "author": fields.ForeignKeyField(author_ref, related_name=related_name),
        }

    author = {"id": fields.IntField(**{pk: True}), "name": fields.CharField(max_length=100)}
    return (
        declare("Author", f"{prefix}_author", author),
        declare("Book", f"{prefix}_book", book("books")),
        declare("BigBook", f"{prefix}_book_big", book("big_books")),
    )


class TortoiseStyle(Contender):
    """The operations through Tortoise's API, which yara-orm (both versions) shares. Subclasses
    set the models and say how to connect, close and run a script."""

    Author: Any
    Book: Any
    BigBook: Any
    tables: tuple[str, ...] = ()  # to drop, dependants first

    async def connect(self) -> None:
        raise NotImplementedError

    async def script(self, sql: str) -> None:
        raise NotImplementedError

    async def setup(self, fresh: bool) -> None:
        await self.connect()
        if fresh:
            for table in self.tables:
                cascade = " CASCADE" if self.backend == "postgres" else ""
                await self.script(f"DROP TABLE IF EXISTS {table}{cascade}")
            await self.reconnect()
        if not await self.Author.all().count():
            await self.Author.bulk_create([self.Author(name=f"Author {i}") for i in range(AUTHORS)])

    async def reconnect(self) -> None:
        """After dropping tables: create them again (closing first drops cached statements)."""
        await self.close()
        await self.connect()

    async def clear(self) -> None:
        await self.Book.all().delete()

    async def big_count(self) -> int:
        return int(await self.BigBook.all().count())

    async def fill_big(self, rows: list[dict[str, Any]]) -> None:
        await self.BigBook.all().delete()
        for start in range(0, len(rows), 10_000):
            chunk = rows[start : start + 10_000]
            await self.BigBook.bulk_create([self.BigBook(**r) for r in chunk])

    async def ids(self) -> list[int]:
        return list(await self.Book.all().order_by("id").values_list("id", flat=True))

    async def bulk_insert(self, rows: list[dict[str, Any]]) -> None:
        await self.Book.bulk_create([self.Book(**r) for r in rows])

    async def fetch_all(self) -> Any:
        return await self.Book.all()

    async def values(self) -> Any:
        return await self.Book.all().values()

    async def get(self, pk: int) -> Any:
        return await self.Book.get(id=pk)

    async def filter_count(self, pages: int) -> int:
        return int(await self.Book.filter(pages__gt=pages).count())

    async def filter_order_limit(self) -> Any:
        return await self.Book.filter(price__gt=50).order_by("-id").limit(100)

    async def update(self) -> Any:
        return await self.Book.filter(pages__lt=100).update(in_print=False)

    async def single_insert(self, row: dict[str, Any]) -> Any:
        return await self.Book.create(**row)

    async def fetch_big(self) -> Any:
        return await self.BigBook.all()


async def worst_stall(fetch: Callable[[], Awaitable[object]]) -> float:
    """The longest gap between the runs of a task that sleeps 1 ms, while `fetch` runs."""
    worst = 0.0
    done = False

    async def ticker() -> None:
        nonlocal worst
        last = time.perf_counter()
        while not done:
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            worst = max(worst, now - last)
            last = now

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0.01)
    try:
        await fetch()
    finally:
        done = True
        await task
    return worst


class Runner:
    """Runs the operations on one contender: a warm-up pass, then one timed pass."""

    def __init__(self, contender: Contender, sizes: dict[str, int], only: set[str]) -> None:
        self.c = contender
        self.sizes = sizes
        self.only = only
        self.rows = [book_values(i) for i in range(sizes["rows"])]
        self.extra = [book_values(sizes["rows"] + i) for i in range(sizes["inserts"])]
        self.timings: dict[str, float] = {}
        self.missing: dict[str, str] = {}
        self.checkpointer: sqlite3.Connection | None = None

    def settle(self) -> None:
        """Pay, untimed, what earlier operations owe: a garbage collection, and on SQLite a WAL
        checkpoint (else whichever commit pushes the WAL past 1,000 pages pays for it, and a
        2 ms update measures 25 ms in one round)."""
        gc.collect()
        if self.checkpointer is not None:
            self.checkpointer.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    async def measure(self, name: str, fn: Callable[[], Awaitable[object]], timed: bool) -> None:
        if name not in self.only or name in self.missing:
            return
        self.settle()
        started = time.perf_counter()
        try:
            await fn()
        except Missing as missing:
            self.missing[name] = str(missing) or "not supported"
            return
        if timed:
            self.timings[name] = time.perf_counter() - started

    async def one_pass(self, timed: bool) -> None:
        c, s = self.c, self.sizes
        await c.clear()
        self.settle()
        started = time.perf_counter()
        await c.bulk_insert(self.rows)  # always: the other operations read these rows
        if timed and "bulk_insert" in self.only:
            self.timings["bulk_insert"] = time.perf_counter() - started
        ids = await c.ids()
        picks = [ids[(i * 7919) % len(ids)] for i in range(s["gets"])]

        async def get_seq() -> None:
            for pk in picks:
                await c.get(pk)

        async def get_concurrent() -> None:
            await asyncio.gather(*(c.get(pk) for pk in picks))

        async def filter_count() -> None:
            for i in range(s["counts"]):
                await c.filter_count(100 + (i * 37) % 800)

        async def single_insert() -> None:
            for row in self.extra:
                await c.single_insert(row)

        await self.measure("fetch_all", c.fetch_all, timed)
        await self.measure("values", c.values, timed)
        await self.measure("get_seq", get_seq, timed)
        await self.measure("get_concurrent", get_concurrent, timed)
        await self.measure("filter_count", filter_count, timed)
        await self.measure("filter_order_limit", c.filter_order_limit, timed)
        await self.measure("update", c.update, timed)
        await self.measure("single_insert", single_insert, timed)
        await self.measure("fetch_100k", c.fetch_big, timed)
        if timed and "fetch_100k_stall" in self.only and "fetch_100k" not in self.missing:
            self.settle()
            self.timings["fetch_100k_stall"] = await worst_stall(c.fetch_big)

    async def run(self, fresh: bool) -> None:
        await self.c.setup(fresh)
        if self.c.backend == "sqlite":
            self.checkpointer = sqlite3.connect(sqlite_path(self.c.url))
        try:
            if self.only & {"fetch_100k", "fetch_100k_stall"}:
                if await self.c.big_count() != self.sizes["big"]:
                    await self.c.fill_big([book_values(i) for i in range(self.sizes["big"])])
            await self.one_pass(timed=False)
            await self.one_pass(timed=True)
        finally:
            await self.c.close()
            if self.checkpointer is not None:
                self.checkpointer.close()


def main(make: Callable[[str, str], Contender]) -> None:
    """Parse the runner's arguments, run, and print one `RESULT {json}` line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=["sqlite", "postgres"], required=True)
    parser.add_argument("--url", required=True, help="postgres://... or sqlite:///abs/path.db")
    parser.add_argument("--quick", action="store_true", help="the smoke-run sizes")
    parser.add_argument("--only", default="", help="comma-separated operations")
    parser.add_argument("--fresh", action="store_true", help="drop and recreate the tables")
    args = parser.parse_args()
    only = set(filter(None, args.only.split(","))) or set(OPERATION_NAMES)
    unknown = only - set(OPERATION_NAMES)
    if unknown:
        parser.error(f"unknown operations {sorted(unknown)}; known: {OPERATION_NAMES}")
    contender = make(args.backend, args.url)
    runner = Runner(contender, SIZES["quick" if args.quick else "full"], only)
    try:
        asyncio.run(runner.run(args.fresh))
    except BaseException:
        traceback.print_exc()
        os._exit(1)  # a driver's worker thread (aiosqlite's) would keep a failed run alive
    result = {
        "contender": contender.name,
        "backend": args.backend,
        "versions": versions(*contender.packages),
        "timings": runner.timings,
        "missing": runner.missing,
    }
    print("RESULT " + json.dumps(result), flush=True)
