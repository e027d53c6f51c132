"""Fixtures for the Tortoise-surface tests: this package's models initialised on a clean
database, for each backend (`db_url` and `initialised()` of `tests/orm/conftest.py`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from tests.orm.conftest import initialised
from yara_orm import signals

MODELS = "tests.orm.surface.models"


@pytest.fixture
async def orm(backend: str, db_url: str) -> AsyncIterator[str]:
    async with initialised(db_url, MODELS):
        yield backend


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
