"""Test helpers with Tortoise's names, for suites written against `tortoise.contrib.test`
(the `yara_testing` pytest plugin is the fuller way to test with yara-orm)."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar
from unittest import SkipTest, expectedFailure, skip, skipIf, skipUnless

from yara_orm.connection import connections
from yara_orm.context import tortoise_test_context, yara_test_context
from yara_orm.exceptions import ConfigurationError

T = TypeVar("T")
MEMORY_SQLITE = "sqlite://:memory:"

__all__ = [
    "MEMORY_SQLITE",
    "SkipTest",
    "expectedFailure",
    "init_memory_sqlite",
    "requireCapability",
    "skip",
    "skipIf",
    "skipUnless",
    "tortoise_test_context",
    "truncate_all_models",
    "yara_test_context",
]


def _client(connection_name: str) -> Any:
    # Tortoise's suites name their connection "models"; ours is "default" unless named.
    names = connections.names()
    if connection_name not in names and connection_name == "models" and "default" in names:
        connection_name = "default"
    return connections.get(connection_name)


def requireCapability(connection_name: str = "models", **conditions: Any) -> Callable[[T], T]:
    """Skip a test (function or class) unless the connection's capabilities match, checked
    when the test runs: `@requireCapability(dialect="postgres")`."""

    def decorate(item: T) -> T:
        if isinstance(item, type):
            for name in dir(item):
                member = getattr(item, name)
                if name.startswith("test") and callable(member):
                    setattr(item, name, decorate(member))
            return item

        def check() -> None:
            capabilities = _client(connection_name).capabilities
            for key, wanted in conditions.items():
                if getattr(capabilities, key) != wanted:
                    raise SkipTest(f"Capability {key} != {wanted}")

        function: Any = item
        if inspect.iscoroutinefunction(function):

            @functools.wraps(function)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                check()
                return await function(*args, **kwargs)

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            check()
            return function(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


async def truncate_all_models() -> None:
    """Delete every row of every initialised model's table, children first."""
    from yara_orm.orm import YaraOrm

    if not YaraOrm.models:
        raise ValueError("no models are initialised: call YaraOrm.init(...) first")
    for name in connections.names():
        client = connections.get(name)
        quote = client.dialect.quote
        tables = list(reversed(YaraOrm.table_names(name)))
        if client.dialect.name == "postgres" and tables:
            await client.execute_script(
                "TRUNCATE " + ", ".join(quote(t) for t in tables) + " RESTART IDENTITY CASCADE"
            )
            continue
        for table in tables:
            await client.execute(f"DELETE FROM {quote(table)}")


def init_memory_sqlite(models: Any = None) -> Any:
    """Run the decorated coroutine function with the ORM on a fresh in-memory SQLite
    database (`models`: module names; default `__main__`)."""
    from yara_orm.orm import YaraOrm

    def decorate(function: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(function)
        async def run(*args: Any, **kwargs: Any) -> Any:
            modules = [models] if isinstance(models, str) else list(models or ["__main__"])
            await YaraOrm.init(db_url=MEMORY_SQLITE, modules={"models": modules})
            await YaraOrm.generate_schemas()
            try:
                return await function(*args, **kwargs)
            finally:
                await YaraOrm.close()

        return run

    if callable(models) and not isinstance(models, str | list):
        function, models = models, None
        return decorate(function)
    if models is not None and not isinstance(models, str | list | tuple):
        raise ConfigurationError("init_memory_sqlite takes module names")
    return decorate
