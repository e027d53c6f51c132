"""`in_transaction()` and `@atomic()`: transactions scoped to the current task.

The open transaction is kept in a context variable, so concurrent tasks each see their own;
nesting opens a savepoint that rolls back alone.
"""

from __future__ import annotations

import contextvars
import functools
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import ParamSpec, TypeVar

from yara_orm._engine import Transaction
from yara_orm.connection import DatabaseClient, connections
from yara_orm.exceptions import TransactionManagementError

_current: contextvars.ContextVar[dict[str, TransactionClient] | None] = contextvars.ContextVar(
    "yara_transactions", default=None
)
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
    """The transaction this task has open on connection `name`. One begun on a connection
    that has since been closed and replaced (the ORM initialised again) is not it."""
    active = _current.get()
    client = None if active is None else active.get(name)
    if client is not None and connections.find(name) is not client.base:
        return None
    return client


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
    token = _current.set({**(_current.get() or {}), name: client})
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
        _current.reset(token)


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


__all__ = ["TransactionClient", "atomic", "current_transaction", "in_transaction", "savepoint"]
