"""The session's test databases: one per connection alias of the ORM configuration, each with
the schema of the models on it (kept between runs with --yara-reuse-db, rebuilt when the
models change)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from yara_orm import Engine, connect
from yara_orm.dialects import DIALECTS
from yara_orm.exceptions import YaraError
from yara_orm.schema import schema_sql, table_names
from yara_testing.provisioning import create_database, database_name, with_database

if TYPE_CHECKING:
    from yara_orm.models.base import Model

DEFAULT = "default"
FINGERPRINT_TABLE = "yara_schema_fingerprint"


@dataclass
class TestDatabase:
    alias: str
    url: str
    engine: Engine
    name: str | None  # the database's name on a PostgreSQL server
    tables: list[str]  # the models' tables, referenced tables first
    kept: bool = False

    async def empty(self) -> None:
        """Delete every row of every model table (and join table), children first."""
        quote = DIALECTS[self.engine.backend].quote
        tables = list(reversed(self.tables))
        if not tables:
            return
        if self.engine.backend == "postgres":
            await self.engine.execute_script(
                "TRUNCATE " + ", ".join(quote(t) for t in tables) + " RESTART IDENTITY CASCADE"
            )
            return
        for table in tables:
            await self.engine.execute(f"DELETE FROM {quote(table)}")
        rows = await self.engine.fetch_rows(
            "SELECT name FROM sqlite_master WHERE name = 'sqlite_sequence'"
        )
        if rows:
            await self.engine.execute("DELETE FROM sqlite_sequence")


async def _stored_fingerprint(engine: Engine) -> str | None:
    try:
        rows = await engine.fetch_rows(f"SELECT value FROM {FINGERPRINT_TABLE}")
    except YaraError:
        return None
    return str(rows[0][0]) if rows else None


async def _store_fingerprint(engine: Engine, fingerprint: str) -> None:
    await engine.execute_script(
        f"CREATE TABLE IF NOT EXISTS {FINGERPRINT_TABLE} (value TEXT); "
        f"DELETE FROM {FINGERPRINT_TABLE}"
    )
    mark = DIALECTS[engine.backend].placeholder(1)
    await engine.execute(f"INSERT INTO {FINGERPRINT_TABLE} (value) VALUES ({mark})", [fingerprint])


async def open_database(
    alias: str,
    models: Sequence[type[Model]],
    *,
    admin_url: str | None,
    base_name: str,
    worker: str | None,
    reuse: bool,
) -> TestDatabase:
    """Create (or, reusing, find) the test database for `alias` with its models' schema."""
    name: str | None = None
    kept = False
    url = "sqlite://:memory:"
    if admin_url is not None:
        name = database_name(base_name, worker, None if alias == DEFAULT else alias)
        kept = await create_database(admin_url, name, reuse)
        url = with_database(admin_url, name)
    engine = await connect(url)
    statements = schema_sql(list(models), DIALECTS[engine.backend], True)
    # hashlib, not hash(): string hashes change from one process to the next.
    fingerprint = hashlib.sha256("\n".join(statements).encode()).hexdigest()
    if kept and await _stored_fingerprint(engine) != fingerprint:
        # The models changed since the kept database was made: rebuild it.
        assert admin_url is not None and name is not None
        await engine.close()
        await create_database(admin_url, name, False)
        engine = await connect(url)
        kept = False
    for statement in statements:
        await engine.execute_script(statement)
    await _store_fingerprint(engine, fingerprint)
    database = TestDatabase(alias, url, engine, name, table_names(list(models)), kept)
    if kept:
        await database.empty()
    return database
