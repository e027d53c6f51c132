"""Engine benchmarks: yara-orm's engine against asyncpg (PostgreSQL) and sqlite3 (SQLite).

    python benchmarks/engine_fetch.py [--rows 10000] [--repeat 15] [--pg-url URL] [--no-pg]

Build the engine in release mode first (`pip install .`): a debug build is 5-20x slower.
Reports the median of each measurement and the ratio to the reference driver, measured in
one run (absolute times drift on shared machines; ratios much less).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
import sys
import tempfile
from decimal import Decimal
from pathlib import Path

import timing

sys.path.insert(0, str(Path(__file__).parent / "suite" / "contenders"))
from common import worst_stall

from yara_orm import connect

ROW_SQL_PG = "SELECT id, name, price, created, flag FROM bench_items"
ROW_SQL_LITE = "SELECT id, name, price, created, flag FROM bench_items"


def make_rows(count: int) -> list[list[object]]:
    base = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    return [
        [
            i,
            f"item number {i}",
            Decimal(f"{i % 1000}.{i % 100:02d}"),
            base + dt.timedelta(seconds=i),
            i % 2 == 0,
        ]
        for i in range(count)
    ]


def report(title: str, results: list[tuple[str, float, float | None]]) -> None:
    print(f"\n{title}")
    for name, seconds, reference in results:
        ratio = f"{seconds / reference:6.2f}x" if reference else "   ref "
        print(f"  {name:<40} {seconds * 1000:9.2f} ms  {ratio}")


async def bench_postgres(url: str, rows: int, repeat: int) -> None:
    import asyncpg  # only needed here

    engine = await connect(url, max_size=4)
    await engine.execute_script(
        "DROP TABLE IF EXISTS bench_items; CREATE TABLE bench_items "
        "(id int PRIMARY KEY, name text, price numeric(10,2), created timestamptz, flag bool)"
    )
    data = make_rows(rows)
    insert = "INSERT INTO bench_items (id, name, price, created, flag) VALUES ($1, $2, $3, $4, $5)"
    pool = await asyncpg.create_pool(
        url.replace("postgres://", "postgresql://"), min_size=1, max_size=4
    )

    async def truncate() -> None:
        await engine.execute("TRUNCATE bench_items")

    async def yara_bulk() -> None:
        await truncate()
        await engine.execute_many(insert, data)

    async def asyncpg_bulk() -> None:
        await truncate()
        async with pool.acquire() as conn:
            await conn.executemany(insert, data)

    bulk_ref = await timing.median_async(asyncpg_bulk, max(3, repeat // 3))
    bulk_yara = await timing.median_async(yara_bulk, max(3, repeat // 3))
    report(
        f"PostgreSQL bulk insert, {rows} rows (5 columns), median",
        [("asyncpg executemany", bulk_ref, None), ("yara execute_many", bulk_yara, bulk_ref)],
    )

    async def asyncpg_fetch() -> None:
        async with pool.acquire() as conn:
            await conn.fetch(ROW_SQL_PG)

    async def yara_fetch() -> None:
        await engine.fetch_rows(ROW_SQL_PG)

    fetch_ref = await timing.median_async(asyncpg_fetch, repeat)
    fetch_yara = await timing.median_async(yara_fetch, repeat)
    report(
        f"PostgreSQL fetch all, {rows} rows, median",
        [
            ("asyncpg fetch (Records)", fetch_ref, None),
            ("yara fetch_rows (tuples)", fetch_yara, fetch_ref),
        ],
    )

    one = "SELECT id, name, price, created, flag FROM bench_items WHERE id = $1"

    async def asyncpg_one() -> None:
        async with pool.acquire() as conn:
            for i in range(200):
                await conn.fetch(one, i)

    async def yara_one() -> None:
        for i in range(200):
            await engine.fetch_rows(one, [i])

    one_ref = await timing.median_async(asyncpg_one, max(3, repeat // 3))
    one_yara = await timing.median_async(yara_one, max(3, repeat // 3))
    report(
        "PostgreSQL 200 sequential primary-key fetches, median",
        [("asyncpg", one_ref, None), ("yara", one_yara, one_ref)],
    )

    await engine.execute_script(
        "DROP TABLE IF EXISTS bench_big; CREATE TABLE bench_big AS "
        "SELECT g AS id, 'row ' || g AS name, g * 1.5 AS score FROM generate_series(1, 100000) g"
    )
    stall = await worst_stall(lambda: engine.fetch_rows("SELECT id, name, score FROM bench_big"))
    print(f"\nPostgreSQL worst event-loop stall during a 100k-row fetch: {stall * 1000:.1f} ms")
    await pool.close()
    await engine.execute_script("DROP TABLE bench_items; DROP TABLE bench_big")
    await engine.close()


async def bench_sqlite(path: Path, rows: int, repeat: int) -> None:
    ddl = (
        "CREATE TABLE bench_items (id INTEGER PRIMARY KEY, name TEXT, price DECIMAL_TEXT, "
        "created TIMESTAMP, flag BOOLEAN)"
    )
    engine = await connect(f"sqlite:///{path}", max_size=1)
    await engine.execute_script(ddl)
    raw = sqlite3.connect(path)
    data = make_rows(rows)
    # sqlite3 cannot bind Decimal or aware datetimes: give it the text the engine stores.
    plain = [
        [i, name, str(price), created.isoformat(" "), flag]
        for i, name, price, created, flag in data
    ]
    insert = "INSERT INTO bench_items (id, name, price, created, flag) VALUES (?, ?, ?, ?, ?)"

    def sqlite3_bulk() -> None:
        raw.execute("DELETE FROM bench_items")
        with raw:
            raw.executemany(insert, plain)

    async def yara_bulk() -> None:
        await engine.execute("DELETE FROM bench_items")
        await engine.execute_many(insert, data)

    bulk_ref = timing.median_sync(sqlite3_bulk, max(3, repeat // 3))
    bulk_yara = await timing.median_async(yara_bulk, max(3, repeat // 3))
    report(
        f"SQLite bulk insert, {rows} rows, median",
        [
            ("sqlite3 executemany (text values)", bulk_ref, None),
            ("yara execute_many (typed)", bulk_yara, bulk_ref),
        ],
    )

    def sqlite3_fetch() -> None:
        raw.execute(ROW_SQL_LITE).fetchall()

    async def yara_fetch() -> None:
        await engine.fetch_rows(ROW_SQL_LITE)

    async def yara_fetch_plain() -> None:
        await engine.fetch_rows(
            "SELECT id, name, CAST(price AS TEXT), created, flag + 0 FROM bench_items"
        )

    fetch_ref = timing.median_sync(sqlite3_fetch, repeat)
    fetch_yara = await timing.median_async(yara_fetch, repeat)
    fetch_plain = await timing.median_async(yara_fetch_plain, repeat)
    report(
        f"SQLite fetch all, {rows} rows, median",
        [
            ("sqlite3 fetchall (raw text, blocks loop)", fetch_ref, None),
            ("yara fetch_rows (Decimal/datetime/bool)", fetch_yara, fetch_ref),
            ("yara fetch_rows (same raw values)", fetch_plain, fetch_ref),
        ],
    )
    raw.close()
    await engine.close()


async def main() -> None:
    parser = timing.parser(__doc__, rows=10_000, repeat=15)
    parser.add_argument("--no-pg", action="store_true", help="skip the PostgreSQL part")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="yara-bench-") as directory:
        await bench_sqlite(Path(directory) / "bench.db", args.rows, args.repeat)
    if not args.no_pg:
        await bench_postgres(args.pg_url, args.rows, args.repeat)


if __name__ == "__main__":
    asyncio.run(main())
