"""The fixtures: `yara_db` (the database for one test), `yara_queries`, and the session-level
ones a project overrides (`yara_seed`, `yara_orm_config`)."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import pytest

from yara_testing import isolation
from yara_testing.nplusone import assert_no_nplusone
from yara_testing.recorder import QueryLog, assert_num_queries, recorder
from yara_testing.session import STATE, DatabaseSession, open_session

T = TypeVar("T")
ACTIVE = pytest.StashKey[QueryLog]()


class YaraDB:
    """What a test gets from `yara_db`."""

    def __init__(self, session: DatabaseSession, test: str, queries: QueryLog) -> None:
        self._session = session
        self.test = test
        self.queries = queries

    @property
    def backend(self) -> str:
        return self._session.backend

    @property
    def url(self) -> str:
        return self._session.url

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

    async def make(self, model: Any, _quantity: int | None = None, **overrides: Any) -> Any:
        """Create valid rows: required fields filled with fake data, required relations too."""
        return await self._session.make(model, _quantity, **overrides)

    def run(self, function: Callable[..., Awaitable[T]], *args: Any) -> T:
        """Run an ORM coroutine from a synchronous test or fixture."""
        return self._session.portal.run(function, *args)

    def __repr__(self) -> str:
        return f"<YaraDB {self.backend} {self.url}>"


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


@pytest.fixture(scope="session")
def yara_session(request: pytest.FixtureRequest) -> DatabaseSession:
    state = request.config.stash[STATE]
    if state.session is None:
        open_session(state, request)
    assert state.session is not None
    return state.session


@pytest.fixture
def yara_db(request: pytest.FixtureRequest, yara_session: DatabaseSession) -> Iterator[YaraDB]:
    """The database for one test, rolled back at its end (see the README)."""
    state = request.config.stash[STATE]
    marker = request.node.get_closest_marker("yara_db")
    transaction = bool(marker and marker.kwargs.get("transaction", False))
    log = QueryLog()
    portal = yara_session.portal
    if not transaction:
        portal.run(isolation.enter)
    state.allowed = True
    rec = recorder()
    rec.test = request.node.nodeid
    request.node.stash[ACTIVE] = log
    try:
        with rec.capture(log):
            yield YaraDB(yara_session, request.node.nodeid, log)
    finally:
        rec.test = None
        try:
            if transaction:
                portal.run(isolation.empty_tables)
                yara_session.run_seed(yara_session.seed)
            else:
                portal.run(isolation.leave)
        finally:
            state.allowed = False


@pytest.fixture
def yara_queries(yara_db: YaraDB) -> QueryLog:
    """The current test's query log, for tests that only want to look."""
    return yara_db.queries


@pytest.fixture(autouse=True)
def _yara_marker(request: pytest.FixtureRequest) -> None:
    """`@pytest.mark.yara_db` alone is enough to get the database."""
    if request.node.get_closest_marker("yara_db") and "yara_db" not in request.fixturenames:
        request.getfixturevalue("yara_db")
