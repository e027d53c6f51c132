"""yara_testing: a real database for every test, rolled back at its end; factories; and a
record of every query's SQL and GIL time, with assertions on counts and N+1 patterns.

Installing `yara-orm[testing]` activates the pytest plugin (`yara_testing.pytest_plugin`).
Outside pytest, `record_queries()` logs the ORM's queries in any block of code.
"""

from __future__ import annotations

from typing import Any

from yara_testing.isolation import LeakedTaskError
from yara_testing.nplusone import NPlusOneError, assert_no_nplusone
from yara_testing.recorder import (
    DatabaseTimeError,
    QueryCountError,
    QueryLog,
    QueryRecord,
    assert_max_db_time,
    assert_max_queries,
    assert_num_queries,
    record_queries,
)


def __getattr__(name: str) -> Any:
    # The factory helpers need factory_boy and Faker (the `testing` extra): import on use.
    if name in {"ModelFactory", "make"}:
        from yara_testing import factories

        return getattr(factories, name)
    if name == "register":
        from yara_testing.factory_fixtures import register

        return register
    raise AttributeError(f"module 'yara_testing' has no attribute {name!r}")


__all__ = [
    "DatabaseTimeError",
    "LeakedTaskError",
    "ModelFactory",
    "NPlusOneError",
    "QueryCountError",
    "QueryLog",
    "QueryRecord",
    "assert_max_db_time",
    "assert_max_queries",
    "assert_no_nplusone",
    "assert_num_queries",
    "make",
    "record_queries",
    "register",
]
