"""The database simulation as a user's suite meets it: latency and faults injected into the
test databases (`yara_db.simulate`, `yara_db.fail`, the `yara_latency` marker,
`--yara-latency`), marked in the query log and the reports, and undone at each test's end."""

from __future__ import annotations

import json

import pytest

from tests.testing.conftest import Runner

HEADER = """
import asyncio
import re

import pytest
from app_models import Author, Book
from yara_orm import (
    DBConnectionError,
    IntegrityError,
    InternalError,
    TransactionRollbackError,
    connections,
    in_transaction,
)
from yara_orm.transactions import retry
"""


def test_latency_from_the_marker_is_in_the_log_the_stats_and_the_report(
    app: Runner, pytester: pytest.Pytester
) -> None:
    result = app(
        "--yara-report=report.json",
        "--yara-report-html=report.html",
        test_latency=HEADER
        + """
@pytest.mark.yara_latency(0.004)
async def test_marked(yara_db):
    await Author.create(name="Ada")
    with yara_db.record() as log:
        await Author.all().count()
        await Author.get(name="Ada")
    assert [r.simulated for r in log] == [pytest.approx(0.004)] * 2
    assert all(r.io >= 0.004 and r.injected == "latency 4.00 ms" for r in log)
    assert log.total_simulated == pytest.approx(0.008)
    assert "4.00 ms simulated" in str(log)


@pytest.mark.yara_latency("2ms", jitter=0.001, seed=3)
async def test_a_duration_with_jitter(yara_db):
    with yara_db.record() as log:
        for _ in range(5):
            await Author.all().count()
    delays = [r.simulated for r in log]
    assert all(0.001 <= d <= 0.003 for d in delays) and len(set(delays)) > 1


@pytest.mark.yara_latency({"SELECT": 0.003, "*": 0.001})
async def test_a_profile(yara_db):
    with yara_db.record() as log:
        await Author.create(name="Ada")
        await Author.all().count()
    assert [r.simulated for r in log] == [pytest.approx(0.001), pytest.approx(0.003)]


async def test_unmarked_tests_are_not_slowed(yara_db):
    with yara_db.record() as log:
        await Author.all().count()
    assert log[0].simulated == 0.0 and log[0].injected is None
    assert connections.engine().injections == []


@pytest.mark.yara_latency("2 parsecs")
async def test_bad_marker(yara_db):
    pass
""",
    )
    result.assert_outcomes(passed=4, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*yara_latency('2 parsecs'): a duration with its unit, such as 2ms*",
            "*queries in * tests; * ms of it simulated latency*",
            "*ms (* simulated)  test_latency.py::test_marked*",
        ]
    )
    tests = {
        t["test"].split("::")[1]: t
        for t in json.loads(pytester.path.joinpath("report.json").read_text())["tests"]
    }
    marked = tests["test_marked"]
    assert marked["simulated"] == pytest.approx(0.004 * marked["queries"])
    assert all(
        s["injected"] and s["simulated"] == pytest.approx(0.004) for s in marked["statements"]
    )
    unmarked = tests["test_unmarked_tests_are_not_slowed"]
    assert unmarked["simulated"] == 0.0
    assert not any(s["injected"] for s in unmarked["statements"])
    page = pytester.path.joinpath("report.html").read_text()
    assert "Simulated latency (ms)" in page and "ms of it simulated latency" in page
    assert f'data-simulated="{marked["simulated"] * 1000:.2f}"' in page
    assert page.count("· simulated 4.00 ms") == marked["queries"]


def test_run_wide_latency_from_the_option_or_the_ini(
    app: Runner, pytester: pytest.Pytester
) -> None:
    suite = (
        HEADER
        + """
async def test_run_wide(yara_db):
    with yara_db.record() as log:
        await Author.all().count()
    assert log[0].simulated == pytest.approx(0.003)


@pytest.mark.yara_latency(0.001)
async def test_the_marker_wins(yara_db):
    with yara_db.record() as log:
        await Author.all().count()
    assert log[0].simulated == pytest.approx(0.001)


async def test_a_block_wins_inside_it(yara_db):
    with yara_db.simulate(0.005):
        with yara_db.record() as inside:
            await Author.all().count()
    with yara_db.record() as after:
        await Author.all().count()
    assert inside[0].simulated == pytest.approx(0.005)
    assert after[0].simulated == pytest.approx(0.003)
"""
    )
    app("--yara-latency=3ms", test_wide=suite).assert_outcomes(passed=3)
    ini = pytester.path / "tox.ini"
    ini.write_text(ini.read_text().rstrip("\n") + "\nyara_latency = 3000us\n")
    app().assert_outcomes(passed=3)


@pytest.mark.parametrize("value", ["2", "fast", "-1ms", "2 ms s"])
def test_a_bad_latency_option_is_a_usage_error(app: Runner, value: str) -> None:
    result = app(f"--yara-latency={value}", test_x="def test_x():\n    pass\n")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*--yara-latency (ini yara_latency) must be a duration with its unit*us, µs, ms, s*"]
    )


def test_a_latency_beyond_the_engines_bound_fails_at_startup(app: Runner) -> None:
    result = app("--yara-latency=5000s", test_x="def test_x():\n    pass\n")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--yara-latency (ini yara_latency) must be at most 3600s*"])


def test_each_fault_fails_as_the_database_would_and_is_marked(
    app: Runner, pytester: pytest.Pytester
) -> None:
    result = app(
        "--yara-report=report.json",
        test_faults=HEADER
        + """
async def test_a_unique_violation(yara_db):
    with yara_db.fail("INSERT INTO author", "unique_violation") as fault:
        with pytest.raises(IntegrityError) as raised:
            await Author.create(name="Ada")
        await Author.create(name="Grace")  # times=1 by default
    assert (raised.value.sqlstate, raised.value.injected) == ("23505", "unique_violation")
    assert "injected by the database simulation" in str(raised.value)
    assert (fault.matched, fault.injected, fault.active) == (2, 1, False)
    assert [a.name for a in await Author.all()] == ["Grace"]
    failed = [r for r in yara_db.queries if r.error]
    assert [r.injected for r in failed] == ["unique_violation"]


@pytest.mark.parametrize(
    "error, kind, sqlstate",
    [
        ("foreign_key_violation", IntegrityError, "23503"),
        ("serialization_failure", TransactionRollbackError, "40001"),
        ("deadlock", TransactionRollbackError, "40P01"),
        ("connection_lost", DBConnectionError, "08006"),
        ("too_many_connections", DBConnectionError, "53300"),
        ("XX000", InternalError, "XX000"),
    ],
)
async def test_other_faults(yara_db, error, kind, sqlstate):
    yara_db.fail(re.compile(r"^select .* from .?author", re.I), error)  # until the test ends
    with pytest.raises(kind) as raised:
        await Author.all()
    assert raised.value.sqlstate == sqlstate
    await Author.all()


async def test_the_message_of_a_failed_assertion_says_what_was_injected(yara_db):
    yara_db.fail(lambda sql: sql.startswith("SELECT"), "lock_timeout", after=1)
    with yara_db.assert_num_queries(0):
        await Author.all().count()
        try:
            await Author.all().count()
        except Exception:
            pass
"""
        + "\n\n"
        + """
def test_from_another_event_loop(yara_db):
    yara_db.fail("author", "deadlock", times=None)
    with pytest.raises(TransactionRollbackError):
        yara_db.run(Author.all().count())
""",
    )
    result.assert_outcomes(passed=8, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*expected exactly 0 queries, ran 2:*",
            "*failed (injected lock_timeout): OperationalError: canceling statement due to "
            "lock timeout (injected by the database simulation: lock_timeout)*",
        ]
    )
    data = json.loads(pytester.path.joinpath("report.json").read_text())
    unique = next(t for t in data["tests"] if t["test"].endswith("test_a_unique_violation"))
    flagged = [s for s in unique["statements"] if s["injected"]]
    assert len(flagged) == 1
    assert flagged[0]["error"].startswith("IntegrityError: duplicate key value")


def test_everything_is_undone_at_the_end_of_the_test(app: Runner) -> None:
    result = app(
        "-p",
        "no:randomly",
        test_undone=HEADER
        + """
async def test_1_injects_everywhere(yara_db):
    yara_db.fail("INSERT", "disk_full", times=None)
    yara_db.simulate(0.002)
    connections.engine().fail("UPDATE", "deadlock")  # straight on the engine, too
    assert len(connections.engine().injections) == 3


async def test_2_starts_clean(yara_db):
    assert connections.engine().injections == []
    with yara_db.record() as log:
        await Author.create(name="Ada")
    assert log[0].simulated == 0.0


async def test_3_a_block_ends_with_the_block(yara_db):
    with yara_db.fail("INSERT", "disk_full", times=None) as fault:
        for _ in range(2):
            with pytest.raises(Exception, match="No space left"):
                await Author.create(name="Ada")
    await Author.create(name="Ada")
    assert (fault.injected, fault.active) == (2, False)
    with pytest.raises(Exception, match="not one of this test's databases"):
        yara_db.fail("INSERT", "deadlock", connection="elsewhere")
""",
    )
    result.assert_outcomes(passed=3)


def test_a_lost_connection_ends_its_transaction_but_not_the_test(app: Runner) -> None:
    result = app(
        "-p",
        "no:randomly",
        test_lost=HEADER
        + """
async def test_1_lost(yara_db):
    await Author.create(name="before")
    with yara_db.fail("INSERT INTO book", "connection_lost"):
        with pytest.raises(DBConnectionError):
            async with in_transaction():
                author = await Author.create(name="in the transaction")
                await Book.create(title="lost", author=author)
    # The transaction is gone, the test goes on, and its own rows are there.
    assert [a.name for a in await Author.all()] == ["before"]
    await Author.create(name="after")


async def test_2_the_rollback_at_the_end_still_happened(yara_db):
    assert await Author.all().count() == 0


async def test_3_statements_after_the_loss_fail_like_postgresqls(yara_db):
    with pytest.raises(DBConnectionError):
        async with in_transaction():
            yara_db.fail(None, "connection_lost")
            try:
                await Author.create(name="x")
            except DBConnectionError:
                pass
            await Author.create(name="y")  # the transaction was lost earlier
    assert await Author.all().count() == 0


@pytest.mark.yara_db(transaction=True)
async def test_4_with_real_commits(yara_db):
    with yara_db.fail("INSERT INTO book", "connection_lost"):
        with pytest.raises(DBConnectionError):
            async with in_transaction():
                author = await Author.create(name="lost with its transaction")
                await Book.create(title="lost", author=author)
    await Author.create(name="committed")
    assert [a.name for a in await Author.all()] == ["committed"]
""",
    )
    result.assert_outcomes(passed=4)


def test_a_fault_in_a_nested_transaction_rolls_back_its_savepoint(app: Runner) -> None:
    result = app(
        test_nested=HEADER
        + """
async def test_nested(yara_db):
    async with in_transaction():
        await Author.create(name="outer")
        with pytest.raises(TransactionRollbackError):
            async with in_transaction():
                await Author.create(name="inner")
                with yara_db.fail("INSERT", "deadlock"):
                    await Author.create(name="failing")
        await Author.create(name="outer again")
    assert [a.name for a in await Author.all().order_by("name")] == ["outer", "outer again"]


async def test_in_a_bulk_write(yara_db):
    with yara_db.fail("INSERT INTO author", "check_violation"):
        with pytest.raises(IntegrityError):
            await Author.bulk_create([Author(name=f"a{n}") for n in range(50)])
    assert await Author.all().count() == 0


async def test_at_commit(yara_db):
    with yara_db.fail("COMMIT", "serialization_failure"):
        with pytest.raises(TransactionRollbackError):
            async with in_transaction():
                await Author.create(name="never committed")
    assert [r.injected for r in yara_db.queries if r.injected] == ["serialization_failure"]
    assert await Author.all().count() == 0
""",
    )
    result.assert_outcomes(passed=3)


def test_a_fault_on_seeded_rows_leaves_the_seed_for_the_next_test(app: Runner) -> None:
    result = app(
        "-p",
        "no:randomly",
        conftest="""
        import pytest
        from app_models import Author

        @pytest.fixture(scope="session")
        def yara_seed():
            async def seed():
                await Author.bulk_create([Author(name=f"seeded {n}") for n in range(3)])
            return seed
        """,
        test_seeded=HEADER
        + """
async def test_1_half_way(yara_db):
    with yara_db.fail("DELETE", "connection_lost", after=1):
        with pytest.raises(DBConnectionError):
            async with in_transaction():
                for author in await Author.all():
                    await author.delete()
    assert await Author.all().count() == 3
    await Author.filter(name="seeded 0").delete()


async def test_2_seed_intact(yara_db):
    assert await Author.all().count() == 3
""",
    )
    result.assert_outcomes(passed=2)


def test_retry_runs_the_transaction_again_after_a_serialization_failure(app: Runner) -> None:
    result = app(
        test_retry=HEADER
        + """
async def test_retried(yara_db):
    attempts = []

    @retry(attempts=3, backoff=0.001)
    async def rename(old, new):
        attempts.append(1)
        author = await Author.get(name=old)
        author.name = new
        await author.save()

    await Author.create(name="Ada")
    with yara_db.fail("UPDATE", "serialization_failure", times=2):
        await rename("Ada", "Ada Lovelace")
    assert len(attempts) == 3
    assert await Author.get(name="Ada Lovelace")


async def test_gives_up(yara_db):
    @retry(attempts=2, backoff=0)
    async def create():
        await Author.create(name="never")

    with yara_db.fail("INSERT", "deadlock", times=None) as fault:
        with pytest.raises(TransactionRollbackError):
            await create()
    assert fault.injected == 2
    assert await Author.all().count() == 0
""",
    )
    result.assert_outcomes(passed=2)


def test_the_db_time_budgets_count_the_simulated_latency(app: Runner) -> None:
    result = app(
        test_budget=HEADER
        + """
@pytest.mark.yara_latency(0.01)
async def test_block_over_budget(yara_db):
    with yara_db.assert_max_db_time(0.025):
        for _ in range(3):
            await Author.all().count()


@pytest.mark.yara_latency(0.01)
async def test_block_within_budget(yara_db):
    with yara_db.assert_max_db_time(30) as log:
        await Author.all().count()
    assert len(log) == 1


@pytest.mark.yara_max_db_time(0.015)
@pytest.mark.yara_latency(0.01)
async def test_marker_over_budget(yara_db):
    await Author.all().count()
    await Author.all().count()
""",
    )
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*the block's queries took * ms, more than 25 ms:*",
            "*3 queries, * ms, GIL held * ms, 30.00 ms simulated latency*",
            "*the test body's queries took * ms, more than yara_max_db_time(0.015)*",
        ]
    )


def test_faults_and_latency_under_xdist(app: Runner, pytester: pytest.Pytester) -> None:
    tests = "".join(
        f"""
@pytest.mark.yara_latency(0.001)
async def test_{n}(yara_db):
    await Author.create(name="a{n}")
    with yara_db.fail("INSERT", "unique_violation"):
        with pytest.raises(IntegrityError):
            await Author.create(name="b{n}")
    assert await Author.all().count() == 1
"""
        for n in range(6)
    )
    result = app("-n", "2", "--yara-report=report.json", test_xdist=HEADER + tests)
    result.assert_outcomes(passed=6)
    data = json.loads(pytester.path.joinpath("report.json").read_text())
    assert len(data["tests"]) == 6
    for test in data["tests"]:
        assert test["simulated"] > 0
        assert sum(1 for s in test["statements"] if s["error"] and s["injected"]) == 1
