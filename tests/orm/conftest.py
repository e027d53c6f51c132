"""ORM fixtures: the test models initialised on a clean database, for each backend. The test
packages below (surface, pydantic) and single modules with models of their own use `db_url`
and `initialised()` with their own models."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.conftest import reset_public_schema
from yara_orm import YaraOrm

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def db_url(backend: str, request: pytest.FixtureRequest) -> str:
    """An empty database of the backend, for tests that initialise the ORM themselves."""
    if backend == "sqlite":
        return "sqlite://:memory:"
    url = str(request.getfixturevalue("pg_url"))
    await reset_public_schema(url)
    return url


@contextlib.asynccontextmanager
async def initialised(url: str, models: str, **options: Any) -> AsyncIterator[None]:
    """The ORM on `url` with `models`' tables created, closed on exit."""
    await YaraOrm.init(url, models=[models], **options)
    await YaraOrm.generate_schemas()
    try:
        yield
    finally:
        await YaraOrm.close()


@pytest.fixture
async def orm(backend: str, db_url: str) -> AsyncIterator[str]:
    async with initialised(db_url, "tests.orm.models"):
        yield backend
