"""Fixtures for the pydantic tests: this package's models initialised on a clean database, for
each backend (`db_url` and `initialised()` of `tests/orm/conftest.py`)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.orm.conftest import initialised

MODELS = "tests.orm.pydantic.models"
#: A zone with a fixed offset, so serialised datetimes are predictable.
TIMEZONE = "Asia/Kolkata"


@pytest.fixture
async def orm(backend: str, db_url: str) -> AsyncIterator[str]:
    async with initialised(db_url, MODELS, timezone=TIMEZONE):
        yield backend
