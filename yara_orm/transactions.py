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

_current: contextvars.ContextVar[dict[str, TransactionClient] | None] = contextvars.ContextVar(
    "yara_transactions", default=None
)
_savepoint_ids = itertools.count(1)


class TransactionClient(DatabaseClient):
    """A client whose statements run inside one transaction."""

    def __init__(self, base: DatabaseClient, transaction: Transaction) -> None:
        super().__init__(base.name, transaction, base.dialect)
        self.transaction = transaction

    @property
    def in_transaction(self) -> bool:
        return True


def current_transaction(name: str) -> TransactionClient | None:
    active = _current.get()
    return None if active is None else active.get(name)


@asynccontextmanager
async def in_transaction(
    connection_name: str | None = None, isolation: str | None = None
) -> AsyncIterator[TransactionClient]:
    """Commit on success, roll back on error; nested blocks are savepoints."""
    name = connection_name or "default"
    outer = current_transaction(name)
    if outer is not None:
        async with _savepoint(outer) as client:
            yield client
        return
    base = connections.base(name)
    begin = "BEGIN" if isolation is None else f"BEGIN ISOLATION LEVEL {isolation.upper()}"
    transaction = await base.control(begin, base.runner.begin(isolation))  # type: ignore[attr-defined]
    client = TransactionClient(base, transaction)
    token = _current.set({**(_current.get() or {}), name: client})
    try:
        yield client
    except BaseException:
        await client.control("ROLLBACK", transaction.rollback())
        raise
    else:
        await client.control("COMMIT", transaction.commit())
    finally:
        _current.reset(token)


@asynccontextmanager
async def _savepoint(outer: TransactionClient) -> AsyncIterator[TransactionClient]:
    name = f"yara_nested_{next(_savepoint_ids)}"
    tx = outer.transaction
    await outer.control(f"SAVEPOINT {name}", tx.savepoint(name))
    try:
        yield outer
    except BaseException:
        await outer.control(f"ROLLBACK TO SAVEPOINT {name}", tx.rollback_to(name))
        await outer.control(f"RELEASE SAVEPOINT {name}", tx.release(name))
        raise
    else:
        await outer.control(f"RELEASE SAVEPOINT {name}", tx.release(name))


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


__all__ = ["TransactionClient", "atomic", "current_transaction", "in_transaction"]
