"""Opening an engine.

``connect`` is a coroutine function, so ``asyncio.run(connect(url))`` works; the engine's own
methods return awaitables whose work starts when they are called (like a task), so call them
inside a running event loop.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from yara_orm import _engine
from yara_orm._engine import Engine

# Consulted with the URL before any engine is opened: the test toolkit refuses connections to
# anything but the test database server while a test runs.
ConnectGuard = Callable[[str], None]
_connect_guards: list[ConnectGuard] = []


def add_connect_guard(guard: ConnectGuard) -> None:
    _connect_guards.append(guard)


def remove_connect_guard(guard: ConnectGuard) -> None:
    with contextlib.suppress(ValueError):
        _connect_guards.remove(guard)


async def connect(
    url: str,
    *,
    max_size: int | None = None,
    min_size: int = 1,
    acquire_timeout: float = 30.0,
    connect_timeout: float = 10.0,
    statement_cache: bool = True,
) -> Engine:
    """Open a connection pool to ``url``.

    ``postgres://user:password@host:port/dbname`` (``?host=/socket/dir`` for a Unix socket),
    ``sqlite:///path/to.db`` or ``sqlite://:memory:``. ``max_size`` defaults to 10 for
    PostgreSQL and 4 for a SQLite file (an in-memory database always uses one connection).
    ``min_size`` connections are opened at once, so a wrong address fails here. Waiting for a
    free connection gives up after ``acquire_timeout`` seconds with ``PoolTimeoutError``.
    """
    for guard in _connect_guards:
        guard(url)
    return await _engine.connect(
        url,
        max_size=max_size,
        min_size=min_size,
        acquire_timeout=acquire_timeout,
        connect_timeout=connect_timeout,
        statement_cache=statement_cache,
    )
