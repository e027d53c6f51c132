"""ORM fixtures: the test models initialised on a clean database, for each backend."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.conftest import reset_public_schema
from yara_orm import YaraOrm

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


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
    await YaraOrm.init(url, models=["tests.orm.models"])
    await YaraOrm.generate_schemas()
    try:
        yield backend
    finally:
        await YaraOrm.close()
