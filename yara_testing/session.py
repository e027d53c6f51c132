"""The plugin's state, kept on `config.stash`: settings read once, and the test session's
database (provisioned on first use, torn down at the end)."""

from __future__ import annotations

import hashlib
import inspect
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from yara_orm import YaraOrm, connect, connections
from yara_orm.connection import add_guard, remove_guard
from yara_orm.exceptions import YaraError
from yara_testing import isolation
from yara_testing.portal import Portal
from yara_testing.provisioning import (
    DEFAULT_IMAGE,
    ProvisioningError,
    Server,
    create_database,
    database_name,
    drop_database,
    drop_leftovers,
    start_server,
    with_database,
)
from yara_testing.recorder import recorder
from yara_testing.report import SessionReport

BACKENDS = ("sqlite", "postgres")
NPLUSONE_MODES = ("off", "warn", "error")
FINGERPRINT_TABLE = "yara_schema_fingerprint"


STATE = pytest.StashKey["PluginState"]()


@dataclass
class Settings:
    backend: str
    url: str | None
    reuse: bool
    image: str
    nplusone: str
    report_path: str | None
    models: list[str]
    name: str

    @classmethod
    def read(cls, config: pytest.Config) -> Settings:
        def option(name: str, ini: str) -> Any:
            value = config.getoption(name)
            return value if value is not None else config.getini(ini)

        backend = str(option("yara_db", "yara_db") or "sqlite")
        if backend not in BACKENDS:
            raise pytest.UsageError(
                f"yara: unknown database {backend!r} for --yara-db; valid: {', '.join(BACKENDS)}"
            )
        nplusone = str(option("yara_nplusone", "yara_nplusone") or "off")
        if nplusone not in NPLUSONE_MODES:
            raise pytest.UsageError(
                f"yara: unknown mode {nplusone!r} for --yara-nplusone; "
                f"valid: {', '.join(NPLUSONE_MODES)}"
            )
        url = option("yara_db_url", "yara_db_url") or os.environ.get("YARA_TEST_DB_URL") or None
        if url is not None and not str(url).startswith(("postgres://", "postgresql://")):
            raise pytest.UsageError(
                f"yara: --yara-db-url must be a postgres:// URL of a server, not {url!r}"
            )
        reuse = bool(config.getoption("yara_reuse_db") or config.getini("yara_reuse_db"))
        return cls(
            backend=backend,
            url=url,
            reuse=reuse,
            image=str(option("yara_pg_image", "yara_pg_image") or DEFAULT_IMAGE),
            nplusone=nplusone,
            report_path=option("yara_report", "yara_report") or None,
            models=list(config.getini("yara_models")),
            name=str(config.getini("yara_db_name") or Path(str(config.rootpath)).name),
        )


@dataclass
class PluginState:
    settings: Settings
    worker: str | None
    portal: Portal | None = None
    server: Server | None = None  # started by this process (the xdist controller, or alone)
    session: DatabaseSession | None = None
    allowed: bool = False
    report: SessionReport = field(default_factory=SessionReport)
    notes: list[str] = field(default_factory=list)

    def get_portal(self) -> Portal:
        if self.portal is None:
            self.portal = Portal()
        return self.portal

    def ensure_server(self) -> Server:
        """A PostgreSQL server for --yara-db=postgres without a URL (started once)."""
        if self.server is None:
            self.server = start_server(self.settings.image, self.settings.reuse, self.notes)
        return self.server

    def guard(self, sql: str) -> None:
        if self.session is not None and not self.allowed:
            # pytest.fail: one line, no traceback, and no `except Exception` can swallow it.
            pytest.fail(
                "Database access not allowed: use the `yara_db` fixture or mark the test "
                "with @pytest.mark.yara_db",
                pytrace=False,
            )


class DatabaseSession:
    """The session's database: provisioned, the ORM initialised, the schema created, seeded."""

    def __init__(self, state: PluginState, admin_url: str | None, method: str, seconds: float):
        self.state = state
        self.admin_url = admin_url
        self.method = method
        self.provision_seconds = seconds
        self.db_name: str | None = None
        self.url = "sqlite://:memory:"
        self.backend = state.settings.backend
        self.seed: Any = None

    @property
    def portal(self) -> Portal:
        return self.state.get_portal()

    def start(self, orm_config: dict[str, Any]) -> None:
        settings = self.state.settings
        started = time.monotonic()
        kept = False
        if self.backend == "postgres":
            assert self.admin_url is not None
            if self.state.worker is None and not settings.reuse:
                base = database_name(settings.name, None)
                dropped = self.portal.run(drop_leftovers, self.admin_url, base)
                self.state.notes.extend(
                    f"dropped {name}, left by an earlier run" for name in dropped
                )
            self.db_name = database_name(settings.name, self.state.worker)
            kept = self.portal.run(create_database, self.admin_url, self.db_name, settings.reuse)
            self.url = with_database(self.admin_url, self.db_name)
        models = orm_config.get("models") or settings.models or None
        try:
            self.portal.run(lambda: YaraOrm.init(self.url, models=models))
        except YaraError as error:
            pytest.fail(f"yara: {error}", pytrace=False)
        statements = YaraOrm.schema_statements()
        # hashlib, not hash(): string hashes change from one process to the next.
        fingerprint = hashlib.sha256("\n".join(statements).encode()).hexdigest()
        if kept and self.portal.run(self._fingerprint) != fingerprint:
            # The models changed since the kept database was made: rebuild it.
            self.portal.run(YaraOrm.close)
            self.portal.run(create_database, self.admin_url, self.db_name, False)
            self.portal.run(lambda: YaraOrm.init(self.url, models=models))
            kept = False
        self.portal.run(YaraOrm.generate_schemas)
        self.portal.run(self._store_fingerprint, fingerprint)
        if kept:
            self.portal.run(isolation.empty_tables)
        self.setup_seconds = time.monotonic() - started
        recorder().install()
        add_guard(self.state.guard)

    async def _fingerprint(self) -> str | None:
        client = connections.get()
        try:
            rows = await client.fetch(f"SELECT value FROM {FINGERPRINT_TABLE}")
        except YaraError:
            return None
        return str(rows[0][0]) if rows else None

    async def _store_fingerprint(self, fingerprint: str) -> None:
        client = connections.get()
        await client.execute_script(
            f"CREATE TABLE IF NOT EXISTS {FINGERPRINT_TABLE} (value TEXT); "
            f"DELETE FROM {FINGERPRINT_TABLE}"
        )
        mark = client.dialect.placeholder(1)
        await client.execute(
            f"INSERT INTO {FINGERPRINT_TABLE} (value) VALUES ({mark})", [fingerprint]
        )

    def run_seed(self, seed: Any) -> None:
        """Run the user's `yara_seed` (a coroutine function, or nothing) with access allowed."""
        self.seed = seed
        if seed is None:
            return
        self.state.allowed = True
        try:
            takes_db = len(inspect.signature(seed).parameters) > 0
            self.portal.run(seed, self) if takes_db else self.portal.run(seed)
        finally:
            self.state.allowed = False

    async def make(self, model: Any, _quantity: int | None = None, **overrides: Any) -> Any:
        from yara_testing.factories import make

        return await make(model, _quantity, **overrides)

    def finish(self) -> None:
        remove_guard(self.state.guard)
        recorder().uninstall()
        self.portal.run(YaraOrm.close)
        if self.db_name and self.admin_url and not self.state.settings.reuse:
            self.portal.run(drop_database, self.admin_url, self.db_name)

    def describe(self) -> str:
        where = self.db_name or "in memory"
        kept = " (kept: --yara-reuse-db)" if self.state.settings.reuse else ""
        tried = "".join(f"\n  ({note})" for note in self.state.notes)
        return (
            f"yara: {self.backend} database {where} via {self.method}{kept}; "
            f"provisioning {self.provision_seconds:.2f}s, schema {self.setup_seconds:.2f}s{tried}"
        )


def open_session(state: PluginState, request: pytest.FixtureRequest) -> DatabaseSession:
    """Provision the session's database (first use only)."""
    settings = state.settings
    started = time.monotonic()
    admin_url: str | None = None
    method = "SQLite in memory"
    if settings.backend == "postgres":
        workerinput: dict[str, Any] = getattr(request.config, "workerinput", None) or {}
        shared = workerinput.get("yara_admin_url")
        try:
            if settings.url:
                admin_url, method = settings.url, "the server at --yara-db-url"
                state.get_portal().run(_check_server, admin_url)
            elif shared:
                admin_url = str(shared)
                method = str(workerinput.get("yara_method"))
            else:
                server = state.ensure_server()
                admin_url, method = server.admin_url, server.method
        except ProvisioningError as error:
            pytest.fail(str(error), pytrace=False)
        except YaraError as error:
            pytest.fail(f"yara: cannot use the PostgreSQL server: {error}", pytrace=False)
    session = DatabaseSession(state, admin_url, method, time.monotonic() - started)
    orm_config = request.getfixturevalue("yara_orm_config")
    session.start(orm_config or {})
    state.session = session
    state.report.provisioning = session.describe()
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None and state.worker is None:
        reporter.write_line(session.describe())
    session.run_seed(request.getfixturevalue("yara_seed"))
    return session


async def _check_server(url: str) -> None:
    engine = await connect(url, max_size=1, connect_timeout=5)
    await engine.close()
