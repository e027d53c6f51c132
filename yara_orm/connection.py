"""Connections, and the one path every statement of the ORM takes to the engine.

`DatabaseClient._run` is that path: model operations, querysets, relation loads, raw SQL,
DDL and transaction statements all pass through it. Listeners (the test toolkit's recorder,
the N+1 detector) see each statement's SQL, parameters and engine timings; with no listener
the path adds one truth test.
"""

from __future__ import annotations

import contextlib
import contextvars
import itertools
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from yara_orm._engine import Engine, QueryStats, StatementRunner
from yara_orm.dialects import DIALECTS, Dialect
from yara_orm.dialects.base import Capabilities, SchemaGenerator
from yara_orm.exceptions import ConfigurationError, ParamsError

if TYPE_CHECKING:
    from yara_orm._engine import _RowShape as RowShape
    from yara_orm.transactions import TransactionClient


@dataclass(eq=False)
class QueryBatch:
    """The instances one multi-row query produced: they share this object as `_batch`.

    Instances loaded lazily, one per instance of a batch through the same relation, share a
    derived batch whose `root` is the first batch and `path` the relations from it
    (`"issue__project"`), so the N+1 detector can name the whole path to load at once."""

    id: int
    model: str
    size: int
    root: QueryBatch | None = None
    path: str = ""
    derived: dict[str, QueryBatch] = field(default_factory=dict, repr=False)


_batch_ids = itertools.count(1)


def new_batch(model: str, size: int) -> QueryBatch:
    return QueryBatch(next(_batch_ids), model, size)


def derived_batch(parent: QueryBatch, relation: str, model: str) -> QueryBatch:
    """The batch shared by every instance loaded lazily through `relation` from `parent`."""
    found = parent.derived.get(relation)
    if found is None:
        path = f"{parent.path}__{relation}" if parent.path else relation
        found = QueryBatch(next(_batch_ids), model, parent.size, parent.root or parent, path)
        parent.derived[relation] = found
    return found


@dataclass(frozen=True)
class LoadContext:
    """Why a statement runs, when the ORM knows: loading a relation of an instance."""

    model: str
    relation: str
    kind: str  # "lazy" (one instance awaited its relation) or "prefetch"
    batch: QueryBatch | None = None


current_load: contextvars.ContextVar[LoadContext | None] = contextvars.ContextVar(
    "yara_current_load", default=None
)

# The transactions this task has open, by connection name (see `transactions`); kept here so
# that `Connections.get`, on every statement's path, reads it without importing that module.
open_transactions: contextvars.ContextVar[dict[str, TransactionClient] | None] = (
    contextvars.ContextVar("yara_transactions", default=None)
)


@dataclass(slots=True)
class QueryEvent:
    """One statement, as listeners see it. `control`: the engine's transaction control
    (`BEGIN`, `COMMIT`, savepoints), labelled with the SQL it runs; it carries no timings."""

    sql: str
    params: Sequence[Any] | None
    connection: str
    stats: QueryStats | None = None
    error: BaseException | None = None
    context: LoadContext | None = None
    control: bool = False


T = TypeVar("T")
Listener = Callable[[QueryEvent], None]
_listeners: list[Listener] = []
# Consulted before a statement runs, with its SQL and connection name, only while a listener
# is attached (the test toolkit blocks database access outside tests that asked for it).
Guard = Callable[[str, str], None]
_guards: list[Guard] = []


def add_guard(guard: Guard) -> None:
    _guards.append(guard)


def remove_guard(guard: Guard) -> None:
    with contextlib.suppress(ValueError):
        _guards.remove(guard)


# Consulted when the ORM is used before any connection exists: the test toolkit answers
# "database access not allowed" there rather than "not initialised".
UnboundGuard = Callable[[str], None]
_unbound_guards: list[UnboundGuard] = []


def add_unbound_guard(guard: UnboundGuard) -> None:
    _unbound_guards.append(guard)


def remove_unbound_guard(guard: UnboundGuard) -> None:
    with contextlib.suppress(ValueError):
        _unbound_guards.remove(guard)


def add_listener(listener: Listener) -> None:
    _listeners.append(listener)


def remove_listener(listener: Listener) -> None:
    with contextlib.suppress(ValueError):
        _listeners.remove(listener)


@contextlib.contextmanager
def listening(listener: Listener) -> Iterator[Listener]:
    """Call `listener` for every statement run inside the block."""
    add_listener(listener)
    try:
        yield listener
    finally:
        remove_listener(listener)


class DatabaseClient:
    """Runs SQL for the ORM on an engine, or inside one of its transactions."""

    def __init__(self, name: str, runner: StatementRunner, dialect: Dialect) -> None:
        self.name = name
        self.runner = runner
        self.dialect = dialect

    @property
    def in_transaction(self) -> bool:
        return False

    @property
    def capabilities(self) -> Capabilities:
        return self.dialect.capabilities

    @property
    def schema_generator(self) -> type[SchemaGenerator]:
        """Tortoise's: `client.schema_generator.DIALECT` is the dialect's name."""
        return self.dialect.schema_generator

    def _event(self, sql: str, params: Any) -> QueryEvent:
        """The event for a statement about to run (guards consulted first)."""
        for guard in _guards:
            guard(sql, self.name)
        return QueryEvent(sql, params, self.name, None, None, current_load.get())

    # One typed method per engine call. Without listeners each is the bare engine call; with
    # them, guards run first and listeners see the SQL, parameters and engine timings.

    async def fetch(
        self, sql: str, params: Sequence[Any] | None = None, shape: RowShape | None = None
    ) -> list[Any]:
        """Rows as tuples; or, with `shape`, as the instances or dicts it describes (see
        `yara_orm._engine.shape_rows`), built by the engine straight from the result."""
        if not _listeners:
            if shape is None:
                return await self.runner.fetch_rows(sql, params)
            return await self.runner.fetch_rows(sql, params, shape=shape)
        event = self._event(sql, params)  # guards first: a refused statement never starts
        # What `_observed` does, written out on the two paths every statement takes: one
        # coroutine fewer to pass through, and one frame fewer for the recorder to walk.
        rows: list[Any]
        try:
            rows, event.stats = await self.runner.fetch_rows(
                sql, params, with_stats=True, shape=shape
            )
        except BaseException as error:
            self._failed(event, error)
            raise
        self._notify(event)
        return rows

    async def fetch_with_columns(
        self, sql: str, params: Sequence[Any] | None = None
    ) -> tuple[tuple[str, ...], list[tuple[Any, ...]]]:
        """`(column names, rows)`."""
        if not _listeners:
            return await self.runner.fetch_rows(sql, params, with_columns=True)
        event = self._event(sql, params)
        call = self.runner.fetch_rows(sql, params, with_columns=True, with_stats=True)
        result: tuple[tuple[str, ...], list[tuple[Any, ...]]] = await self._observed(
            event, call, True
        )
        return result

    async def execute(self, sql: str, params: Sequence[Any] | None = None) -> int:
        """The number of rows affected."""
        if not _listeners:
            return await self.runner.execute(sql, params)
        event = self._event(sql, params)
        try:
            count, event.stats = await self.runner.execute(sql, params, with_stats=True)
        except BaseException as error:
            self._failed(event, error)
            raise
        self._notify(event)
        return count

    async def execute_many(self, sql: str, params_seq: Sequence[Sequence[Any]]) -> int:
        if not _listeners:
            return await self.runner.execute_many(sql, params_seq)
        event = self._event(sql, params_seq)
        call = self.runner.execute_many(sql, params_seq, with_stats=True)
        count: int = await self._observed(event, call, True)
        return count

    async def execute_script(self, sql: str) -> None:
        if not _listeners:
            await self.runner.execute_script(sql)
            return
        event = self._event(sql, None)
        call = self.runner.execute_script(sql, with_stats=True)
        await self._observed(event, call, True)

    async def control(self, sql: str, operation: Awaitable[T]) -> T:
        """Await a transaction-control operation of the engine, telling listeners about it as
        `sql` (the SQL the engine runs for it; it carries no engine timings)."""
        if not _listeners:
            return await operation
        event = QueryEvent(sql, None, self.name, control=True)
        result: T = await self._observed(event, operation)
        return result

    async def control_after(self, label: Callable[[T], str], operation: Awaitable[T]) -> T:
        """`control()` for an operation whose SQL is known once it has run (`begin`)."""
        if not _listeners:
            return await operation
        event = QueryEvent("", None, self.name, control=True)
        try:
            result: T = await operation
        except BaseException as error:
            event.sql, event.error = "BEGIN", error
            self._notify(event)
            raise
        event.sql = label(result)
        self._notify(event)
        return result

    async def _observed(
        self, event: QueryEvent, operation: Awaitable[Any], timed: bool = False
    ) -> Any:
        """Await `operation`; tell listeners about `event` whether it succeeds or fails.
        `timed`: the operation returns `(result, QueryStats)`."""
        try:
            result = await operation
        except BaseException as error:
            self._failed(event, error)
            raise
        if timed:
            result, event.stats = result
        self._notify(event)
        return result

    @staticmethod
    def _notify(event: QueryEvent) -> None:
        for listener in _listeners[:]:  # a copy: a listener may detach itself
            listener(event)

    def _failed(self, event: QueryEvent, error: BaseException) -> None:
        event.error = error
        self._notify(event)

    async def execute_query(
        self, sql: str, params: Sequence[Any] | None = None
    ) -> tuple[int, list[dict[str, Any]]]:
        """Tortoise's raw API: (row count, rows as dicts)."""
        names, rows = await self.fetch_with_columns(sql, params)
        return len(rows), [dict(zip(names, row, strict=True)) for row in rows]

    async def execute_query_dict(
        self, sql: str, params: Sequence[Any] | None = None
    ) -> list[dict[str, Any]]:
        return (await self.execute_query(sql, params))[1]

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} {self.dialect.name}>"


class Connections:
    """The named engines the ORM was initialised with."""

    def __init__(self) -> None:
        self._clients: dict[str, DatabaseClient] = {}
        self._engines: dict[str, Engine] = {}
        # Engines lent by someone else (the test toolkit): unregistered on close, not closed.
        self._borrowed: set[str] = set()

    def register(self, name: str, engine: Engine, *, owned: bool = True) -> DatabaseClient:
        client = DatabaseClient(name, engine, DIALECTS[engine.backend])
        self._clients[name] = client
        self._engines[name] = engine
        if owned:
            self._borrowed.discard(name)
        else:
            self._borrowed.add(name)
        return client

    def is_borrowed(self, name: str) -> bool:
        return name in self._borrowed

    def get(self, name: str = "default") -> DatabaseClient:
        """The client for `name`: the current transaction's, if one is open in this task."""
        return self.transaction(name) or self.base(name)

    def transaction(self, name: str) -> TransactionClient | None:
        """The transaction this task has open on connection `name`. One begun on a connection
        that has since been closed and replaced (the ORM initialised again) is not it."""
        active = open_transactions.get()
        client = None if active is None else active.get(name)
        if client is not None and self._clients.get(name) is not client.base:
            return None
        return client

    def find(self, name: str) -> DatabaseClient | None:
        """The client outside any transaction, or None if no connection has that name."""
        return self._clients.get(name)

    def base(self, name: str = "default") -> DatabaseClient:
        """The client outside any transaction."""
        client = self._clients.get(name)
        if client is not None:
            return client
        # Raised outside an `except` block: a guard's refusal must not show a KeyError.
        if not self._clients:
            for guard in _unbound_guards:
                guard(name)
            raise ConfigurationError(
                "yara-orm is not initialised: call `await YaraOrm.init(url)` first"
            )
        raise ConfigurationError(
            f"no connection named {name!r}; known: {', '.join(sorted(self._clients))}"
        )

    def default_name(self) -> str:
        """The connection meant when none is named: "default", or the only one there is
        (Tortoise's rule); with several and none called "default", naming one is required."""
        if "default" in self._clients or not self._clients:
            return "default"  # with none, the lookup that follows says the ORM is not set up
        if len(self._clients) == 1:
            return next(iter(self._clients))
        raise ParamsError(
            "several connections are configured and none is named 'default': pass "
            f"connection_name= (one of: {', '.join(sorted(self._clients))})"
        )

    def engine(self, name: str = "default") -> Engine:
        self.base(name)
        return self._engines[name]

    def names(self) -> list[str]:
        return list(self._clients)

    def all(self) -> list[DatabaseClient]:
        """Every connection's client (Tortoise's `connections.all()`)."""
        return list(self._clients.values())

    async def close_all(self, discard: bool = True) -> None:
        """Close and forget every engine the ORM opened (`discard` is Tortoise's; a closed
        engine cannot reopen, so it is always forgotten). Borrowed engines stay: the test
        toolkit that lent them ends them (so a lifespan's shutdown in a test leaves the ORM
        bound to the test database)."""
        owned = [name for name in self._engines if name not in self._borrowed]
        engines = [self._engines.pop(name) for name in owned]
        for name in owned:
            del self._clients[name]
        for engine in engines:
            await engine.close()

    async def reset(self) -> None:
        """Close the engines the ORM opened and forget every engine, borrowed ones too."""
        await self.close_all()
        self._clients.clear()
        self._engines.clear()
        self._borrowed.clear()


connections = Connections()

#: Tortoise's name for the class of `connections`.
ConnectionHandler = Connections


def get_connection(connection_name: str = "default") -> DatabaseClient:
    """The client for `connection_name` (Tortoise 1.x's `tortoise.connection.get_connection`)."""
    return connections.get(connection_name)


def get_connections() -> Connections:
    """The ORM's connections (Tortoise 1.x's `tortoise.connection.get_connections`)."""
    return connections
