"""Typed face of the Rust engine (``engine/src``). Kept in step by mypy's stubtest."""

import datetime as dt
import re
from collections.abc import Callable, Mapping, Sequence
from types import CodeType, TracebackType
from typing import Any, Literal, final, overload

from typing_extensions import disjoint_base

__all__ = [
    "Engine",
    "Injection",
    "QueryStats",
    "Rewind",
    "StatementRunner",
    "Transaction",
    "__version__",
    "connect",
    "shape_rows",
    "user_location",
]
__version__: str

Params = Sequence[Any] | None
# What rows become (see `shape_rows`): names, readers `(index, convert, utc_zone)`, model, state.
_Reader = tuple[int, Callable[[Any], Any], dt.tzinfo | None]
_RowShape = tuple[tuple[str, ...], Sequence[_Reader], type | None, dict[str, Any] | None]

@final
class QueryStats:
    """How one statement spent its time, in seconds."""

    @property
    def gil_wait(self) -> float: ...
    @property
    def gil_held(self) -> float: ...
    @property
    def io(self) -> float: ...
    @property
    def total(self) -> float: ...
    @property
    def rows(self) -> int: ...
    @property
    def simulated(self) -> float: ...

@final
class Injection:
    """A latency or a fault injected into an engine's statements (`Engine.simulate`,
    `Engine.fail`), in force until `remove()` or the end of its `with` block."""

    def remove(self) -> bool: ...
    def __enter__(self) -> Injection: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
        /,
    ) -> bool: ...
    @property
    def active(self) -> bool: ...
    @property
    def kind(self) -> str: ...
    @property
    def matched(self) -> int: ...
    @property
    def injected(self) -> int: ...

@final
class Rewind:
    """An isolation level's rollback running in the background
    (`Engine.start_rewind_isolation`)."""

    @property
    def done(self) -> bool: ...
    def wait(self, timeout: float = 300.0) -> int: ...

Latency = float | Mapping[str, float] | Callable[[str], float | None]
Match = str | re.Pattern[str] | Callable[[str], object] | None

@disjoint_base
class StatementRunner:
    """The statement methods of Engine and Transaction (their common base class)."""

    @overload
    async def fetch_rows(
        self,
        sql: str,
        params: Params = None,
        *,
        with_columns: Literal[False] = False,
        with_stats: Literal[False] = False,
        shape: None = None,
    ) -> list[tuple[Any, ...]]: ...
    @overload
    async def fetch_rows(
        self,
        sql: str,
        params: Params = None,
        *,
        with_columns: Literal[False] = False,
        with_stats: Literal[False] = False,
        shape: _RowShape,
    ) -> list[Any]: ...
    @overload
    async def fetch_rows(
        self,
        sql: str,
        params: Params = None,
        *,
        with_columns: Literal[True],
        with_stats: Literal[False] = False,
        shape: None = None,
    ) -> tuple[tuple[str, ...], list[tuple[Any, ...]]]: ...
    @overload
    async def fetch_rows(
        self,
        sql: str,
        params: Params = None,
        *,
        with_columns: bool = False,
        with_stats: Literal[True],
        shape: _RowShape | None = None,
    ) -> tuple[Any, QueryStats]: ...
    @overload
    async def execute(
        self, sql: str, params: Params = None, *, with_stats: Literal[False] = False
    ) -> int: ...
    @overload
    async def execute(
        self, sql: str, params: Params = None, *, with_stats: Literal[True]
    ) -> tuple[int, QueryStats]: ...
    @overload
    async def execute_many(
        self, sql: str, params_seq: Sequence[Sequence[Any]], *, with_stats: Literal[False] = False
    ) -> int: ...
    @overload
    async def execute_many(
        self, sql: str, params_seq: Sequence[Sequence[Any]], *, with_stats: Literal[True]
    ) -> tuple[int, QueryStats]: ...
    @overload
    async def execute_script(self, sql: str, *, with_stats: Literal[False] = False) -> None: ...
    @overload
    async def execute_script(
        self, sql: str, *, with_stats: Literal[True]
    ) -> tuple[None, QueryStats]: ...

@final
class Transaction(StatementRunner):
    async def savepoint(self, name: str) -> None: ...
    async def release(self, name: str) -> None: ...
    async def rollback_to(self, name: str) -> None: ...
    async def commit(self) -> None: ...
    async def rollback(self) -> None: ...
    @property
    def is_finished(self) -> bool: ...
    @property
    def is_savepoint(self) -> bool: ...
    @property
    def begin_sql(self) -> str: ...
    @property
    def commit_sql(self) -> str: ...
    @property
    def rollback_sql(self) -> str: ...
    def savepoint_sql(
        self, name: str, action: Literal["create", "release", "rollback_to"]
    ) -> str: ...

@final
class Engine(StatementRunner):
    async def begin(self, isolation: str | None = None) -> Transaction: ...
    async def enter_isolation(self, *, patience: float = 10.0) -> int: ...
    async def leave_isolation(self) -> int: ...
    def enter_isolation_blocking(self, *, patience: float = 10.0) -> int: ...
    def leave_isolation_blocking(self) -> int: ...
    def rewind_isolation_blocking(self) -> int: ...
    def start_rewind_isolation(self) -> Rewind: ...
    @property
    def isolation_depth(self) -> int: ...
    @property
    def backend(self) -> Literal["postgres", "sqlite"]: ...
    @property
    def url(self) -> str: ...
    @property
    def is_closed(self) -> bool: ...
    def pool_status(self) -> dict[str, int]: ...
    def simulate(
        self, latency: Latency, *, jitter: float = 0.0, seed: int | None = None
    ) -> Injection: ...
    def fail(
        self,
        match: Match = None,
        error: str | None = None,
        *,
        times: int | None = ...,
        after: int = 0,
        probability: float | None = None,
        seed: int | None = None,
    ) -> Injection: ...
    @property
    def injections(self) -> list[Injection]: ...
    async def close(self) -> None: ...

async def connect(
    url: str,
    *,
    max_size: int | None = None,
    min_size: int = 1,
    acquire_timeout: float = 30.0,
    connect_timeout: float = 10.0,
    statement_cache: bool = True,
) -> Engine: ...
def user_location(
    codes: dict[int, tuple[CodeType, str, dict[int, str]]],
    classify: Callable[[CodeType], tuple[CodeType, str, dict[int, str]]],
) -> str | None:
    """`"name:line"` of the innermost frame (the caller's included) whose code `codes` names
    (by `id(code)`: the code, its file as shown or "" to skip it, and locations by instruction
    offset, filled in here); a code not in `codes` is given to `classify`, which adds its entry
    and returns it. None when every frame is skipped."""

def shape_rows(
    rows: list[tuple[Any, ...]],
    names: tuple[str, ...],
    readers: Sequence[_Reader],
    model: type | None = None,
    state: dict[str, Any] | None = None,
) -> list[Any]:
    """Rows as instances of `model` with attributes `names[i] = row[i]` plus `state` (set as
    `object.__setattr__` would), or as dicts without `model`; each reader `(index, convert,
    utc_zone)` converts its column (a datetime in `timezone.utc` only takes `utc_zone` as its
    tzinfo when one is given)."""
