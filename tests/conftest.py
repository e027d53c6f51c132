"""Shared test set-up: the PostgreSQL server the suite may use.

The server is found through ``YARA_TEST_PG_URL``; the suite creates a database of its own
on it (and drops it at the end), so it never touches existing data.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from yara_orm import connect

DEFAULT_PG_URL = "postgres://postgres@127.0.0.1:5432/postgres"


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


async def _admin(url: str, *statements: str) -> None:
    engine = await connect(url, max_size=1)
    try:
        for sql in statements:  # one by one: CREATE DATABASE refuses to share a transaction
            await engine.execute_script(sql)
    finally:
        await engine.close()


def _run(coroutine: Coroutine[Any, Any, None]) -> None:
    """Run a coroutine to completion even when asked from inside a running loop (an async
    fixture may be the first to need the database)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, coroutine).result()


@pytest.fixture(scope="session")
def pg_url(worker_id: str) -> Iterator[str]:
    """A fresh PostgreSQL database for this test session (one per xdist worker)."""
    admin_url = os.environ.get("YARA_TEST_PG_URL", DEFAULT_PG_URL)
    name = f"yara_engine_tests_{os.getpid()}_{worker_id}"
    _run(_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}"'))
    try:
        yield _with_database(admin_url, name)
    finally:
        _run(_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def reset_public_schema(url: str) -> None:
    """Start a test from an empty PostgreSQL schema."""
    engine = await connect(url)
    try:
        await engine.execute_script("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    finally:
        await engine.close()


@pytest.fixture(scope="session")
def worker_id(request: pytest.FixtureRequest) -> str:
    """xdist's worker name, or "main" without xdist."""
    workerinput = getattr(request.config, "workerinput", None)
    return workerinput["workerid"] if workerinput else "main"
