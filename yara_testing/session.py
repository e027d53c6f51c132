"""The plugin's state, kept on `config.stash`: settings read once, and the test session's
database (provisioned on first use, torn down at the end)."""

from __future__ import annotations

import contextlib
import importlib
import inspect
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import pytest

from yara_orm import Engine, YaraOrm, connect, connections
from yara_orm._engine import Rewind
from yara_orm.config import AppModels, ModelSource, OrmConfig, parse_init, redact_url
from yara_orm.connection import (
    add_guard,
    add_unbound_guard,
    remove_guard,
    remove_unbound_guard,
)
from yara_orm.engine import add_connect_guard, remove_connect_guard
from yara_orm.exceptions import ConfigurationError, YaraError
from yara_orm.orm import redirect_init, select_models
from yara_testing import activation, isolation
from yara_testing.databases import DEFAULT, TestDatabase, open_database
from yara_testing.isolation import TEST_OF_TASK, LeakedTaskError
from yara_testing.portal import Portal
from yara_testing.provisioning import (
    DEFAULT_IMAGE,
    ProvisioningError,
    Server,
    ServerOptions,
    database_name,
    drop_database,
    drop_leftovers,
    start_server,
)
from yara_testing.recorder import query_origin, recorder, user_location
from yara_testing.redirect import InitRedirection, refused_connection, same_server
from yara_testing.report import (
    DEFAULT_SLOW_QUERY_MS,
    SessionReport,
    read_report_path,
    read_slow_query_ms,
)
from yara_testing.simulation import read_latency

BACKENDS = ("sqlite", "postgres")
BACKEND_ALIASES = {"postgresql": "postgres", "pg": "postgres", "sqlite3": "sqlite"}
NPLUSONE_MODES = ("off", "warn", "error")
# Seconds a statement may wait for a test's connection while another task's transaction holds
# it and runs nothing, before it fails as a deadlock (--yara-deadlock-timeout).
DEFAULT_DEADLOCK_TIMEOUT = 10.0


T = TypeVar("T")
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
    deadlock_timeout: float = DEFAULT_DEADLOCK_TIMEOUT
    server: ServerOptions = field(default_factory=ServerOptions)
    rootdir: str = "."
    report_html: str | None = None
    slow_query_ms: float = DEFAULT_SLOW_QUERY_MS
    latency: float = 0.0  # seconds added to every statement of every test (--yara-latency)

    @classmethod
    def read(cls, config: pytest.Config) -> Settings:
        def option(name: str, ini: str) -> Any:
            value = config.getoption(name)
            return value if value is not None else config.getini(ini)

        # A server URL (option, ini or YARA_TEST_DB_URL) means PostgreSQL; naming SQLite
        # beside an explicit URL is a contradiction. The environment variable is ambient (a CI
        # machine's), so an explicit --yara-db=sqlite wins over it.
        asked_url = option("yara_db_url", "yara_db_url") or None
        env_url = os.environ.get("YARA_TEST_DB_URL") or None
        asked_backend = option("yara_db", "yara_db") or None
        backend = str(asked_backend or ("postgres" if asked_url or env_url else "sqlite"))
        backend = BACKEND_ALIASES.get(backend, backend)
        if backend not in BACKENDS:
            raise pytest.UsageError(
                f"yara: unknown database {backend!r} for --yara-db; valid: {', '.join(BACKENDS)}"
            )
        if backend == "sqlite" and asked_url:
            raise pytest.UsageError(
                f"yara: --yara-db=sqlite was given with a PostgreSQL URL "
                f"({redact_url(str(asked_url))}); drop one of them (a URL means "
                "--yara-db=postgres)"
            )
        nplusone = str(option("yara_nplusone", "yara_nplusone") or "off")
        if nplusone not in NPLUSONE_MODES:
            raise pytest.UsageError(
                f"yara: unknown mode {nplusone!r} for --yara-nplusone; "
                f"valid: {', '.join(NPLUSONE_MODES)}"
            )
        url = (asked_url or env_url) if backend == "postgres" else None
        if url is not None and not str(url).startswith(("postgres://", "postgresql://")):
            raise pytest.UsageError(
                f"yara: --yara-db-url must be a postgres:// URL of a server, not "
                f"{redact_url(str(url))!r}"
            )
        reuse = bool(config.getoption("yara_reuse_db") or config.getini("yara_reuse_db"))
        timeout = option("yara_deadlock_timeout", "yara_deadlock_timeout") or (
            DEFAULT_DEADLOCK_TIMEOUT
        )
        try:
            deadlock_timeout = float(timeout)
            if not deadlock_timeout > 0:
                raise ValueError
        except ValueError:
            raise pytest.UsageError(
                f"yara: --yara-deadlock-timeout must be a positive number of seconds, "
                f"not {timeout!r}"
            ) from None
        return cls(
            backend=backend,
            url=url,
            reuse=reuse,
            image=str(option("yara_pg_image", "yara_pg_image") or DEFAULT_IMAGE),
            nplusone=nplusone,
            report_path=read_report_path(config, "yara_report", "yara_report"),
            report_html=read_report_path(config, "yara_report_html", "yara_report_html"),
            slow_query_ms=read_slow_query_ms(option("yara_slow_query", "yara_slow_query")),
            latency=read_latency(option("yara_latency", "yara_latency")),
            models=list(config.getini("yara_models")),
            name=str(config.getini("yara_db_name") or Path(str(config.rootpath)).name),
            deadlock_timeout=deadlock_timeout,
            server=ServerOptions.read(config),
            rootdir=str(config.rootpath),
        )


@dataclass(frozen=True)
class Access:
    """What the running test (or the seed) may use."""

    databases: frozenset[str] | None = None  # None: every connection alias
    external: bool = False  # @pytest.mark.yara_external_db: connect() anywhere


@dataclass
class PluginState:
    settings: Settings
    worker: str | None
    portal: Portal | None = None
    server: Server | None = None  # started by this process (the xdist controller, or alone)
    session: DatabaseSession | None = None
    access: Access | None = None
    report: SessionReport = field(default_factory=SessionReport)
    notes: list[str] = field(default_factory=list)
    # The session-scoped request, to provision on first use from wherever that happens.
    session_request: pytest.FixtureRequest | None = None
    # The running test (its fixtures included) uses the test database, and does not opt out
    # with yara_external_db: the application's YaraOrm.init is redirected then, only.
    item_redirects: bool = False
    item_running: bool = False  # between a test's setup and its teardown
    current_test: str | None = None  # node id of the test holding the database
    blocked: bool = False  # inside yara_db_blocker.block()

    def install(self) -> None:
        """From configure to unconfigure: in tests that use the test database, the
        application's YaraOrm.init goes to it, and connect() elsewhere is refused."""
        # Outside any test (at import or collection time) an init is never let through: the
        # application's own database must not be touched; ensure_session() says where to
        # move the call.
        redirect_init(
            InitRedirection(
                self.ensure_session, lambda: self.item_running and not self.item_redirects
            )
        )
        add_connect_guard(self.connect_guard)
        add_unbound_guard(self.unbound_guard)
        activation.install(self)

    def uninstall(self) -> None:
        redirect_init(None)
        remove_connect_guard(self.connect_guard)
        remove_unbound_guard(self.unbound_guard)
        activation.uninstall(self)

    def ensure_session(self) -> DatabaseSession:
        if self.session is None:
            if self.session_request is None:
                raise ConfigurationError(
                    "YaraOrm.init was called before the test session started (at import or "
                    "collection time): under yara_testing, initialise the ORM from a fixture "
                    "or the application's lifespan"
                )
            open_session(self, self.session_request)
        assert self.session is not None
        return self.session

    def preflight(self) -> str | None:
        """What would stop every test's session, checked up front: the models modules import,
        the server answers (or one can be provisioned). None when all is well."""
        for module in self.settings.models:
            try:
                importlib.import_module(module)
            except ImportError as error:
                return f"yara: models module {module!r} could not be imported: {error}"
        if self.settings.backend != "postgres":
            return None
        try:
            if self.settings.url:
                self.get_portal().run(_check_server, self.settings.url)
            else:
                self.ensure_server()
        except ProvisioningError as error:
            return str(error)
        except YaraError as error:
            return f"yara: cannot use the PostgreSQL server: {error}"
        return None

    def get_portal(self) -> Portal:
        if self.portal is None:
            self.portal = Portal()
        return self.portal

    def ensure_server(self) -> Server:
        """A PostgreSQL server for --yara-db=postgres without a URL (started once)."""
        if self.server is None:
            settings = self.settings
            self.server = start_server(
                settings.image, settings.reuse, self.notes, settings.server, settings.rootdir
            )
        return self.server

    def guard(self, sql: str, connection: str) -> None:
        # Only the plugin's own databases are guarded: a suite's own init is its business.
        if self.session is None or not connections.is_borrowed(connection):
            return
        origin = TEST_OF_TASK.get()
        if origin is not None and origin != self.current_test:
            raise LeakedTaskError(
                f"yara: a task started by {origin} ran a query after that test ended "
                f"(at {user_location()}, now {self.current_test or 'between tests'}): it would "
                f"have written into another test's database. Await or cancel the tasks a test "
                f"starts before it ends. The query was: {sql}"
            )
        if self.access is None:
            self.refuse_access()
        allowed = self.access.databases
        if allowed is not None and connection not in allowed:
            pytest.fail(
                f"Database access to connection {connection!r} not allowed in this test (at "
                f"{user_location()}): it asked for "
                f"@pytest.mark.yara_db(databases={sorted(allowed)})",
                pytrace=False,
            )

    def unbound_guard(self, connection: str) -> None:
        """The ORM used before the session has a database: in a test that did not ask for
        one, that is the same refusal as later tests get, not "not initialised"."""
        if self.access is None and self.item_running and not self.item_redirects:
            self.refuse_access()

    def refuse_access(self) -> NoReturn:
        __tracebackhide__ = True
        # pytest.fail: one line, no traceback, and no `except Exception` can swallow it.
        if self.blocked:
            pytest.fail(
                f"Database access not allowed (at {user_location()}): refused by "
                "yara_db_blocker.block()",
                pytrace=False,
            )
        pytest.fail(
            f"Database access not allowed (at {user_location()}): use the `yara_db` "
            "fixture or mark the test with @pytest.mark.yara_db",
            pytrace=False,
        )

    def connect_guard(self, url: str) -> None:
        session = self.session
        if session is None or self.access is None or self.access.external:
            return
        if not same_server(url, session.databases[DEFAULT].url):
            message = refused_connection(url, session.databases[DEFAULT].url, user_location())
            pytest.fail(message, pytrace=False)


def plugin_orm_config(fixture: dict[str, Any], ini_models: list[str]) -> OrmConfig:
    """The models and connection aliases the test databases are made for: the
    `yara_orm_config` fixture (Tortoise's config dict, or `{"models": [...], "connections":
    [aliases]}`), else the `yara_models` ini option, else every model defined."""
    tortoise_style = fixture.get("config", fixture if "apps" in fixture else None)
    if tortoise_style is not None:
        return parse_init(tortoise_style, None, None, None, None, None)
    aliases = list(fixture.get("connections") or [DEFAULT])
    models: list[ModelSource] | None = fixture.get("models") or list(ini_models) or None
    return OrmConfig({alias: "" for alias in aliases}, [AppModels("models", models)])


def session_orm_config(fixture: dict[str, Any], ini_models: list[str]) -> OrmConfig:
    """`plugin_orm_config`, with every alias a chosen model's `Meta.connection` names."""
    config = plugin_orm_config(fixture, ini_models)
    aliases = [*config.connections, *(m._meta.connection for m in select_models(config))]
    config.connections = {alias: "" for alias in dict.fromkeys(aliases)}
    return config


class DatabaseSession:
    """The session's databases (one per connection alias): provisioned, the ORM bound to
    them, the schema created, seeded."""

    def __init__(self, state: PluginState, admin_url: str | None, method: str, seconds: float):
        self.state = state
        self.admin_url = admin_url
        self.method = method
        self.provision_seconds = seconds
        self.backend = state.settings.backend
        self.seed: Any = None
        self.config: OrmConfig | None = None
        self.databases: dict[str, TestDatabase] = {}
        # The engines the running test's isolation was entered on.
        self.isolated: list[Engine] = []
        # The engines whose innermost level belongs to a finished test, being rolled back (the
        # rewinds) and kept open for the next test (see take_parked).
        self.parked: list[Engine] = []
        self.rewinds: list[Rewind] = []
        self.redirected: dict[str, str] = {}  # URL the application asked for (redacted) -> alias
        # The seed overrides below the rootdir applied under the running tests, most general
        # first (see enter_seed_layers), and the engines each one's isolation level is on.
        self.layers: list[Any] = []
        self.layer_engines: list[list[Engine]] = []
        self.setup_seconds = 0.0
        self.run_id: str | None = None  # xdist's test run id, shared by the workers

    @property
    def portal(self) -> Portal:
        return self.state.get_portal()

    @property
    def url(self) -> str:
        return self.databases[DEFAULT].url if DEFAULT in self.databases else ""

    def start(self, orm_config: dict[str, Any]) -> None:
        settings = self.state.settings
        started = time.monotonic()
        try:
            config = session_orm_config(orm_config, settings.models)
            models = YaraOrm.activate(config)
        except YaraError as error:
            stop_session(f"yara: {error}")
        aliases = list(config.connections)
        self.config = config
        if self.backend == "postgres" and self.state.worker is None and not settings.reuse:
            assert self.admin_url is not None
            for alias in aliases:
                base = database_name(settings.name, None, None if alias == DEFAULT else alias)
                dropped = self.portal.run(drop_leftovers, self.admin_url, base)
                self.state.notes.extend(
                    f"dropped {name}, left by an earlier run" for name in dropped
                )
        try:
            for alias in aliases:
                on_alias = [m for m in models if m._meta.connection == alias]
                self.databases[alias] = self.portal.run(self._open, alias, on_alias)
            self.bind_orm()
        except YaraError as error:
            stop_session(f"yara: {error}")
        self.setup_seconds = time.monotonic() - started
        recorder().install()
        add_guard(self.state.guard)

    async def _open(self, alias: str, models: list[Any]) -> TestDatabase:
        settings = self.state.settings
        return await open_database(
            alias,
            models,
            admin_url=self.admin_url,
            base_name=settings.name,
            worker=self.state.worker,
            reuse=settings.reuse,
            rebuild=settings.server.create,
            setup_sql=settings.server.setup_sql if self.backend == "postgres" else "",
            run=self.run_id,
        )

    def bind_orm(self) -> None:
        """Bind the ORM to the test databases, unless it already is (application code may
        have closed or re-initialised it in an earlier test)."""
        engines = {alias: db.engine for alias, db in self.databases.items()}
        bound = all(
            alias in connections.names() and connections.engine(alias) is engine
            for alias, engine in engines.items()
        )
        if bound and YaraOrm.config is self.config:
            return
        assert self.config is not None
        config = self.config
        self.portal.run(lambda: YaraOrm.bind(config, engines))

    async def add_database(self, alias: str, models: list[Any]) -> TestDatabase:
        """A test database for an alias the application configured but the session did not
        know of; created while a test runs, so it joins that test's isolation."""
        database = await self._open(alias, models)
        self.databases[alias] = database
        if self.isolated:
            patience = self.state.settings.deadlock_timeout
            await database.engine.enter_isolation(patience=patience)
            self.isolated.append(database.engine)
        return database

    def note_redirect(self, alias: str, url: str) -> None:
        self.redirected.setdefault(redact_url(url), alias)

    def engines_for(self, access: Access) -> list[Engine]:
        return [
            db.engine
            for alias, db in self.databases.items()
            if access.databases is None or alias in access.databases
        ]

    def run_seed(self, seed: Any) -> None:
        """Run the session's `yara_seed` (committed: every test rolls back to it)."""
        self.seed = seed
        self.apply_seed(seed)

    def apply_seed(self, seed: Any) -> None:
        """Run a seed (a coroutine function, or nothing) with database access allowed."""
        if seed is None:
            return
        if not callable(seed):
            stop_session(f"yara: yara_seed must return an async function (or None), not {seed!r}")
        previous, self.state.access = self.state.access, Access()
        try:
            takes_db = len(inspect.signature(seed).parameters) > 0
            self.portal.run(seed, self) if takes_db else self.portal.run(seed)
        finally:
            self.state.access = previous

    def enter_seed_layers(self, layers: list[tuple[Any, Callable[[], Any]]]) -> None:
        """Make `layers` (the `yara_seed` overrides below the rootdir a test sees, most general
        first, each with a way to get its seed) the seeds under the coming tests. Each has an
        isolation level of its own above the session's seed, kept while consecutive tests
        share it and rolled back when they stop."""
        wanted = [definition for definition, _ in layers]
        shared = 0
        while shared < min(len(wanted), len(self.layers)) and (
            wanted[shared] is self.layers[shared]
        ):
            shared += 1
        if shared < len(self.layers) or shared < len(layers):
            self.unpark()
        self.leave_seed_layers(len(self.layers) - shared)
        engines = [database.engine for database in self.databases.values()]
        for definition, seed in layers[shared:]:
            isolation.enter(engines, self.state.settings.deadlock_timeout)
            self.layers.append(definition)
            self.layer_engines.append(engines)
            self.apply_seed(seed())

    def leave_seed_layers(self, count: int | None = None) -> None:
        """Roll back the innermost `count` seed layers (all of them by default)."""
        count = len(self.layers) if count is None else count
        if count:
            self.unpark()
        for _ in range(count):
            self.layers.pop()
            isolation.leave(self.layer_engines.pop())

    def run(self, function: Callable[..., Awaitable[T]] | Awaitable[T], *args: Any) -> T:
        """Run ORM code from a synchronous test or fixture: an async function and its
        arguments (`run(Book.create, title="x")` takes no keywords: use a lambda), or
        an awaitable (`run(Book.all().count())`)."""
        if inspect.isawaitable(function):
            awaitable = function

            async def function() -> T:
                return await awaitable

        elif not callable(function):
            raise TypeError(
                "run() takes an async function (and its arguments) or an awaitable "
                f"such as a coroutine or a queryset, not {type(function).__name__}"
            )
        # The queries run on the plugin's own thread: attribute them to the caller's line.
        token = query_origin.set(user_location())
        try:
            return self.portal.run(function, *args)
        finally:
            query_origin.reset(token)

    async def make(self, model: Any, _quantity: int | None = None, **overrides: Any) -> Any:
        from yara_testing.factories import make

        return await make(model, _quantity, **overrides)

    def park(self, engines: list[Engine]) -> None:
        """Roll back a finished test's level on each engine and keep it open for the next
        test: one round trip per test instead of two, which runs while pytest moves on to the
        next test (see take_parked)."""
        try:
            self.rewinds = isolation.start_rewind(engines)
        except YaraError:
            isolation.leave(engines)
            return
        self.parked = engines

    def take_parked(self, engines: list[Engine]) -> bool:
        """Give a test the level the previous test left rolled back, if it was on the same
        engines and its rollback went through; otherwise close that level."""
        if (
            self.parked
            and len(self.parked) == len(engines)
            and all(kept is wanted for kept, wanted in zip(self.parked, engines, strict=True))
        ):
            return isolation.finish_rewind(*self._release_parked())
        self.unpark()
        return False

    def unpark(self) -> None:
        """Close the kept level: anything run outside a test (a seed, a fixture that unblocks
        the database, the session's end) must not land in it."""
        engines, rewinds = self._release_parked()
        if isolation.finish_rewind(engines, rewinds):
            isolation.leave(engines)

    def _release_parked(self) -> tuple[list[Engine], list[Rewind]]:
        """The kept level's engines and their rollbacks, no longer kept."""
        released = self.parked, self.rewinds
        self.parked, self.rewinds = [], []
        return released

    def finish(self) -> None:
        self.unpark()
        self.leave_seed_layers()
        remove_guard(self.state.guard)
        recorder().uninstall()
        self.portal.run(connections.reset)
        for database in self.databases.values():
            self.portal.run(database.engine.close)
            if database.name and self.admin_url and not self.state.settings.reuse:
                self.portal.run(drop_database, self.admin_url, database.name)

    def describe(self) -> str:
        names = [db.name for db in self.databases.values() if db.name]
        where = ", ".join(names) or "in memory"
        kept = reuse_note(
            self.state.settings, self.backend, all(db.kept for db in self.databases.values())
        )
        tried = "".join(f"\n  ({note})" for note in self.state.notes)
        return (
            f"yara: {self.backend} database {where} via {self.method}{kept}; "
            f"provisioning {self.provision_seconds:.2f}s, schema {self.setup_seconds:.2f}s{tried}"
        )

    def redirect_lines(self) -> list[str]:
        return [
            f"yara: the application's YaraOrm.init({url}) was redirected to the test "
            f"database ({alias})"
            for url, alias in self.redirected.items()
        ]


def reuse_note(settings: Settings, backend: str, reused: bool) -> str:
    """What the session line says of --yara-reuse-db: "kept" only when an earlier run's
    databases were reused, not merely asked for; a rebuild names what caused it."""
    if not settings.reuse or backend != "postgres":
        return ""
    if reused:
        return " (kept: --yara-reuse-db)"
    cause = "--yara-create-db" if settings.server.create else "--yara-reuse-db"
    return f" (rebuilt: {cause})"


def stop_session(message: str) -> NoReturn:
    """A database the whole session needs cannot be had: say so once and stop the run, rather
    than failing every test with the same error."""
    __tracebackhide__ = True
    pytest.exit(message, returncode=pytest.ExitCode.USAGE_ERROR)


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
            stop_session(str(error))
        except YaraError as error:
            stop_session(f"yara: cannot use the PostgreSQL server: {error}")
    session = DatabaseSession(state, admin_url, method, time.monotonic() - started)
    session.run_id = (getattr(request.config, "workerinput", None) or {}).get("testrunuid")
    orm_config = request.getfixturevalue("yara_orm_config")
    session.start(orm_config or {})
    state.session = session
    state.report.provisioning = session.describe()
    plugins = request.config.pluginmanager
    reporter = plugins.get_plugin("terminalreporter")
    if reporter is not None and state.worker is None:
        # Past the capture of the first test's setup, which would keep the line as that
        # test's output and leave only a break in the progress line.
        capture = plugins.get_plugin("capturemanager")
        with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
            reporter.ensure_newline()
            reporter.write(session.describe())
            # Then the progress line goes on as pytest would: a short one under its file's name
            # again, a quiet one on a line of its own; pytest writes a verbose one again whole,
            # ending this line.
            test = getattr(request, "_pyfuncitem", None)
            if reporter.verbosity <= 0 and test is not None and reporter.showfspath:
                reporter.write_fspath_result(test.nodeid, "")
            elif reporter.verbosity <= 0:
                reporter.line("")
    session.run_seed(session_seed(request))
    return session


_SEED_DEFINITIONS = pytest.StashKey[Sequence[Any]]()


def _seed_definitions(request: pytest.FixtureRequest) -> Sequence[Any]:
    """The `yara_seed` definitions `request`'s node sees, most general first."""
    # The test being set up, not a session fixture's node: pytest resolves
    # getfixturevalue() for that test, whatever scope the requesting fixture has.
    node = getattr(request, "_pyfuncitem", None) or request.node
    # Fixtures are defined by collectors (conftests, modules, classes), never by a test, so
    # the tests of one module or class see the same ones: looked up once for them all.
    holder = node.parent if isinstance(node, pytest.Item) and node.parent is not None else node
    found = holder.stash.get(_SEED_DEFINITIONS, None)
    if found is None:
        defined = request._fixturemanager.getfixturedefs("yara_seed", node) or ()
        found = holder.stash[_SEED_DEFINITIONS] = tuple(defined)
    return found


def session_seed(request: pytest.FixtureRequest) -> Any:
    """The seed of the whole session: the `yara_seed` defined at the rootdir (or by the
    plugin), whichever test happens to start the session."""
    root = [d for d in _seed_definitions(request) if not d.baseid]
    if not root:
        return None
    if root[-1] is _seed_definitions(request)[-1]:
        return request.getfixturevalue("yara_seed")
    return _definition_value(root[-1], request)


def _definition_value(definition: Any, request: pytest.FixtureRequest) -> Any:
    """The value of a `yara_seed` definition a closer one shadows for this test (pytest
    only resolves the closest): cached if pytest ran it already, else called here."""
    if definition.cached_result is not None:
        return definition.cached_result[0]
    arguments = {
        name: request if name == "request" else request.getfixturevalue(name)
        for name in definition.argnames
    }
    value = definition.func(**arguments)
    return next(value) if inspect.isgenerator(value) else value


def directory_seeds(request: pytest.FixtureRequest) -> list[tuple[Any, Callable[[], Any]]]:
    """The `yara_seed` overrides below the rootdir the test sees (directories' conftests, a
    module, a class), most general first, each with a function giving its seed."""
    below_root = [d for d in _seed_definitions(request) if d.baseid]
    return [
        (
            definition,
            (lambda: request.getfixturevalue("yara_seed"))
            if definition is below_root[-1]
            else partial(_definition_value, definition, request),
        )
        for definition in below_root
    ]


async def _check_server(url: str) -> None:
    engine = await connect(url, max_size=1, connect_timeout=5)
    await engine.close()
