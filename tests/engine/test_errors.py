"""Errors: each mistake raises an exception of the project's hierarchy that names it."""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
import time

import pytest

from yara_orm import (
    ConfigurationError,
    DatabaseError,
    DBConnectionError,
    Engine,
    IntegrityError,
    InterfaceError,
    ParameterTypeError,
    PoolTimeoutError,
    ProgrammingError,
    YaraError,
    connect,
)

from .conftest import placeholders


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("mysql://localhost/db", '"mysql"'),
        ("localhost:5432", "not a database URL"),
        ("sqlite://", "names no file"),
        ("postgres://h/db?sslmode=verify-full", "sslmode=verify-full"),
        ("postgres://h/db?flavour=mint", '"flavour"'),
        ("postgres://u:secret@h:99999/db", "u:***@h:99999"),
    ],
)
async def test_bad_urls_raise_configuration_error(url: str, named: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        await connect(url)
    assert named in str(info.value)
    assert "secret" not in str(info.value)


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"max_size": 0}, "max_size"),
        ({"max_size": 2, "min_size": 3}, "min_size"),
        ({"acquire_timeout": -1}, "acquire_timeout"),
    ],
)
async def test_bad_options_raise_configuration_error(options: dict[str, int], named: str) -> None:
    with pytest.raises(ConfigurationError, match=named):
        await connect("sqlite://:memory:", **options)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_unreachable_server_names_host_and_port_promptly() -> None:
    port = free_port()
    started = time.monotonic()
    with pytest.raises(DBConnectionError) as info:
        await connect(f"postgres://postgres@127.0.0.1:{port}/postgres", connect_timeout=5)
    assert time.monotonic() - started < 5
    assert f"127.0.0.1:{port}" in str(info.value)
    assert isinstance(info.value, ConnectionError)


@pytest.mark.postgres
async def test_missing_database_is_a_connection_error(pg_url: str) -> None:
    with pytest.raises(DBConnectionError) as info:
        await connect(pg_url.rsplit("/", 1)[0] + "/no_such_database_here")
    assert info.value.sqlstate == "3D000"
    assert "no_such_database_here" in str(info.value)


async def test_unique_violation_carries_sqlstate_and_constraint(
    engine: Engine, backend: str
) -> None:
    await engine.execute_script(
        "CREATE TABLE people (id INTEGER PRIMARY KEY, email TEXT CONSTRAINT people_email UNIQUE)"
    )
    insert = f"INSERT INTO people (id, email) VALUES ({placeholders(backend, 2)})"
    await engine.execute(insert, [1, "a@example.com"])
    with pytest.raises(IntegrityError) as info:
        await engine.execute(insert, [2, "a@example.com"])
    err = info.value
    assert err.sqlstate == "23505"
    assert err.constraint in {"people_email", "people.email"}
    assert err.sql == insert
    assert "SQLSTATE 23505" in str(err)


async def test_not_null_and_foreign_key_violations(engine: Engine, backend: str) -> None:
    await engine.execute_script(
        "CREATE TABLE parent (id INTEGER PRIMARY KEY);"
        "CREATE TABLE child (id INTEGER PRIMARY KEY,"
        " parent_id INTEGER NOT NULL REFERENCES parent(id))"
    )
    insert = f"INSERT INTO child (id, parent_id) VALUES ({placeholders(backend, 2)})"
    with pytest.raises(IntegrityError) as not_null:
        await engine.execute(insert, [1, None])
    assert not_null.value.sqlstate == "23502"
    with pytest.raises(IntegrityError) as foreign:
        await engine.execute(insert, [1, 42])
    assert foreign.value.sqlstate == "23503"


async def test_syntax_error_and_missing_table(engine: Engine) -> None:
    with pytest.raises(ProgrammingError) as syntax:
        await engine.fetch_rows("SELEC 1")
    assert syntax.value.sqlstate == "42601"
    with pytest.raises(ProgrammingError) as missing:
        await engine.fetch_rows("SELECT * FROM no_such_table")
    assert missing.value.sqlstate == "42P01"
    assert "no_such_table" in str(missing.value)


async def test_errors_share_one_hierarchy(engine: Engine) -> None:
    with pytest.raises(YaraError):
        await engine.fetch_rows("SELECT * FROM nowhere")
    assert issubclass(IntegrityError, DatabaseError)


async def test_closed_engine_refuses_work(url: str) -> None:
    engine = await connect(url)
    await engine.close()
    assert engine.is_closed
    with pytest.raises(InterfaceError, match="closed"):
        await engine.fetch_rows("SELECT 1")
    with pytest.raises(InterfaceError, match="closed"):
        await engine.begin()


async def test_exhausted_pool_times_out(url: str, backend: str) -> None:
    engine = await connect(url, max_size=1, acquire_timeout=0.2)
    try:
        tx = await engine.begin()  # holds the only connection
        started = time.monotonic()
        with pytest.raises(PoolTimeoutError, match="max_size"):
            await engine.fetch_rows("SELECT 1")
        assert 0.15 < time.monotonic() - started < 2
        await tx.rollback()
        assert await engine.fetch_rows("SELECT 1") == [(1,)]
    finally:
        await engine.close()


async def test_many_concurrent_statements_share_a_small_pool(url: str, backend: str) -> None:
    engine = await connect(url, max_size=2)
    try:
        sql = "SELECT $1::int" if backend == "postgres" else "SELECT ?"
        results = await asyncio.gather(*(engine.fetch_rows(sql, [i]) for i in range(200)))
        assert [rows[0][0] for rows in results] == list(range(200))
        assert engine.pool_status()["size"] <= 2
    finally:
        await engine.close()


async def test_sql_no_database_could_read_is_refused_clearly(engine: Engine) -> None:
    # SQLite would silently ignore everything after a NUL; PostgreSQL refuses it obscurely.
    with pytest.raises(InterfaceError, match="NUL character"):
        await engine.fetch_rows("SELECT 1\x00; SELECT 2")
    with pytest.raises(InterfaceError, match="not valid Unicode"):
        await engine.fetch_rows("SELECT '\ud800'")
    assert await engine.fetch_rows("SELECT 1") == [(1,)]


async def test_savepoint_names_no_database_accepts_are_refused(engine: Engine) -> None:
    tx = await engine.begin()
    for bad in ("", "a\x00b"):
        with pytest.raises(InterfaceError, match="savepoint name"):
            await tx.savepoint(bad)
    await tx.savepoint('odd "name"; --')
    await tx.rollback_to('odd "name"; --')
    await tx.rollback()


async def test_a_timedelta_too_large_for_sqlite_is_a_parameter_error() -> None:
    engine = await connect("sqlite://:memory:")
    try:
        await engine.execute_script("CREATE TABLE iv (d INTERVAL)")
        with pytest.raises(ParameterTypeError, match="too large"):
            await engine.execute("INSERT INTO iv VALUES (?)", [dt.timedelta(days=106751992)])
        await engine.execute("INSERT INTO iv VALUES (?)", [dt.timedelta(days=3)])
        assert await engine.fetch_rows("SELECT d FROM iv") == [(dt.timedelta(days=3),)]
    finally:
        await engine.close()
