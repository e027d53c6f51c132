"""`in_transaction()`, `@atomic()` and `@retry()`: transactions scoped to the current task.

The open transaction is kept in a context variable, so concurrent tasks each see their own;
nesting opens a savepoint that rolls back alone.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from contextlib import asynccontextmanager
from typing import ParamSpec, TypeVar

from yara_orm._engine import Transaction
from yara_orm.connection import DatabaseClient, connections, open_transactions
from yara_orm.exceptions import ConfigurationError, DatabaseError, TransactionManagementError

_savepoint_ids = itertools.count(1)


class TransactionClient(DatabaseClient):
    """A client whose statements run inside one transaction: pass it as `using_db=`, or end
    the transaction early with `commit()` / `rollback()` (the block then leaves it alone)."""

    def __init__(self, base: DatabaseClient, transaction: Transaction) -> None:
        super().__init__(base.name, transaction, base.dialect)
        self.base = base
        self.transaction = transaction
        self.finished = False

    @property
    def in_transaction(self) -> bool:
        return True

    async def commit(self) -> None:
        if self.finished:
            raise TransactionManagementError("the transaction is already finished")
        self.finished = True
        tx = self.transaction
        await self.control(tx.commit_sql, tx.commit())

    async def rollback(self) -> None:
        if self.finished:
            raise TransactionManagementError("the transaction is already finished")
        self.finished = True
        tx = self.transaction
        await self.control(tx.rollback_sql, tx.rollback())


def current_transaction(name: str) -> TransactionClient | None:
    """The transaction this task has open on connection `name` (see `Connections.transaction`)."""
    return connections.transaction(name)


@asynccontextmanager
async def in_transaction(
    connection_name: str | None = None, isolation: str | None = None
) -> AsyncIterator[TransactionClient]:
    """Commit on success, roll back on error; nested blocks are savepoints."""
    name = connection_name or connections.default_name()
    outer = current_transaction(name)
    if outer is not None:
        async with savepoint(outer) as client:
            yield client
        return
    base = connections.base(name)
    engine = connections.engine(name)
    # Labelled once begun, with the statement the engine ran (BEGIN IMMEDIATE on SQLite, a
    # SAVEPOINT under a test's isolation…).
    transaction = await base.control_after(lambda begun: begun.begin_sql, engine.begin(isolation))
    client = TransactionClient(base, transaction)
    token = open_transactions.set({**(open_transactions.get() or {}), name: client})
    try:
        yield client
    except BaseException:
        if not client.finished:
            await client.rollback()
        raise
    else:
        if not client.finished:
            await client.commit()
    finally:
        open_transactions.reset(token)


@asynccontextmanager
async def savepoint(outer: TransactionClient) -> AsyncIterator[TransactionClient]:
    """A savepoint inside `outer`'s transaction: rolled back alone if the block fails."""
    name = f"yara_nested_{next(_savepoint_ids)}"
    tx = outer.transaction
    await outer.control(tx.savepoint_sql(name, "create"), tx.savepoint(name))
    try:
        yield outer
    except BaseException:
        await outer.control(tx.savepoint_sql(name, "rollback_to"), tx.rollback_to(name))
        await outer.control(tx.savepoint_sql(name, "release"), tx.release(name))
        raise
    else:
        await outer.control(tx.savepoint_sql(name, "release"), tx.release(name))


P = ParamSpec("P")
R = TypeVar("R")


def atomic(
    connection_name: str | None = None, isolation: str | None = None
) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R]]]:
    """Run the decorated coroutine function in `in_transaction()`."""

    def decorate(function: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        @functools.wraps(function)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            async with in_transaction(connection_name, isolation):
                return await function(*args, **kwargs)

        return wrapper

    return decorate


#: serialization_failure and deadlock_detected: the server gave up on the transaction, and
#: running it again from the start may succeed.
RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})


def retry(
    attempts: int = 3,
    *,
    backoff: float = 0.02,
    max_backoff: float = 1.0,
    connection_name: str | None = None,
    isolation: str | None = None,
    sqlstates: Collection[str] = RETRYABLE_SQLSTATES,
) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R]]]:
    """Run the decorated coroutine function in its own transaction (`in_transaction()`), and
    run it again, from the start, when it fails with a serialization failure or a deadlock
    (`sqlstates`): at most `attempts` times in all, waiting `backoff` seconds before the
    second, twice that before the third, and so on up to `max_backoff`, each wait shortened
    at random by up to half so that the transactions that collided do not collide again.
    The last failure is raised.

    Called inside a transaction the function's block is only a savepoint, and a serialization
    failure dooms the whole outer transaction: there it runs once and its error goes up to the
    outer transaction, whose own `@retry` (if any) starts it again.
    """
    if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
        raise ConfigurationError(f"retry(attempts=...) must be 1 or more, not {attempts!r}")
    if not backoff >= 0 or not max_backoff >= 0:
        raise ConfigurationError("retry(): backoff and max_backoff must be 0 or more seconds")
    retryable = frozenset(sqlstates)

    def decorate(function: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        @functools.wraps(function)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            name = connection_name or connections.default_name()
            tries = 1 if current_transaction(name) is not None else attempts
            for attempt in range(1, tries + 1):
                try:
                    async with in_transaction(name, isolation):
                        return await function(*args, **kwargs)
                except DatabaseError as error:
                    if attempt == tries or error.sqlstate not in retryable:
                        raise
                delay = min(max_backoff, backoff * 2 ** (attempt - 1))
                await asyncio.sleep(random.uniform(delay / 2, delay))
            raise AssertionError("unreachable: the last attempt returns or raises")

        return wrapper

    return decorate


__all__ = [
    "RETRYABLE_SQLSTATES",
    "TransactionClient",
    "atomic",
    "current_transaction",
    "in_transaction",
    "retry",
    "savepoint",
]
