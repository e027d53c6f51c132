"""Engine fixtures: each test gets an engine on a clean database, for each backend."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from yara_orm import Engine, connect

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def url(backend: str, request: pytest.FixtureRequest) -> str:
    if backend == "sqlite":
        return "sqlite://:memory:"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
async def engine(url: str, backend: str) -> AsyncIterator[Engine]:
    eng = await connect(url)
    if backend == "postgres":
        # Every test starts from an empty schema.
        await eng.execute_script("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    try:
        yield eng
    finally:
        await eng.close()


def placeholders(backend: str, count: int) -> str:
    """`$1, $2` for PostgreSQL, `?, ?` for SQLite."""
    if backend == "postgres":
        return ", ".join(f"${i}" for i in range(1, count + 1))
    return ", ".join("?" for _ in range(count))
