"""A large result is turned into instances in slices, the event loop running between them:
other tasks are not held up for the whole of a big fetch, and the result is the same."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.orm.models import Author, Book
from yara_orm.query import hydration

pytestmark = pytest.mark.usefixtures("orm")

ROWS = hydration.SLICED_ROWS + 700


async def _books() -> None:
    author = await Author.create(name="Ada")
    await Book.bulk_create([Book(id=i, title=f"b{i}", author=author) for i in range(ROWS)])


async def test_other_tasks_run_between_slices(monkeypatch: pytest.MonkeyPatch) -> None:
    await _books()
    monkeypatch.setattr(hydration, "_SLICE_SECONDS", 0.0)  # yield after every slice
    turns = 0
    seen_at_row: list[int] = []
    real_builder = hydration._builder

    def counting_builder(*args: Any) -> Any:
        build = real_builder(*args)

        def counted(rows: Any) -> Any:
            seen_at_row.extend([turns] * len(rows))
            return build(rows)

        return counted

    monkeypatch.setattr(hydration, "_builder", counting_builder)
    done = False

    async def ticker() -> None:
        nonlocal turns
        while not done:
            turns += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    books = await Book.all().order_by("id").select_related("author")
    done = True
    await task
    assert [b.id for b in books] == list(range(ROWS))
    assert all(b.author.name == "Ada" for b in books)
    # The ticker ran between every two slices, never inside one.
    size = hydration._SLICE_ROWS
    slices = [seen_at_row[i : i + size] for i in range(0, ROWS, size)]
    assert all(len(set(rows)) == 1 for rows in slices)
    firsts = [rows[0] for rows in slices]
    assert firsts == sorted(firsts) and len(set(firsts)) == len(slices)


async def test_a_large_result_shares_one_batch_for_lazy_loads() -> None:
    await _books()
    books = await Book.all().order_by("id")
    assert len(books) == ROWS
    assert len({id(b.__dict__.get("_batch")) for b in books}) == 1
    assert books[0].__dict__.get("_batch") is not None
