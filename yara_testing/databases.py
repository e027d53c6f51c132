"""The session's test databases: one per connection alias of the ORM configuration, each with
the schema of the models on it (kept between runs with --yara-reuse-db, rebuilt when the
models or the setup SQL change). Under xdist each worker's database is cloned from a template
that holds the schema, so the schema is built once, not once per worker."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from yara_orm import Engine, connect
from yara_orm.dialects import DIALECTS
from yara_orm.exceptions import ConfigurationError, YaraError
from yara_orm.fields import IntField
from yara_orm.schema import schema_sql, table_names
from yara_testing.provisioning import (
    _admin,
    _exists,
    create_database,
    database_name,
    template_name,
    with_database,
)

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
    kept: bool = False  # an earlier run's database, reused (--yara-reuse-db)
    template: str | None = None  # the database it was cloned from (xdist)
    # (table, column) of each generated integer primary key, for reset_sequences.
    serials: list[tuple[str, str]] = field(default_factory=list)

    async def reset_sequences(self) -> None:
        """Each generated key continues from the table's highest key, as SQLite's does after
        a rollback: PostgreSQL sequences are not transactional, so a rolled-back test would
        leave them advanced and the next test's keys would differ between the backends."""
        if self.engine.backend != "postgres" or not self.serials:
            return
        quote = DIALECTS["postgres"].quote
        resets = ", ".join(
            f"setval(pg_get_serial_sequence({_literal(quote(table))}, {_literal(column)}), "
            f"COALESCE((SELECT MAX({quote(column)}) FROM {quote(table)}), 0) + 1, false)"
            for table, column in self.serials
        )
        await self.engine.fetch_rows(f"SELECT {resets}")

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


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _serials(models: Sequence[type[Model]]) -> list[tuple[str, str]]:
    return [
        (model._meta.table, model._meta.pk.column)
        for model in models
        if model._meta.pk.generated and isinstance(model._meta.pk, IntField)
    ]


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
    rebuild: bool = False,
    setup_sql: str = "",
    run: str | None = None,
) -> TestDatabase:
    """Create (or, reusing, find) the test database for `alias` with its models' schema.

    On PostgreSQL, `setup_sql` runs first. An xdist worker's database is a clone of a
    template that holds the schema, built once by the first worker to need it; `run` (xdist's
    test run id) tells a template this run built from an older one that `rebuild` replaces."""
    tables = table_names(list(models))
    serials = _serials(models)
    if admin_url is None:
        engine = await connect("sqlite://:memory:")
        for statement in schema_sql(list(models), DIALECTS["sqlite"], True):
            await engine.execute_script(statement)
        return TestDatabase(alias, "sqlite://:memory:", engine, None, tables, serials=serials)
    statements = schema_sql(list(models), DIALECTS["postgres"], True)
    # hashlib, not hash(): string hashes change from one process to the next.
    fingerprint = hashlib.sha256("\n".join([setup_sql, *statements]).encode()).hexdigest()
    suffix = None if alias == DEFAULT else alias
    name = database_name(base_name, worker, suffix)
    url = with_database(admin_url, name)
    if reuse and not rebuild and await _exists(admin_url, name):
        engine = await connect(url)
        if await _stored_fingerprint(engine) == fingerprint:
            database = TestDatabase(alias, url, engine, name, tables, True, serials=serials)
            await database.empty()
            return database
        await engine.close()  # the models changed since it was made: rebuild it
    template = None
    if worker is not None:
        template = template_name(database_name(base_name, None, suffix))
        mark = f"yara:{fingerprint}:{run}"
        await _ensure_template(admin_url, template, setup_sql, statements, mark, rebuild)
        await _admin(
            admin_url,
            f"DROP DATABASE IF EXISTS {_quote(name)} WITH (FORCE)",
            f"CREATE DATABASE {_quote(name)} TEMPLATE {_quote(template)}",
        )
        engine = await connect(url)
    else:
        await create_database(admin_url, name, False)
        engine = await connect(url)
        await _build(engine, setup_sql, statements, fingerprint)
    return TestDatabase(alias, url, engine, name, tables, template=template, serials=serials)


async def _build(engine: Engine, setup_sql: str, statements: list[str], fingerprint: str) -> None:
    if setup_sql:
        try:
            await engine.execute_script(setup_sql)
        except YaraError as error:
            raise ConfigurationError(f"yara_db_setup_sql failed: {error}") from None
    for statement in statements:
        await engine.execute_script(statement)
    await _store_fingerprint(engine, fingerprint)


async def _ensure_template(
    admin_url: str,
    template: str,
    setup_sql: str,
    statements: list[str],
    mark: str,
    rebuild: bool,
) -> None:
    """Build the template database unless one with this schema exists (and may be reused).
    Workers start at the same time: an advisory lock lets one build while the others wait.
    `mark` is `yara:<fingerprint>:<run>`: any run's template of this schema does, unless
    `rebuild` asks for one of this run."""
    admin = await connect(admin_url, max_size=1, connect_timeout=10)
    try:
        key = int(hashlib.sha256(template.encode()).hexdigest()[:15], 16)
        await admin.fetch_rows("SELECT pg_advisory_lock($1)", [key])
        rows = await admin.fetch_rows(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1",
            [template],
        )
        found = str(rows[0][0] or "") if rows else ""
        fingerprint = mark.split(":")[1]
        if found == mark or (found.startswith(f"yara:{fingerprint}:") and not rebuild):
            return
        await admin.execute_script(f"DROP DATABASE IF EXISTS {_quote(template)} WITH (FORCE)")
        await admin.execute_script(f"CREATE DATABASE {_quote(template)}")
        engine = await connect(with_database(admin_url, template), max_size=1)
        try:
            await _build(engine, setup_sql, statements, fingerprint)
        finally:
            await engine.close()
        # The fingerprint on the database itself: checking it needs no connection to the
        # template, which would stop other workers from cloning it.
        await admin.execute_script(f"COMMENT ON DATABASE {_quote(template)} IS '{mark}'")
    finally:
        await admin.close()  # and with the session, the advisory lock


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
