"""The fixtures: `yara_db` (the database for one test), `yara_queries`, and the session-level
ones a project overrides (`yara_seed`, `yara_orm_config`)."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import pytest

from yara_orm import timezone
from yara_orm.config import redact_url
from yara_testing import isolation
from yara_testing.isolation import TEST_OF_TASK
from yara_testing.markers import closest_marker
from yara_testing.nplusone import assert_no_nplusone
from yara_testing.recorder import (
    QueryLog,
    assert_max_db_time,
    assert_max_queries,
    assert_num_queries,
    recorder,
)
from yara_testing.session import (
    STATE,
    Access,
    DatabaseSession,
    PluginState,
    directory_seeds,
)
from yara_testing.simulation import Injections, TestSimulation

T = TypeVar("T")
ACTIVE = pytest.StashKey[QueryLog]()


class YaraDB:
    """What a test gets from `yara_db`."""

    def __init__(
        self,
        session: DatabaseSession,
        test: str,
        queries: QueryLog,
        access: Access,
        simulation: TestSimulation | None = None,
    ) -> None:
        self._session = session
        self._access = access
        self._simulation = simulation or TestSimulation({})
        self.test = test
        self.queries = queries

    @property
    def backend(self) -> str:
        return self._session.backend

    @property
    def url(self) -> str:
        """The default connection's test database."""
        return self._session.url

    @property
    def databases(self) -> list[str]:
        """The connection aliases this test may use."""
        allowed = self._access.databases
        return [a for a in self._session.databases if allowed is None or a in allowed]

    def record(self) -> contextlib.AbstractContextManager[QueryLog]:
        """`with yara_db.record() as log:` the queries of just that block."""
        return recorder().capture()

    def assert_num_queries(self, count: int) -> contextlib.AbstractContextManager[QueryLog]:
        return assert_num_queries(count)

    def assert_max_queries(self, count: int) -> contextlib.AbstractContextManager[QueryLog]:
        return assert_num_queries(count, exact=False)

    def assert_no_nplusone(
        self, repeat_threshold: int = 5
    ) -> contextlib.AbstractContextManager[Any]:
        return assert_no_nplusone(repeat_threshold)

    def assert_max_db_time(self, seconds: float) -> contextlib.AbstractContextManager[QueryLog]:
        """Fail if the block's queries take more than `seconds` in all (simulated latency
        included)."""
        return assert_max_db_time(seconds)

    def simulate(
        self,
        latency: Any,
        *,
        jitter: float = 0.0,
        seed: int | None = None,
        connection: str | None = None,
    ) -> Injections:
        """Add latency to every statement of the test's databases, until the test ends (or
        the `with` block does): seconds, `{"SELECT": 0.001, "INSERT": 0.004, "*": 0.002}`, or
        a function from the SQL to seconds; `jitter` seconds more or less at random,
        reproducible with `seed`."""
        return self._simulation.simulate(latency, jitter=jitter, seed=seed, connection=connection)

    def fail(self, match: Any = None, error: str | None = None, **options: Any) -> Injections:
        """Make matching statements fail with `error` (`"unique_violation"`, `"deadlock"`,
        `"connection_lost"`..., or a SQLSTATE) as the real database would, until the test
        ends (or the `with` block does). `match`: a substring of the SQL (case and quotes
        ignored), a compiled regex or a function of the SQL; None for every statement.
        Options: `times=1` (None: every match), `after=0` (let that many through first),
        `probability=` and `seed=` (random, reproducible), `connection=` (one database)."""
        return self._simulation.fail(match, error, **options)

    async def make(self, model: Any, _quantity: int | None = None, **overrides: Any) -> Any:
        """Create valid rows: required fields filled with fake data, required relations too."""
        return await self._session.make(model, _quantity, **overrides)

    def run(self, function: Callable[..., Awaitable[T]] | Awaitable[T], *args: Any) -> T:
        """Run ORM code from a synchronous test or fixture: an async function and its
        arguments, or an awaitable (`yara_db.run(Book.all().count())`)."""
        return self._session.run(function, *args)

    def __repr__(self) -> str:
        return f"<YaraDB {self.backend} {redact_url(self.url)}>"


@pytest.fixture(scope="session")
def yara_orm_config() -> dict[str, Any]:
    """Override to configure the ORM from a conftest: `{"models": ["app.models"]}`.
    By default the ini option `yara_models` (or every model imported so far) is used."""
    return {}


@pytest.fixture(scope="session")
def yara_seed() -> Any:
    """Override to seed the database once per session: return `async def seed(db): ...`.
    Each test then runs in a savepoint on top of the seed and rolls back to it."""
    return None


@pytest.fixture(scope="session", autouse=True)
def _yara_session_request(request: pytest.FixtureRequest) -> None:
    """Keep the session's request, so the database can be provisioned the moment the
    application initialises the ORM, even from a session fixture, before any `yara_db`."""
    request.config.stash[STATE].session_request = request


@pytest.fixture(scope="session")
def yara_session(request: pytest.FixtureRequest) -> DatabaseSession:
    state = request.config.stash[STATE]
    state.session_request = state.session_request or request
    return state.ensure_session()


def _access_for(node: pytest.Item) -> Access:
    marker = closest_marker(node, "yara_db")
    databases = marker.kwargs.get("databases", "__all__") if marker else "__all__"
    if isinstance(databases, str):
        databases = None if databases == "__all__" else [databases]
    return Access(
        databases=None if databases is None else frozenset(databases),
        external=closest_marker(node, "yara_external_db") is not None,
    )


@pytest.fixture
def yara_db(request: pytest.FixtureRequest, yara_session: DatabaseSession) -> Iterator[YaraDB]:
    """The database for one test, rolled back at its end (see the README)."""
    state = request.config.stash[STATE]
    marker = closest_marker(request.node, "yara_db")
    options = marker.kwargs if marker else {}
    transaction = bool(options.get("transaction")) or (
        "yara_transactional_db" in request.fixturenames
    )
    access = _access_for(request.node)
    unknown = set(access.databases or ()) - set(yara_session.databases)
    if unknown:
        pytest.fail(
            f"yara: @pytest.mark.yara_db(databases=...) names {sorted(unknown)}; the test "
            f"databases are {sorted(yara_session.databases)}",
            pytrace=False,
        )
    log = QueryLog()
    portal = yara_session.portal
    # The time zone settings are process-wide: an application initialised inside the test
    # may change them; the next test starts from the same ones as this one.
    time_settings = (timezone.get_use_tz(), timezone.get_timezone())
    yara_session.bind_orm()
    layers = directory_seeds(request)
    if transaction:
        # Real commits: no isolation level may stay open under the test, so the directories'
        # seeds are committed too, and emptied with the rest afterwards.
        yara_session.unpark()
        yara_session.leave_seed_layers()
        for _, seed in layers:
            yara_session.apply_seed(seed())
    else:
        yara_session.enter_seed_layers(layers)
        engines = yara_session.engines_for(access)
        if not yara_session.take_parked(engines):
            isolation.enter(engines, state.settings.deadlock_timeout)
        yara_session.isolated = engines
    if options.get("reset_sequences"):
        portal.run(isolation.reset_sequences, yara_session.databases.values())
    state.access = access
    state.current_test = request.node.nodeid
    TEST_OF_TASK.set(request.node.nodeid)
    rec = recorder()
    rec.test = request.node.nodeid
    request.node.stash[ACTIVE] = log
    # Latency and faults for this test's databases only, taken out before its clean-up runs.
    simulation = TestSimulation(
        {
            alias: db.engine
            for alias, db in yara_session.databases.items()
            if access.databases is None or alias in access.databases
        }
    )
    try:
        simulation.start(request.node, state.settings.latency)
        with rec.capture(log):
            yield YaraDB(yara_session, request.node.nodeid, log, access, simulation)
    finally:
        rec.test = None
        simulation.close()
        try:
            if transaction:
                portal.run(isolation.empty_tables, yara_session.databases.values())
                yara_session.run_seed(yara_session.seed)
            else:
                engines, yara_session.isolated = yara_session.isolated, []
                yara_session.park(engines)
        finally:
            state.access = None
            state.current_test = None
            TEST_OF_TASK.set(None)
            if (timezone.get_use_tz(), timezone.get_timezone()) != time_settings:
                timezone.configure(*time_settings)


@pytest.fixture
def yara_transactional_db(yara_db: YaraDB) -> YaraDB:
    """`yara_db` with real commits (as `@pytest.mark.yara_db(transaction=True)`): the tables
    are emptied, and the seed restored, after the test."""
    return yara_db


@pytest.fixture
def yara_assert_num_queries() -> Callable[[int], contextlib.AbstractContextManager[QueryLog]]:
    """`with yara_assert_num_queries(2):` fails unless the block runs exactly 2 queries."""
    return assert_num_queries


@pytest.fixture
def yara_assert_max_num_queries() -> Callable[[int], contextlib.AbstractContextManager[QueryLog]]:
    """`with yara_assert_max_num_queries(2):` fails if the block runs more than 2 queries."""
    return assert_max_queries


class DatabaseBlocker:
    """`yara_db_blocker.unblock()`: database access outside a test's own database, for
    module- or session-scoped fixtures (pytest-django's `django_db_blocker`). What such a
    fixture writes is committed and seen by every later test: delete it in its teardown, or
    prefer `yara_seed`, which the tests roll back to."""

    def __init__(self, state: PluginState) -> None:
        self._state = state

    @contextlib.contextmanager
    def unblock(self) -> Iterator[DatabaseSession]:
        state = self._state
        session = state.ensure_session()
        session.unpark()
        session.bind_orm()
        previous, state.access = state.access, state.access or Access()
        try:
            yield session
        finally:
            state.access = previous

    @contextlib.contextmanager
    def block(self) -> Iterator[None]:
        """Refuse database access inside the block, even in a test that has it."""
        state = self._state
        previous, state.access = state.access, None
        was_blocked, state.blocked = state.blocked, True
        try:
            yield
        finally:
            state.access, state.blocked = previous, was_blocked


@pytest.fixture(scope="session")
def yara_db_blocker(request: pytest.FixtureRequest) -> DatabaseBlocker:
    """Allow database access in module- or session-scoped fixtures: `with
    yara_db_blocker.unblock(): ...`."""
    return DatabaseBlocker(request.config.stash[STATE])


@pytest.fixture
def yara_queries(yara_db: YaraDB) -> QueryLog:
    """The current test's query log, for tests that only want to look."""
    return yara_db.queries


@pytest.fixture(autouse=True)
def _yara_marker(request: pytest.FixtureRequest) -> None:
    """`@pytest.mark.yara_db` alone is enough to get the database."""
    if closest_marker(request.node, "yara_db") and "yara_db" not in request.fixturenames:
        request.getfixturevalue("yara_db")
