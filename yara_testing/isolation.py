"""Per-test isolation, driven through the engine's isolation mode on each test database, and
the table emptying that replaces it for tests that need real commits
(`@pytest.mark.yara_db(transaction=True)`)."""

from __future__ import annotations

import contextvars
from collections.abc import Iterable

from yara_orm import Engine
from yara_orm._engine import Rewind
from yara_orm.exceptions import YaraError
from yara_testing.databases import TestDatabase

# The test whose database a task's statements belong to: set while a test holds the database,
# so every task it starts carries it, and a task that outlives its test is caught.
TEST_OF_TASK: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "yara_test_of_task", default=None
)


class LeakedTaskError(YaraError):
    """A task started by an earlier test ran a query after that test ended."""


def enter(engines: Iterable[Engine], patience: float) -> None:
    """Everything from here on runs in a savepoint-backed outer transaction, on each engine.
    Called from synchronous fixtures: the engine waits on this thread, no event loop between."""
    for engine in engines:
        engine.enter_isolation_blocking(patience=patience)


def leave(engines: Iterable[Engine]) -> None:
    """Roll back everything since `enter()`, commits included."""
    for engine in engines:
        if engine.isolation_depth:
            engine.leave_isolation_blocking()


def start_rewind(engines: list[Engine]) -> list[Rewind]:
    """Roll back everything since `enter()` and stay entered, on each engine, without waiting
    for the round trips: each engine takes its level at once (later statements queue behind
    the rollback); `finish_rewind` learns how they went."""
    return [engine.start_rewind_isolation() for engine in engines]


def finish_rewind(engines: list[Engine], rewinds: list[Rewind]) -> bool:
    """Wait for `start_rewind`'s rollbacks. If an engine could not (its connection was lost),
    every level is left instead and the answer is False."""
    try:
        for rewind in rewinds:
            rewind.wait()
    except YaraError:
        leave(engines)
        return False
    return True


async def empty_tables(databases: Iterable[TestDatabase]) -> None:
    """Delete every row of every model table (and join table) of each database."""
    for database in databases:
        await database.empty()


async def reset_sequences(databases: Iterable[TestDatabase]) -> None:
    """Generated keys continue from each table's highest key (see TestDatabase)."""
    for database in databases:
        await database.reset_sequences()
