"""The query log: every statement the ORM runs, with its SQL, parameters, engine timings and
the line of user code that issued it; and the assertions built on it."""

from __future__ import annotations

import contextlib
import contextvars
import functools
import os
import sysconfig
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import CodeType
from typing import Any

import yara_orm
from yara_orm import _engine
from yara_orm.connection import LoadContext, QueryEvent, add_listener, remove_listener

_SKIPPED_ROOTS = tuple(
    str(Path(p).resolve())
    for p in {
        Path(yara_orm.__file__).parent,
        Path(__file__).parent,
        Path(sysconfig.get_paths()["stdlib"]),
    }
)


# What a query is attributed to when no frame of user code issued it: a registered factory's
# fixture saves on the plugin's own event loop, and names itself here.
query_origin: contextvars.ContextVar[str] = contextvars.ContextVar(
    "yara_query_origin", default="<unknown>"
)


def user_location() -> str:
    """file:line of the innermost frame outside yara_orm, yara_testing and the stdlib, else
    `query_origin`. The file is named relative to `location_base()`."""
    _code_names.ensure_base()
    found = _engine.user_location(_code_names.codes, _classify)
    return found or query_origin.get()


def set_location_base(directory: str) -> None:
    """Name files in locations relative to `directory` (the plugin: where pytest started)."""
    _code_names.set_base(directory)


def location_base() -> str:
    """What files in locations are named relative to: set by the plugin to the directory pytest
    started in; else the working directory when the first log opened. One directory for the
    whole process, so a test that changes the working directory, or logs opened in different
    ones, name a file alike (and reading it costs nothing per statement)."""
    _code_names.ensure_base()
    return _code_names.base


class _CodeNames:
    """Per code object met on the way to the user's frame (the same few dozen for every
    statement), by id (hashing a code hashes its constants and byte code): the code, which
    keeps its id its own while cached, its file name as shown (relative to `base`) or "" for
    the ORM's, the toolkit's and the stdlib's own code, and its locations by instruction
    offset. The walk itself is the engine's: in Python it cost more than the rest of a record."""

    def __init__(self) -> None:
        self.base = ""
        self.codes: dict[int, tuple[CodeType, str, dict[int, str]]] = {}

    def set_base(self, directory: str) -> None:
        if directory != self.base:
            self.base = directory
            self.codes = {}

    def ensure_base(self) -> None:
        if not self.base:
            self.set_base(os.getcwd())

    def classify(self, code: CodeType) -> tuple[CodeType, str, dict[int, str]]:
        filename = code.co_filename
        skipped = filename.startswith(_SKIPPED_ROOTS) or filename.startswith("<")
        locations: dict[int, str] = {}
        entry = (code, "" if skipped else _shortened(filename, self.base), locations)
        self.codes[id(code)] = entry
        return entry


_code_names = _CodeNames()
_classify = _code_names.classify  # one bound method, not one per statement


def _short(filename: str) -> str:
    """A file name as locations show it."""
    return _shortened(filename, location_base())


@functools.lru_cache(maxsize=1024)
def _shortened(filename: str, base: str) -> str:
    try:
        return str(Path(filename).relative_to(base))
    except ValueError:
        return filename


# Not frozen: a frozen dataclass sets each of its 14 fields through object.__setattr__, five
# times the cost of a plain one, paid for every statement of every test.
@dataclass(unsafe_hash=True, slots=True)
class QueryRecord:
    """One statement. Times are in seconds, from the engine's own measurements."""

    sql: str
    params: tuple[Any, ...]
    duration: float
    gil_held: float
    gil_wait: float
    io: float
    rows: int
    location: str
    test: str | None
    connection: str = "default"
    error: str | None = None
    context: LoadContext | None = field(default=None, compare=False)
    # What the database simulation did to it: the fault that failed it, or the latency added
    # ("latency 2.00 ms"); None if nothing. `simulated` is that latency, part of `io`.
    injected: str | None = None
    simulated: float = 0.0

    @classmethod
    def from_event(cls, event: QueryEvent, location: str, test: str | None) -> QueryRecord:
        # Positional, and no attribute looked up twice: this runs for every statement.
        stats, error = event.stats, event.error
        injected = error_text = None
        if error is not None:
            injected = getattr(error, "injected", None)
            error_text = f"{type(error).__name__}: {error}"
        if stats is None:
            duration = gil_held = gil_wait = io = simulated = 0.0
            rows = 0
        else:
            duration, gil_held, gil_wait = stats.total, stats.gil_held, stats.gil_wait
            io, rows, simulated = stats.io, stats.rows, stats.simulated
            if simulated and injected is None:
                injected = f"latency {simulated * 1000:.2f} ms"
        params = event.params
        return cls(
            event.sql,
            params if type(params) is tuple else tuple(params or ()),
            duration,
            gil_held,
            gil_wait,
            io,
            rows,
            location,
            test,
            event.connection,
            error_text,
            event.context,
            injected,
            simulated,
        )

    def describe(self, number: int | None = None) -> str:
        head = f"{number}. " if number is not None else ""
        params = f"\n      params: {list(self.params)!r}" if self.params else ""
        # A failure the simulation injected says so, as does the latency it added.
        fault = f" (injected {self.injected})" if self.injected and not self.simulated else ""
        failed = f"\n      failed{fault}: {self.error}" if self.error else ""
        simulated = f", {self.simulated * 1000:.2f} ms simulated" if self.simulated else ""
        return (
            f"{head}{self.sql}{params}\n"
            f"      {self.duration * 1000:.2f} ms (GIL held {self.gil_held * 1000:.2f} ms"
            f"{simulated}), {self.rows} row{'' if self.rows == 1 else 's'}, at {self.location}"
            f"{failed}"
        )

    def __str__(self) -> str:
        return self.describe()


class QueryLog:
    """An ordered list of `QueryRecord`s."""

    def __init__(self, records: list[QueryRecord] | None = None) -> None:
        self._records: list[QueryRecord] = records if records is not None else []

    def append(self, record: QueryRecord) -> None:
        self._records.append(record)

    def __len__(self) -> int:
        return len(self._records)

    def __getitem__(self, index: int) -> QueryRecord:
        return self._records[index]

    def __iter__(self) -> Iterator[QueryRecord]:
        return iter(self._records)

    def __bool__(self) -> bool:
        return bool(self._records)

    @property
    def count(self) -> int:
        return len(self._records)

    @property
    def total_duration(self) -> float:
        return sum(r.duration for r in self._records)

    @property
    def total_gil_held(self) -> float:
        return sum(r.gil_held for r in self._records)

    @property
    def total_io(self) -> float:
        return sum(r.io for r in self._records)

    @property
    def total_simulated(self) -> float:
        """The latency the database simulation added, in all (part of `total_duration`)."""
        return sum(r.simulated for r in self._records)

    def filter(
        self,
        sql_contains: str | None = None,
        connection: str | None = None,
        kind: str | None = None,
    ) -> QueryLog:
        """The records whose SQL contains `sql_contains` (any case), on `connection`, and of
        `kind`: the statement's first keyword (`"SELECT"`, `"INSERT"`...; an
        `INSERT ... SELECT` is an INSERT)."""
        wanted = kind.upper() if kind is not None else None
        chosen = [
            r
            for r in self._records
            if (sql_contains is None or sql_contains.lower() in r.sql.lower())
            and (connection is None or r.connection == connection)
            and (wanted is None or _kind(r.sql) == wanted)
        ]
        return QueryLog(chosen)

    def __str__(self) -> str:
        if not self._records:
            return "no queries"
        lines = [record.describe(n) for n, record in enumerate(self._records, start=1)]
        simulated = self.total_simulated
        total = (
            f"{count_queries(len(self._records))}, {self.total_duration * 1000:.2f} ms, "
            f"GIL held {self.total_gil_held * 1000:.2f} ms"
            + (f", {simulated * 1000:.2f} ms simulated latency" if simulated else "")
        )
        return "\n".join([*lines, total])

    def __repr__(self) -> str:
        return f"<QueryLog {len(self._records)} queries>"


def _kind(sql: str) -> str:
    """A statement's first keyword, upper-cased."""
    words = sql.split(None, 1)
    return words[0].upper() if words else ""


class Recorder:
    """Feeds every open log from the ORM's execution path."""

    def __init__(self) -> None:
        self.logs: list[QueryLog] = []
        self.test: str | None = None
        self.listeners: list[Any] = []
        self._installs = 0

    def __call__(self, event: QueryEvent) -> None:
        if event.control and not getattr(event.error, "injected", None):
            # BEGIN/COMMIT/SAVEPOINT of user transactions are not queries (unless the database
            # simulation failed one: that failure is the test's to see).
            return
        if not self.logs and not self.listeners:
            return
        # user_location(), its base known since the log opened (see `capture`).
        found = _engine.user_location(_code_names.codes, _classify)
        record = QueryRecord.from_event(event, found or query_origin.get(), self.test)
        for log in self.logs:
            log._records.append(record)
        for listener in self.listeners:
            listener(record)

    @contextlib.contextmanager
    def capture(self, log: QueryLog | None = None) -> Iterator[QueryLog]:
        log = QueryLog() if log is None else log
        _code_names.ensure_base()
        self.logs.append(log)
        try:
            yield log
        finally:
            self.logs.remove(log)

    def install(self) -> None:
        """Attach to the execution path (counted: every install needs its uninstall)."""
        self._installs += 1
        _code_names.ensure_base()
        if self._installs == 1:
            add_listener(self)

    def uninstall(self) -> None:
        self._installs -= 1
        if self._installs == 0:
            remove_listener(self)


_recorder = Recorder()


def recorder() -> Recorder:
    return _recorder


@contextlib.contextmanager
def record_queries() -> Iterator[QueryLog]:
    """Log the ORM's queries inside the block: in a script, a web test client, anywhere."""
    _recorder.install()
    try:
        with _recorder.capture() as log:
            yield log
    finally:
        _recorder.uninstall()


class QueryCountError(AssertionError):
    pass


def count_queries(count: int) -> str:
    return "1 query" if count == 1 else f"{count} queries"


class _RecordedBlock:
    """A `with` block whose queries are logged and checked when it ends. A class rather than a
    generator, so a failure's traceback ends at the user's `with` line, not in contextlib."""

    def __init__(self) -> None:
        self.log = QueryLog()
        self._capture: contextlib.AbstractContextManager[QueryLog] | None = None

    def __enter__(self) -> QueryLog:
        _recorder.install()
        self._capture = _recorder.capture(self.log)
        return self._capture.__enter__()

    def __exit__(self, kind: Any, error: Any, traceback: Any) -> None:
        __tracebackhide__ = True
        assert self._capture is not None
        self._capture.__exit__(kind, error, traceback)
        _recorder.uninstall()
        if kind is None:  # otherwise the block's own error is the one to see
            self.check()

    def check(self) -> None:
        raise NotImplementedError


class assert_num_queries(_RecordedBlock):
    """Fail unless the block runs exactly (or, with exact=False, at most) `expected` queries."""

    def __init__(self, expected: int, *, exact: bool = True) -> None:
        super().__init__()
        self.expected = expected
        self.exact = exact

    def check(self) -> None:
        __tracebackhide__ = True
        count = len(self.log)
        if count != self.expected if self.exact else count > self.expected:
            bound = "exactly" if self.exact else "at most"
            raise QueryCountError(
                f"expected {bound} {count_queries(self.expected)}, ran {count}:\n{self.log}"
            )


def assert_max_queries(limit: int) -> contextlib.AbstractContextManager[QueryLog]:
    return assert_num_queries(limit, exact=False)


class DatabaseTimeError(AssertionError):
    pass


class assert_max_db_time(_RecordedBlock):
    """Fail if the block's queries take longer than `seconds` in all, as measured by the
    engine, simulated latency included (the `yara_max_db_time` marker's budget, for a block)."""

    def __init__(self, seconds: float) -> None:
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not seconds >= 0:
            raise ValueError(f"assert_max_db_time takes seconds, 0 or more, not {seconds!r}")
        super().__init__()
        self.seconds = float(seconds)

    def check(self) -> None:
        __tracebackhide__ = True
        if self.log.total_duration > self.seconds:
            raise DatabaseTimeError(
                f"the block's queries took {self.log.total_duration * 1000:.4g} ms, more than "
                f"{self.seconds * 1000:.4g} ms:\n{self.log}"
            )
