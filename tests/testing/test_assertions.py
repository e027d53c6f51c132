"""Query assertions, budgets and the N+1 detector, as a user's suite meets them."""

from __future__ import annotations

import json

import pytest

from tests.testing.conftest import Runner

SETUP = """
from app_models import Author, Book


async def shelf(count=3):
    author = await Author.create(name="Ada")
    for n in range(count):
        await Book.create(title=f"B{n}", author=author)
"""


def test_assert_num_queries_message_lists_every_query(app: Runner) -> None:
    result = app(
        test_counts=SETUP
        + """
async def test_exact(yara_db):
    await shelf()
    with yara_db.assert_num_queries(1):
        for book in await Book.all():
            await book.author


async def test_max(yara_db):
    await shelf()
    with yara_db.assert_max_queries(1):
        await Book.filter(title="B1").first()
    with yara_db.record() as log:
        await Book.all().count()
    assert len(log) == 1 and "COUNT(*)" in log[0].sql
    assert yara_db.queries.count >= 5
    assert yara_db.queries.filter(sql_contains="insert").count == 4
"""
    )
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*expected exactly 1 query, ran 4:*",
            '*1. SELECT t0."id", t0."title", t0."author_id" FROM "book" t0*',
            "*at test_counts.py:1[0-9]*",
            "*params: [[]1, 1[]]*",
            "*4 queries, * ms, GIL held * ms*",
        ]
    )
    # The isolation's own statements never show.
    result.stdout.no_fnmatch_line("*SAVEPOINT*")


def test_detector_catches_n_plus_one_and_names_the_fix(app: Runner) -> None:
    result = app(
        test_nplusone=SETUP
        + """
async def test_lazy_loop(yara_db):
    await shelf()
    with yara_db.assert_no_nplusone():
        for book in await Book.all():
            await book.author


async def test_reverse_lazy_loop(yara_db):
    await shelf()
    await Author.create(name="Grace")
    with yara_db.assert_no_nplusone():
        for author in await Author.all():
            await author.books.all()


async def test_prefetch_is_quiet(yara_db):
    await shelf()
    with yara_db.assert_no_nplusone():
        for book in await Book.all().prefetch_related("author"):
            assert book.author.name == "Ada"
        for book in await Book.all().select_related("author"):
            assert book.author.name == "Ada"
        authors = await Author.all().prefetch_related("books")
        assert len(authors[0].books) == 3


async def test_repeated_sql_from_one_line(yara_db):
    await shelf(8)
    with yara_db.assert_no_nplusone():
        for n in range(8):
            await Book.filter(title=f"B{n}").first()
"""
    )
    result.assert_outcomes(passed=1, failed=3)
    result.stdout.fnmatch_lines(
        [
            "*N+1: Book.author was loaded lazily for 3 of 3 Book instances from one query, "
            'at test_nplusone.py:*; load it with the query: .select_related("author") or '
            '.prefetch_related("author")*',
            "*N+1: Author.books was loaded lazily for 2 of 2 Author instances*"
            '.prefetch_related("books")*',
            "*N+1 suspect: the same query ran 8 times from test_nplusone.py:*",
        ]
    )


def test_budget_markers_count_only_the_test_body(app: Runner) -> None:
    result = app(
        test_budget=SETUP
        + """
import pytest


@pytest.fixture
async def books(yara_db):
    await shelf(5)  # fixture queries do not count against the budget


@pytest.mark.yara_max_queries(1)
async def test_within(books):
    await Book.all()


@pytest.mark.yara_max_queries(1)
async def test_over(books):
    await Book.all()
    await Author.all()


@pytest.mark.yara_max_db_time(0.0000001)
async def test_too_slow(books):
    await Book.all()


@pytest.fixture
def strict(request):
    request.node.add_marker(pytest.mark.yara_max_queries(0))  # after the plugin read markers


async def test_marked_by_a_fixture(books, strict):
    await Book.all()
"""
    )
    result.assert_outcomes(passed=1, failed=3)
    result.stdout.fnmatch_lines(
        [
            "*the test body ran 2 queries, more than yara_max_queries(1):*",
            "*took * ms, more than yara_max_db_time(1e-07) = 0.0001 ms:*",
            "*the test body ran 1 query, more than yara_max_queries(0):*",
        ]
    )
    # The plugin's own hook is not shown as the failing code.
    result.stdout.no_fnmatch_line("*pytest_plugin.py*")


def test_nplusone_option_applies_to_every_test(app: Runner, pytester: pytest.Pytester) -> None:
    files = {
        "test_global": SETUP
        + """
import pytest


async def test_lazy(yara_db):
    await shelf()
    for book in await Book.all():
        await book.author


@pytest.mark.yara_no_nplusone
async def test_opted_out(yara_db):
    await shelf()
    for book in await Book.all():
        await book.author
"""
    }
    errors = app("--yara-nplusone=error", "--yara-report=report.json", **files)
    errors.assert_outcomes(passed=1, failed=1)
    # The exempt test is not listed as an N+1 suspect either.
    tests = json.loads((pytester.path / "report.json").read_text())["tests"]
    exempt = [t for t in tests if t["test"].endswith("test_opted_out")]
    assert exempt and exempt[0]["nplusone"] == []
    warned = app("--yara-nplusone=warn")
    warned.assert_outcomes(passed=2, warnings=1)
    # The warning points at the line of the test that loaded lazily, not at the plugin.
    warned.stdout.fnmatch_lines(["*test_global.py:*: YaraNPlusOneWarning: N+1: Book.author*"])
    warned.stdout.no_fnmatch_line("*pytest_plugin.py*")
    app().assert_outcomes(passed=2)


def test_report_summary_and_json(app: Runner, pytester: object) -> None:
    import json
    from pathlib import Path

    result = app(
        "--yara-report=report.json",
        test_report=SETUP
        + """
async def test_heavy(yara_db):
    await shelf(5)
    for book in await Book.all():
        await book.author


async def test_light(yara_db):
    await Author.all()
""",
    )
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            "*yara query report*",
            "*queries in 2 tests; GIL held * ms, released for I/O * ms*",
            "*heaviest tests:*",
            "*test_report.py::test_heavy*",
            "*slowest statements:*",
            "*N+1 suspects:*",
            "*JSON report written to report.json*",
        ]
    )
    data = json.loads((Path(str(pytester.path)) / "report.json").read_text())  # type: ignore[attr-defined]
    heavy = next(t for t in data["tests"] if t["test"].endswith("test_heavy"))
    assert heavy["queries"] == 12  # 6 inserts, 1 select, 5 lazy loads
    assert {"sql", "params", "duration", "gil_held", "gil_wait", "io", "rows", "location"} <= set(
        heavy["statements"][0]
    )


def test_report_summary_of_one_query_in_one_test(app: Runner) -> None:
    result = app(
        test_single=SETUP
        + """
async def test_one(yara_db):
    await Author.all()
""",
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*1 query in 1 test; GIL held * ms, released for I/O * ms*"])


NESTED = """
from app_models import Author, Book, Tag


async def chain(count=3):
    for n in range(count):
        author = await Author.create(name=f"A{n}")
        await Book.create(title=f"B{n}", author=author)
"""


def test_nested_lazy_loads_name_the_whole_path(app: Runner) -> None:
    app_models = """
from yara_orm import Model, fields


class Author(Model):
    name = fields.CharField(max_length=50, unique=True)


class Tag(Model):
    label = fields.CharField(max_length=20)
    book = fields.ForeignKeyField("Book", related_name="labels")


class Book(Model):
    title = fields.CharField(max_length=100)
    author = fields.ForeignKeyField("Author", related_name="books")
"""
    result = app(
        app_models=app_models,
        test_nested=NESTED
        + """
async def tagged():
    await chain()
    for book in await Book.all():
        await Tag.create(label="t", book=book)


async def test_two_levels(yara_db):
    await tagged()
    with yara_db.assert_no_nplusone():
        for tag in await Tag.all():
            book = await tag.book
            await book.author


async def test_following_the_hint_passes(yara_db):
    await tagged()
    with yara_db.assert_no_nplusone(), yara_db.assert_num_queries(1):
        for tag in await Tag.all().select_related("book__author"):
            book = await tag.book
            await book.author
""",
    )
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*N+1: Tag.book was loaded lazily for 3 of 3 Tag instances from one query, at "
            "test_nested.py:*, then Tag.book.author for each of them (at test_nested.py:*); "
            'load it with the query: .select_related("book__author")*'
        ]
    )
    # The failure points at the test's `with` line, not at contextlib or the plugin.
    result.stdout.no_fnmatch_line("*contextlib.py*")
    result.stdout.no_fnmatch_line("*nplusone.py*")


def test_repeated_writes_are_a_hint_not_an_nplusone(app: Runner) -> None:
    result = app(
        "--yara-nplusone=error",
        test_writes=NESTED
        + """
async def test_creates_in_a_loop(yara_db):
    for n in range(6):
        await Author.create(name=f"A{n}")
    with yara_db.assert_no_nplusone():
        for n in range(6):
            await Author.filter(name=f"A{n}").update(name=f"Z{n}")


async def test_reads_in_a_loop_still_fail(yara_db):
    await chain(6)
    for n in range(6):
        await Author.get(name=f"A{n}")
""",
    )
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*N+1 suspect: the same query ran 6 times*"])
    # In the report, the writes are a hint of their own, not an N+1 suspect.
    result.stdout.fnmatch_lines(
        [
            "hints:",
            "*test_creates_in_a_loop: hint: 6 single INSERTs from one line, at "
            "test_writes.py:*: bulk_create does it in one statement*",
        ]
    )
    assert "test_creates_in_a_loop: N+1" not in result.stdout.str()


def test_query_count_fixtures(app: Runner) -> None:
    result = app(
        test_fixtures=NESTED
        + """
async def test_exact(yara_db, yara_assert_num_queries):
    with yara_assert_num_queries(1):
        await Author.all()


async def test_max(yara_db, yara_assert_max_num_queries):
    with yara_assert_max_num_queries(1):
        await Author.all()
        await Book.all()
"""
    )
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*expected at most 1 query, ran 2:*"])
