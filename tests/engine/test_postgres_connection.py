"""PostgreSQL-specific connection behaviour: sockets, the statement cache, schema changes."""

from __future__ import annotations

import os
from urllib.parse import urlsplit

import pytest

from yara_orm import connect

pytestmark = pytest.mark.postgres

SOCKET_DIR = "/var/run/postgresql"
HAS_LOCAL_SOCKET = os.path.isdir(SOCKET_DIR)


async def test_unix_socket_url(pg_url: str) -> None:
    parts = urlsplit(pg_url)
    if parts.hostname not in {"127.0.0.1", "localhost"} or not HAS_LOCAL_SOCKET:
        pytest.skip("the test server is not local, so its socket is not reachable")
    engine = await connect(f"postgres://{parts.username}@{parts.path}?host={SOCKET_DIR}")
    try:
        rows = await engine.fetch_rows("SELECT current_database(), inet_server_addr() IS NULL")
        assert rows == [(parts.path.lstrip("/"), True)]  # no server address: it is a socket
    finally:
        await engine.close()


@pytest.mark.parametrize("statement_cache", [True, False])
async def test_schema_change_under_a_prepared_statement(pg_url: str, statement_cache: bool) -> None:
    engine = await connect(pg_url, max_size=1, statement_cache=statement_cache)
    try:
        await engine.execute_script("DROP TABLE IF EXISTS shifting; CREATE TABLE shifting (a int)")
        await engine.execute("INSERT INTO shifting VALUES (1)")
        assert await engine.fetch_rows("SELECT * FROM shifting") == [(1,)]
        await engine.execute_script("ALTER TABLE shifting ADD COLUMN b text DEFAULT 'x'")
        # A cached plan of `SELECT *` changes its result type: the engine re-prepares once.
        assert await engine.fetch_rows("SELECT * FROM shifting") == [(1, "x")]
    finally:
        await engine.execute_script("DROP TABLE IF EXISTS shifting")
        await engine.close()
