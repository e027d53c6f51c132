"""Fixtures for the Tortoise-surface tests: this package's models initialised on a clean
database, for each backend (the pattern of `tests/orm/conftest.py`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from tests.conftest import reset_public_schema
from yara_orm import YaraOrm, signals

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
MODELS = "tests.orm.surface.models"


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def orm(backend: str, request: pytest.FixtureRequest) -> AsyncIterator[str]:
    if backend == "sqlite":
        url = "sqlite://:memory:"
    else:
        url = str(request.getfixturevalue("pg_url"))
        await reset_public_schema(url)
    await YaraOrm.init(url, models=[MODELS])
    await YaraOrm.generate_schemas()
    try:
        yield backend
    finally:
        await YaraOrm.close()


@pytest.fixture
async def db_url(backend: str, request: pytest.FixtureRequest) -> str:
    """An empty database of the backend, for tests that initialise the ORM themselves."""
    if backend == "sqlite":
        return "sqlite://:memory:"
    url = str(request.getfixturevalue("pg_url"))
    await reset_public_schema(url)
    return url


@pytest.fixture
def restore_signals() -> Iterator[None]:
    """Signal handlers are registered process-wide: drop the ones a test adds."""
    saved = {
        signal: {m: list(h) for m, h in by_model.items()}
        for signal, by_model in signals._handlers.items()
    }
    try:
        yield
    finally:
        signals._handlers.clear()
        signals._handlers.update(saved)
