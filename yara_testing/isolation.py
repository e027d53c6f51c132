"""Per-test isolation, driven through the engine's isolation mode on each test database, and
the table emptying that replaces it for tests that need real commits
(`@pytest.mark.yara_db(transaction=True)`)."""

from __future__ import annotations

from collections.abc import Iterable

from yara_orm import Engine
from yara_testing.databases import TestDatabase


async def enter(engines: Iterable[Engine], patience: float) -> None:
    """Everything from here on runs in a savepoint-backed outer transaction, on each engine."""
    for engine in engines:
        await engine.enter_isolation(patience=patience)


async def leave(engines: Iterable[Engine]) -> None:
    """Roll back everything since `enter()`, commits included."""
    for engine in engines:
        if engine.isolation_depth:
            await engine.leave_isolation()


async def empty_tables(databases: Iterable[TestDatabase]) -> None:
    """Delete every row of every model table (and join table) of each database."""
    for database in databases:
        await database.empty()
