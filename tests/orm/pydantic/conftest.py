"""Fixtures for the pydantic tests: this package's models initialised on a clean database, for
each backend (the pattern of `tests/orm/conftest.py`)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.conftest import reset_public_schema
from yara_orm import YaraOrm

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
MODELS = "tests.orm.pydantic.models"
#: A zone with a fixed offset, so serialised datetimes are predictable.
TIMEZONE = "Asia/Kolkata"


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def db_url(backend: str, request: pytest.FixtureRequest) -> str:
    """An empty database of the backend."""
    if backend == "sqlite":
        return "sqlite://:memory:"
    url = str(request.getfixturevalue("pg_url"))
    await reset_public_schema(url)
    return url


@pytest.fixture
async def orm(backend: str, db_url: str) -> AsyncIterator[str]:
    await YaraOrm.init(db_url, models=[MODELS], timezone=TIMEZONE)
    await YaraOrm.generate_schemas()
    try:
        yield backend
    finally:
        await YaraOrm.close()
