"""The database simulation: latency and faults injected into an engine's statements, failing
them with the exception the real backend raises and leaving the transaction as a real failure
would."""

from __future__ import annotations

import asyncio
import re
import time

import pytest

from yara_orm import (
    ConfigurationError,
    DBConnectionError,
    Engine,
    IntegrityError,
    InternalError,
    OperationalError,
    QueryCanceledError,
    TransactionRollbackError,
)

from .conftest import placeholders

FAULTS = [
    ("unique_violation", IntegrityError, "23505"),
    ("foreign_key_violation", IntegrityError, "23503"),
    ("not_null_violation", IntegrityError, "23502"),
    ("check_violation", IntegrityError, "23514"),
    ("serialization_failure", TransactionRollbackError, "40001"),
    ("deadlock", TransactionRollbackError, "40P01"),
    ("lock_timeout", OperationalError, "55P03"),
    ("query_canceled", QueryCanceledError, "57014"),
    ("connection_lost", DBConnectionError, "08006"),
    ("disk_full", OperationalError, "53100"),
    ("too_many_connections", DBConnectionError, "53300"),
    ("40001", TransactionRollbackError, "40001"),
    ("XX001", InternalError, "XX001"),
]


def insert_sql(backend: str) -> str:
    return f'INSERT INTO "t" (id) VALUES ({placeholders(backend, 1)})'


async def ids(engine: Engine) -> list[int]:
    return [row[0] for row in await engine.fetch_rows("SELECT id FROM t ORDER BY id")]


@pytest.fixture
async def table(engine: Engine, backend: str) -> None:
    await engine.execute_script("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    await engine.execute(insert_sql(backend), [1])


async def test_latency_is_added_to_the_io_time_and_undone_after_the_block(
    engine: Engine,
) -> None:
    with engine.simulate(0.02) as latency:
        _, stats = await engine.fetch_rows("SELECT 1", with_stats=True)
        assert stats.simulated == pytest.approx(0.02)
        assert stats.io >= 0.02
        assert stats.total >= stats.io
    assert (latency.kind, latency.matched, latency.injected, latency.active) == (
        "latency",
        1,
        1,
        False,
    )
    _, stats = await engine.fetch_rows("SELECT 1", with_stats=True)
    assert stats.simulated == 0.0
    assert engine.injections == []


@pytest.mark.parametrize("isolated", [False, True])
async def test_concurrent_statements_overlap_their_delays(engine: Engine, isolated: bool) -> None:
    if isolated:
        await engine.enter_isolation()
    with engine.simulate(0.4):
        started = time.perf_counter()
        await asyncio.gather(*(engine.fetch_rows("SELECT 1") for _ in range(4)))
        together = time.perf_counter() - started
    # One after another they would take 1.6 s: the delays ran side by side.
    assert 0.4 <= together < 1.2


async def test_a_latency_profile_by_statement_keyword_or_function(
    engine: Engine, backend: str, table: None
) -> None:
    with engine.simulate({"select": 0.004, "*": 0.001}):
        _, selected = await engine.fetch_rows("  SELECT 1", with_stats=True)
        _, inserted = await engine.execute(insert_sql(backend), [2], with_stats=True)
    assert (selected.simulated, inserted.simulated) == (pytest.approx(0.004), pytest.approx(0.001))
    with engine.simulate(lambda sql: 0.003 if "t" in sql else None):
        _, from_t = await engine.fetch_rows("SELECT id FROM t", with_stats=True)
        _, plain = await engine.fetch_rows("SELECT 1", with_stats=True)
    assert (from_t.simulated, plain.simulated) == (pytest.approx(0.003), 0.0)


async def test_jitter_is_reproducible_with_a_seed(engine: Engine) -> None:
    async def delays(seed: int) -> list[float]:
        with engine.simulate(0.002, jitter=0.001, seed=seed):
            results = [await engine.fetch_rows("SELECT 1", with_stats=True) for _ in range(8)]
        return [stats.simulated for _, stats in results]

    first, again, other = await delays(5), await delays(5), await delays(6)
    assert first == again != other
    assert all(0.001 <= delay <= 0.003 for delay in first)
    assert len(set(first)) > 1


async def test_the_latest_latency_wins_and_removing_it_restores_the_one_before(
    engine: Engine,
) -> None:
    outer = engine.simulate(0.001)
    with engine.simulate(0.003):
        _, stats = await engine.fetch_rows("SELECT 1", with_stats=True)
        assert stats.simulated == pytest.approx(0.003)
    _, stats = await engine.fetch_rows("SELECT 1", with_stats=True)
    assert stats.simulated == pytest.approx(0.001)
    assert [i.kind for i in engine.injections] == ["latency"]
    assert outer.remove() is True
    assert outer.remove() is False


@pytest.mark.parametrize(("error", "kind", "sqlstate"), FAULTS)
async def test_each_fault_raises_what_the_backend_raises(
    engine: Engine, backend: str, table: None, error: str, kind: type, sqlstate: str
) -> None:
    with engine.fail("INSERT INTO t", error) as fault:
        with pytest.raises(kind) as raised:
            await engine.execute(insert_sql(backend), [2])
        await engine.execute(insert_sql(backend), [3])  # times=1: the next one runs
    assert raised.value.sqlstate == sqlstate
    assert raised.value.injected == error
    assert "injected by the database simulation" in str(raised.value)
    assert (fault.matched, fault.injected) == (2, 1)
    assert await ids(engine) == [1, 3]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"error": "deadlocks"}, "unknown fault 'deadlocks'|unknown fault \"deadlocks\""),
        ({"error": "00000"}, "unique_violation, foreign_key_violation"),
        ({}, "fail\\(\\) needs error="),
        ({"error": "deadlock", "times": 0}, "times must be 1 or more"),
        ({"error": "deadlock", "times": "2"}, "times must be a whole number"),
        ({"error": "deadlock", "after": -1}, "after must be 0 or more"),
        ({"error": "deadlock", "probability": 1.5}, "probability must be between 0 and 1"),
        ({"error": "deadlock", "match": 3}, "match must be a substring"),
    ],
)
async def test_bad_fault_arguments_say_what_is_valid(
    engine: Engine, arguments: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        engine.fail(**arguments)  # type: ignore[arg-type]
    assert engine.injections == []


@pytest.mark.parametrize(
    ("latency", "message"),
    [
        (-1, "latency must be a number of seconds from 0 to 3600"),
        (1e300, "latency must be a number of seconds from 0 to 3600"),
        (float("nan"), "latency must be a number of seconds from 0 to 3600"),
        ("2ms", "latency must be a number of seconds, not '2ms'"),
    ],
)
async def test_bad_latencies_say_what_is_valid(
    engine: Engine, latency: object, message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        engine.simulate(latency)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="must be a number of seconds"):
        engine.simulate({"SELECT": "slow"})


async def test_after_and_times_choose_the_failing_statements(engine: Engine) -> None:
    async def outcomes(**options: object) -> str:
        with engine.fail("SELECT", "deadlock", **options):  # type: ignore[arg-type]
            marks = ""
            for _ in range(6):
                try:
                    await engine.fetch_rows("SELECT 1")
                    marks += "."
                except TransactionRollbackError:
                    marks += "F"
        return marks

    assert await outcomes() == "F....."
    assert await outcomes(after=2) == "..F..."
    assert await outcomes(after=1, times=2) == ".FF..."
    assert await outcomes(after=4, times=None) == "....FF"


async def test_random_faults_are_reproducible_with_a_seed(engine: Engine) -> None:
    async def pattern(seed: int) -> str:
        marks = ""
        with engine.fail(None, "serialization_failure", probability=0.3, seed=seed):
            for _ in range(40):
                try:
                    await engine.fetch_rows("SELECT 1")
                    marks += "."
                except TransactionRollbackError:
                    marks += "F"
        return marks

    first, again, other = await pattern(11), await pattern(11), await pattern(12)
    assert first == again != other
    assert 0 < first.count("F") < 40  # probability alone keeps failing: no times limit


async def test_matching_by_substring_regex_or_function(
    engine: Engine, backend: str, table: None
) -> None:
    # Case and identifier quotes do not matter to a substring.
    with engine.fail("insert into T", "unique_violation", times=None):
        with pytest.raises(IntegrityError):
            await engine.execute(insert_sql(backend), [2])
        await engine.fetch_rows("SELECT id FROM t")
    with engine.fail(re.compile(r"^select\b.*\bfrom t$", re.I), "deadlock", times=None):
        await engine.fetch_rows("SELECT 1")
        with pytest.raises(TransactionRollbackError):
            await engine.fetch_rows("select id from t")
    seen: list[str] = []

    def only_the_second(sql: str) -> bool:
        seen.append(sql)
        return len(seen) == 2

    with engine.fail(only_the_second, "lock_timeout", times=None):
        await engine.fetch_rows("SELECT 1")
        with pytest.raises(OperationalError, match="lock timeout"):
            await engine.fetch_rows("SELECT 2")
    assert seen == ["SELECT 1", "SELECT 2"]

    def broken(sql: str) -> bool:
        raise LookupError("the matcher itself failed")

    with engine.fail(broken, "deadlock"), pytest.raises(LookupError):
        engine.fetch_rows("SELECT 1")  # raised by the call, before anything runs
    assert await ids(engine) == [1]


async def test_a_fault_in_a_transaction_leaves_it_as_a_real_failure_would(
    engine: Engine, backend: str, table: None
) -> None:
    tx = await engine.begin()
    await tx.execute(insert_sql(backend), [2])
    with engine.fail("INSERT", "unique_violation"), pytest.raises(IntegrityError):
        await tx.execute(insert_sql(backend), [3])
    if backend == "postgres":
        # The server aborted the transaction, as it does after any error.
        with pytest.raises(InternalError) as aborted:
            await tx.fetch_rows("SELECT 1")
        assert aborted.value.sqlstate == "25P02"
        with pytest.raises(InternalError, match="rolled back"):
            await tx.commit()
        assert await ids(engine) == [1]
    else:
        # SQLite keeps the transaction after a failed statement.
        await tx.execute(insert_sql(backend), [4])
        await tx.commit()
        assert await ids(engine) == [1, 2, 4]


@pytest.mark.parametrize("isolated", [False, True])
async def test_a_fault_inside_a_savepoint_rolls_back_only_that_savepoint(
    engine: Engine, backend: str, table: None, isolated: bool
) -> None:
    if isolated:
        await engine.enter_isolation()
    tx = await engine.begin()
    await tx.execute(insert_sql(backend), [2])
    await tx.savepoint("inner")
    await tx.execute(insert_sql(backend), [3])
    with engine.fail("INSERT", "deadlock", after=1), pytest.raises(TransactionRollbackError):
        await tx.execute(insert_sql(backend), [4])
        await tx.execute(insert_sql(backend), [5])
    await tx.rollback_to("inner")
    await tx.release("inner")
    await tx.execute(insert_sql(backend), [6])
    await tx.commit()
    assert await ids(engine) == [1, 2, 6]
    if isolated:
        await engine.leave_isolation()
        assert await ids(engine) == [1]


async def test_a_lost_connection_takes_its_transaction_with_it(
    engine: Engine, backend: str, table: None
) -> None:
    tx = await engine.begin()
    await tx.execute(insert_sql(backend), [2])
    with engine.fail("INSERT", "connection_lost"), pytest.raises(DBConnectionError):
        await tx.execute(insert_sql(backend), [3])
    with pytest.raises(DBConnectionError, match="lost earlier in this transaction"):
        await tx.fetch_rows("SELECT 1")
    with pytest.raises(DBConnectionError, match="nothing was committed"):
        await tx.commit()
    # The next statement outside it works, and nothing of the transaction was kept.
    assert await ids(engine) == [1]
    again = await engine.begin()
    with engine.fail("INSERT", "connection_lost"), pytest.raises(DBConnectionError):
        await again.execute(insert_sql(backend), [3])
    await again.rollback()  # nothing left to undo: no second error
    assert await ids(engine) == [1]


async def test_a_lost_connection_under_isolation_keeps_the_isolation(
    engine: Engine, backend: str, table: None
) -> None:
    await engine.enter_isolation()
    await engine.execute(insert_sql(backend), [2])
    tx = await engine.begin()
    await tx.execute(insert_sql(backend), [3])
    await tx.savepoint("nested")
    await tx.execute(insert_sql(backend), [4])
    with engine.fail("INSERT", "connection_lost"), pytest.raises(DBConnectionError):
        await tx.execute(insert_sql(backend), [5])
    with pytest.raises(DBConnectionError):
        await tx.execute(insert_sql(backend), [6])
    await tx.rollback_to("nested")  # the savepoint went with the transaction: nothing to do
    with pytest.raises(DBConnectionError):
        await tx.savepoint("another")
    with pytest.raises(DBConnectionError):
        await tx.commit()
    # The transaction's work is gone, the test's is not, and another task is not blocked.
    assert await ids(engine) == [1, 2]

    async def another_task() -> None:
        other = await engine.begin()
        await other.execute(insert_sql(backend), [7])
        await other.commit()

    await asyncio.wait_for(asyncio.create_task(another_task()), 5)
    assert await ids(engine) == [1, 2, 7]
    with engine.fail("SELECT", "connection_lost"), pytest.raises(DBConnectionError):
        await engine.fetch_rows("SELECT id FROM t")
    assert await engine.leave_isolation() == 0
    assert await ids(engine) == [1]


async def test_a_lost_connection_outside_a_transaction_fails_that_statement_only(
    engine: Engine, backend: str, table: None
) -> None:
    with engine.fail("INSERT", "connection_lost"), pytest.raises(DBConnectionError):
        await engine.execute(insert_sql(backend), [2])
    await engine.execute(insert_sql(backend), [3])
    assert await ids(engine) == [1, 3]


async def test_a_fault_in_a_bulk_write_writes_nothing(
    engine: Engine, backend: str, table: None
) -> None:
    with engine.fail("INSERT", "disk_full"), pytest.raises(OperationalError) as raised:
        await engine.execute_many(insert_sql(backend), [[2], [3], [4]])
    assert raised.value.sqlstate == "53100"
    assert await ids(engine) == [1]


async def test_a_statement_cancelled_during_its_delay_stops_there(
    engine: Engine, backend: str, table: None
) -> None:
    with engine.simulate(5.0):
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(engine.execute(insert_sql(backend), [2]), 0.05)
    assert await ids(engine) == [1]


async def test_faults_and_latency_together_are_both_marked(engine: Engine) -> None:
    with engine.simulate(0.001), engine.fail("SELECT 2", "deadlock"):
        _, stats = await engine.fetch_rows("SELECT 1", with_stats=True)
        with pytest.raises(TransactionRollbackError) as raised:
            await engine.fetch_rows("SELECT 2")
        assert [i.kind for i in engine.injections] == ["latency", "deadlock"]
        assert "deadlock" in repr(engine.injections[1])
    assert stats.simulated == pytest.approx(0.001)
    assert raised.value.injected == "deadlock"


@pytest.mark.parametrize("isolated", [False, True])
@pytest.mark.parametrize(
    ("error", "kind"),
    [("serialization_failure", TransactionRollbackError), ("connection_lost", DBConnectionError)],
)
async def test_a_fault_can_strike_the_commit(
    engine: Engine, backend: str, table: None, isolated: bool, error: str, kind: type
) -> None:
    if isolated:
        await engine.enter_isolation()
    tx = await engine.begin()
    await tx.execute(insert_sql(backend), [2])
    with engine.fail("COMMIT", error) as fault, pytest.raises(kind) as raised:
        await tx.commit()
    assert (fault.matched, fault.injected) == (1, 1)
    assert raised.value.sql == "COMMIT"
    assert tx.is_finished
    # Nothing was committed, and the engine goes on (another transaction commits).
    assert await ids(engine) == [1]
    again = await engine.begin()
    await again.execute(insert_sql(backend), [3])
    await again.commit()
    assert await ids(engine) == [1, 3]
