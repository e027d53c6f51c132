"""Connections that die: idle ones killed by the server are healed without the user seeing it;
a statement or transaction cut mid-way fails with DBConnectionError and commits nothing."""

from __future__ import annotations

import asyncio
import subprocess
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from yara_orm import DBConnectionError, Engine, connect

pytestmark = pytest.mark.postgres


def _tagged(url: str, name: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}application_name={name}"


@pytest.fixture
async def victim(pg_url: str) -> AsyncIterator[tuple[Engine, Engine, str]]:
    """A pool whose sessions carry a unique application name, and an admin engine to kill them."""
    name = f"victim_{uuid.uuid4().hex[:8]}"
    engine = await connect(_tagged(pg_url, name), max_size=10, min_size=10)
    admin = await connect(pg_url, max_size=1)
    try:
        yield engine, admin, name
    finally:
        await engine.close()
        await admin.close()


async def _terminate(admin: Engine, name: str, state: str | None = None) -> int:
    sql = (
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1"
    )
    params: list[object] = [name]
    if state is not None:
        sql += " AND state = $2"
        params.append(state)
    return int((await admin.fetch_rows(sql, params))[0][0])


async def test_killed_idle_connections_never_reach_the_user(
    victim: tuple[Engine, Engine, str],
) -> None:
    engine, admin, name = victim
    failures: list[str] = []
    for _ in range(3):
        # Every pooled connection in use once, then idle, then killed by the server.
        await asyncio.gather(*(engine.fetch_rows("SELECT pg_sleep(0.01)") for _ in range(10)))
        assert await _terminate(admin, name) == 10
        for i in range(100):
            try:
                assert await engine.fetch_rows("SELECT $1::int", [i]) == [(i,)]
            except DBConnectionError as error:
                failures.append(str(error).splitlines()[0])
    assert failures == []


async def test_a_statement_in_flight_when_its_session_dies_fails_in_a_transaction(
    victim: tuple[Engine, Engine, str],
) -> None:
    engine, admin, name = victim
    await engine.execute_script("DROP TABLE IF EXISTS cut; CREATE TABLE cut (x INTEGER)")
    tx = await engine.begin()
    await tx.execute("INSERT INTO cut VALUES (1)")
    running = asyncio.ensure_future(tx.fetch_rows("SELECT pg_sleep(5)"))
    for _ in range(100):
        if await _terminate(admin, name, "active"):
            break
        await asyncio.sleep(0.01)
    with pytest.raises(DBConnectionError):
        await running
    with pytest.raises(DBConnectionError):
        await tx.commit()
    # Never committed; the pool goes on with fresh connections.
    assert await engine.fetch_rows("SELECT count(*) FROM cut") == [(0,)]


def _pg_ctl(url: str, *args: str) -> None:
    from yara_testing.provisioning import _as_server_user, _find_binaries

    directory = Path(parse_qs(urlsplit(url).query)["host"][0])
    # -l: a log file, or the restarted server would hold pg_ctl's output pipes open.
    command = [
        str(_find_binaries() / "pg_ctl"),
        "-D",
        str(directory / "data"),
        "-l",
        str(directory / "log"),
        *args,
    ]
    subprocess.run(_as_server_user(command), check=True, capture_output=True, timeout=60)


async def test_a_server_restart_heals_the_pool_and_fails_only_statements_in_flight() -> None:
    from yara_testing.provisioning import _local_binaries, _Unavailable

    try:
        url, stop = await asyncio.to_thread(_local_binaries, False)
    except _Unavailable as why:
        pytest.fail(f"the test needs the PostgreSQL server binaries: {why}")
    engine = await connect(url, max_size=4, min_size=4)
    try:
        await engine.execute_script("CREATE TABLE beat (x INTEGER)")
        results: list[str] = []

        async def worker() -> None:
            for _ in range(60):
                try:
                    await engine.execute("INSERT INTO beat SELECT 1 FROM pg_sleep(0.02)")
                    results.append("ok")
                except DBConnectionError:
                    results.append("lost")
                await asyncio.sleep(0.005)

        workers = [asyncio.create_task(worker()) for _ in range(4)]
        await asyncio.sleep(0.2)
        await asyncio.to_thread(_pg_ctl, url, "-m", "fast", "-w", "restart")
        await asyncio.gather(*workers)
        # Only statements in flight (or issued while the server was down) failed...
        assert results.count("lost") <= len(results) // 2, results
        # ...and with no action from the user, the pool works again.
        for i in range(20):
            assert await engine.fetch_rows("SELECT $1::int", [i]) == [(i,)]
        status = engine.pool_status()
        assert status["idle"] == status["size"], status
    finally:
        await engine.close()
        await asyncio.to_thread(stop)


async def test_connect_timeout_bounds_a_server_that_never_answers() -> None:
    # A listener that accepts connections and then says nothing at all.
    accepted: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        with pytest.raises(DBConnectionError, match="timed out"):
            await connect(f"postgres://postgres@127.0.0.1:{port}/x", connect_timeout=0.5)
        # The number given, not the number plus a margin (it used to take 1.5 s).
        assert loop.time() - started < 1.2
        assert accepted
    finally:
        for writer in accepted:
            writer.close()
        server.close()
        await server.wait_closed()
