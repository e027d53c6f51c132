"""The catalogue: the N+1 version is caught, the fixed one is not."""

from __future__ import annotations

import pytest
from bookshop.models import Book
from bookshop.services import catalogue, catalogue_slow


async def test_seeded_catalogue_is_there(yara_db):
    assert await Book.all().count() == 5


async def test_slow_catalogue_is_an_n_plus_one(yara_db):
    with pytest.raises(AssertionError, match=r"N\+1: Book\.author was loaded lazily"):
        with yara_db.assert_no_nplusone():
            await catalogue_slow()


async def test_fixed_catalogue_is_one_query(yara_db):
    with yara_db.assert_num_queries(1), yara_db.assert_no_nplusone():
        page = await catalogue()
    assert len(page) == 5
    assert [entry["title"] for entry in page] == sorted(entry["title"] for entry in page)
    assert all(entry["author"] for entry in page)


@pytest.mark.yara_max_queries(1)
async def test_catalogue_budget(yara_db):
    await catalogue()
