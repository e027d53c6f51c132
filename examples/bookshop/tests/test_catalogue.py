"""The catalogue: the N+1 version is caught, the fixed one is not, and with a simulated
production latency the N+1 is slower in proportion to its queries."""

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


# With a production-like round trip of 5 ms per statement, the N+1 pays it once per book and
# its fixed twin once: the report lists both under "waiting on the database at the simulated
# latency".
ROUND_TRIP = 0.005


@pytest.mark.yara_latency(ROUND_TRIP)
async def test_with_latency_the_n_plus_one_waits_once_per_book(yara_db):
    with yara_db.record() as log:
        page = await catalogue_slow()
    assert len(log) == 1 + len(page)
    assert log.total_simulated == pytest.approx(ROUND_TRIP * len(log))


@pytest.mark.yara_latency(ROUND_TRIP)
async def test_with_latency_the_fixed_catalogue_waits_once(yara_db):
    with yara_db.assert_max_db_time(1.0) as log:
        await catalogue()
    assert log.total_simulated == pytest.approx(ROUND_TRIP)
