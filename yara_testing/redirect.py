"""Keeping the application's own database out of the tests.

While the plugin has a test database, `YaraOrm.init(...)` called by application code (a
FastAPI lifespan, an `init_db()`) is redirected: the ORM binds to the test database of each
connection alias, inside the running test's isolation, and the URL the application asked for
is never connected to. A direct `connect(url)` to anything but the test server fails the
test, unless it is marked `@pytest.mark.yara_external_db`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

from yara_orm import Engine, connections
from yara_orm.config import OrmConfig, redact_url
from yara_orm.dialects import DIALECTS
from yara_orm.schema import schema_sql

if TYPE_CHECKING:
    from yara_orm.models.base import Model
    from yara_testing.session import DatabaseSession

LOOPBACK = {"localhost", "127.0.0.1", "::1", ""}


class InitRedirection:
    """What `YaraOrm.init` binds to during the test run: the session's test databases,
    provisioned on first use (an app started by a session fixture may be the first), except in
    tests marked `yara_external_db`."""

    def __init__(
        self, session: Callable[[], DatabaseSession], passes_through: Callable[[], bool]
    ) -> None:
        self.session = session
        self.passes_through = passes_through

    async def bind(self, config: OrmConfig, models: list[type[Model]]) -> dict[str, Engine] | None:
        if self.passes_through():
            return None
        session = self.session()
        for alias, url in config.connections.items():
            session.note_redirect(alias, url)
        engines = {}
        for alias in config.connections:
            database = session.databases.get(alias)
            if database is None:
                on_alias = [m for m in models if m._meta.connection == alias]
                database = await session.add_database(alias, on_alias)
            engines[alias] = database.engine
        return engines

    async def generate_schemas(self, connection: str, models: list[type[Model]]) -> None:
        """The plugin made the schema: create only tables it does not know of (inside the
        test, so they go with its rollback)."""
        database = self.session().databases[connection]
        missing = [m for m in models if m._meta.table not in database.tables]
        if not missing:
            return
        client = connections.get(connection)
        for statement in schema_sql(missing, DIALECTS[database.engine.backend], True):
            await client.execute_script(statement)


def _endpoint(url: str) -> tuple[str, str, int] | None:
    """(scheme family, host or socket directory, port) of a database URL."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme == "sqlite":
        return ("sqlite", url.split("://", 1)[1], 0)
    if scheme not in ("postgres", "postgresql"):
        return None
    host = parse_qs(parts.query).get("host", [parts.hostname or ""])[0]
    return ("postgres", "localhost" if host in LOOPBACK else host, port or 5432)


def same_server(url: str, test_url: str) -> bool:
    """Whether `url` points at the server (or in-memory SQLite) that holds the test database."""
    if url.startswith("sqlite://") and ":memory:" in url:
        return True
    mine, theirs = _endpoint(url), _endpoint(test_url)
    return mine is not None and mine[0] == "postgres" and mine == theirs


def refused_connection(url: str, test_url: str, location: str) -> str:
    return (
        f"yara: this test tried to connect to {redact_url(url)} (at {location}), which is not "
        "the test database "
        f"server ({redact_url(test_url)}); the ORM is already bound to the test database. "
        "Mark the test @pytest.mark.yara_external_db to connect elsewhere."
    )
