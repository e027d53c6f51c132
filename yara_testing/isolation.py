"""Per-test isolation, driven through the engine's isolation mode, and the table emptying that
replaces it for tests that need real commits (`@pytest.mark.yara_db(transaction=True)`)."""

from __future__ import annotations

from yara_orm import Engine, YaraOrm, connections


def _engines() -> list[Engine]:
    return [connections.engine(name) for name in connections.names()]


async def enter() -> None:
    """Everything from here on runs in a savepoint-backed outer transaction, on every engine."""
    for engine in _engines():
        await engine.enter_isolation()


async def leave() -> None:
    """Roll back everything since `enter()`, commits included."""
    for engine in _engines():
        if engine.isolation_depth:
            await engine.leave_isolation()


async def empty_tables() -> None:
    """Delete every row of every model table (and join table), children first."""
    for name in connections.names():
        client = connections.base(name)
        quote = client.dialect.quote
        tables = list(reversed(YaraOrm.table_names(name)))
        if client.dialect.name == "postgres" and tables:
            await client.execute_script(
                "TRUNCATE " + ", ".join(quote(t) for t in tables) + " RESTART IDENTITY CASCADE"
            )
            continue
        for table in tables:
            await client.execute(f"DELETE FROM {quote(table)}")
        if tables:
            rows = await client.fetch(
                "SELECT name FROM sqlite_master WHERE name = 'sqlite_sequence'"
            )
            if rows:
                await client.execute("DELETE FROM sqlite_sequence")
