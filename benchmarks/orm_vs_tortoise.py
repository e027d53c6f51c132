"""yara-orm against Tortoise ORM on the same machine, database and data.

    python benchmarks/orm_vs_tortoise.py [--rows 10000] [--repeat 7] [--pg-url URL] [--no-pg]

Needs `tortoise-orm[asyncpg]` and a release build of yara-orm (`pip install .`). Each line is
the median of `--repeat` runs after a warm-up; the ratio is yara / Tortoise in the same run
(below 1 means yara is faster).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Awaitable, Callable
from decimal import Decimal

import timing
from tortoise import Tortoise
from tortoise import fields as tfields
from tortoise.models import Model as TModel

import yara_orm
from yara_orm import YaraOrm, connect
from yara_orm import fields as yfields


class TAuthor(TModel):
    id = tfields.IntField(primary_key=True)
    name = tfields.CharField(max_length=100)

    class Meta:
        table = "t_author"


class TBook(TModel):
    id = tfields.IntField(primary_key=True)
    title = tfields.CharField(max_length=200)
    price = tfields.DecimalField(max_digits=10, decimal_places=2)
    rating = tfields.FloatField()
    author = tfields.ForeignKeyField("models.TAuthor", related_name="books")

    class Meta:
        table = "t_book"


class YAuthor(yara_orm.Model):
    id = yfields.IntField(primary_key=True)
    name = yfields.CharField(max_length=100)

    class Meta:
        table = "y_author"


class YBook(yara_orm.Model):
    id = yfields.IntField(primary_key=True)
    title = yfields.CharField(max_length=200)
    price = yfields.DecimalField(max_digits=10, decimal_places=2)
    rating = yfields.FloatField()
    author = yfields.ForeignKeyField("YAuthor", related_name="books")

    class Meta:
        table = "y_book"


def book_values(i: int) -> dict[str, object]:
    return {
        "title": f"Book {i}",
        "price": Decimal(i % 100) + Decimal("0.99"),
        "rating": (i % 50) / 10,
    }


async def run(label: str, yara_url: str, tortoise_url: str, rows: int, repeat: int) -> None:
    await Tortoise.init(db_url=tortoise_url, modules={"models": ["__main__"]})
    await Tortoise.generate_schemas()
    await YaraOrm.init(yara_url, models=[YAuthor, YBook])
    await YaraOrm.generate_schemas()

    t_authors = [await TAuthor.create(name=f"Author {i}") for i in range(100)]
    y_authors = [await YAuthor.create(name=f"Author {i}") for i in range(100)]

    async def t_bulk() -> None:
        await TBook.all().delete()
        await TBook.bulk_create(
            [TBook(author=t_authors[i % 100], **book_values(i)) for i in range(rows)]
        )

    async def y_bulk() -> None:
        await YBook.all().delete()
        await YBook.bulk_create(
            [YBook(author=y_authors[i % 100], **book_values(i)) for i in range(rows)]
        )

    results: list[tuple[str, float, float]] = []
    results.append(
        (
            f"bulk_create {rows}",
            await timing.median_async(y_bulk, 3),
            await timing.median_async(t_bulk, 3),
        )
    )
    t_ids = [b.id async for b in TBook.all().limit(500)]
    y_ids = [b.id async for b in YBook.all().limit(500)]
    some_t_authors = [a.id for a in t_authors[:10]]
    some_y_authors = [a.id for a in y_authors[:10]]

    cases: list[tuple[str, Callable[[], Awaitable[object]], Callable[[], Awaitable[object]]]] = [
        (f"fetch all {rows}", lambda: YBook.all(), lambda: TBook.all()),
        (
            "filter + order + limit 100",
            lambda: (
                YBook.filter(price__gt=50, author_id__in=some_y_authors).order_by("-id").limit(100)
            ),
            lambda: (
                TBook.filter(price__gt=50, author_id__in=some_t_authors).order_by("-id").limit(100)
            ),
        ),
        (
            f"values() {rows}",
            lambda: YBook.all().values("id", "title", "price"),
            lambda: TBook.all().values("id", "title", "price"),
        ),
    ]
    for name, yara_fn, tortoise_fn in cases:
        results.append(
            (
                name,
                await timing.median_async(yara_fn, repeat),
                await timing.median_async(tortoise_fn, repeat),
            )
        )

    async def y_get() -> None:
        for pk in y_ids[:200]:
            await YBook.get(id=pk)

    async def t_get() -> None:
        for pk in t_ids[:200]:
            await TBook.get(id=pk)

    async def y_count() -> None:
        for i in range(100):
            await YBook.filter(rating__gt=i % 5).count()

    async def t_count() -> None:
        for i in range(100):
            await TBook.filter(rating__gt=i % 5).count()

    results.append(
        ("200 x get(pk)", await timing.median_async(y_get, 3), await timing.median_async(t_get, 3))
    )
    results.append(
        (
            "100 x filter().count()",
            await timing.median_async(y_count, 3),
            await timing.median_async(t_count, 3),
        )
    )

    print(f"\n{label}: median ms, yara vs Tortoise ORM")
    for name, yara_time, tortoise_time in results:
        ratio = yara_time / tortoise_time
        print(
            f"  {name:<32} yara {yara_time * 1000:9.2f}  "
            f"tortoise {tortoise_time * 1000:9.2f}  ratio {ratio:5.2f}x"
        )
    await YaraOrm.close()
    await Tortoise.close_connections()


async def main() -> None:
    parser = timing.parser(__doc__, rows=10_000, repeat=7)
    parser.add_argument("--backend", choices=["sqlite", "postgres"], required=True)
    args = parser.parse_args()
    if args.backend == "sqlite":
        await run(
            "SQLite (in memory)", "sqlite://:memory:", "sqlite://:memory:", args.rows, args.repeat
        )
        return
    drop = "DROP TABLE IF EXISTS t_book, t_author, y_book, y_author CASCADE"
    engine = await connect(args.pg_url)
    await engine.execute_script(drop)
    await engine.close()
    try:
        await run("PostgreSQL", args.pg_url, args.pg_url, args.rows, args.repeat)
    finally:
        engine = await connect(args.pg_url)
        await engine.execute_script(drop)
        await engine.close()


def both_backends() -> None:
    """Tortoise caches per-model SQL for the first backend: one process per backend."""
    for backend in ("sqlite", "postgres"):
        subprocess.run([sys.executable, __file__, *sys.argv[1:], "--backend", backend], check=True)


if __name__ == "__main__":
    if "--backend" in sys.argv:
        asyncio.run(main())
    else:
        both_backends()
