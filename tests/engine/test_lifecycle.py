"""Closing an engine: it ends what is open and leaves nothing behind."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from yara_orm import Engine, InterfaceError, connect

from .conftest import placeholders


async def test_closing_a_sqlite_file_engine_removes_its_wal_files(tmp_path: Path) -> None:
    # As sqlite3 does when its last connection closes: checkpoint, then remove -wal and -shm.
    engine = await connect(f"sqlite:///{tmp_path / 'app.db'}", min_size=2)
    await engine.execute_script("CREATE TABLE t (x INTEGER)")
    await asyncio.gather(*(engine.execute("INSERT INTO t VALUES (1)") for _ in range(8)))
    tx = await engine.begin()
    await tx.execute("INSERT INTO t VALUES (2)")
    await tx.commit()
    assert (tmp_path / "app.db-wal").exists()
    await engine.close()
    assert sorted(os.listdir(tmp_path)) == ["app.db"]
    reopened = await connect(f"sqlite:///{tmp_path / 'app.db'}")
    assert await reopened.fetch_rows("SELECT count(*) FROM t") == [(9,)]
    await reopened.close()


async def test_close_rolls_back_open_transactions(url: str, backend: str, tmp_path: Path) -> None:
    if backend == "sqlite":  # a file, so a second engine can look
        url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    engine = await connect(url)
    await engine.execute_script("DROP TABLE IF EXISTS t; CREATE TABLE t (x INTEGER)")
    tx = await engine.begin()
    await tx.execute(f"INSERT INTO t (x) VALUES ({placeholders(backend, 1)})", [1])
    await engine.close()
    for late in (tx.commit, tx.rollback, lambda: tx.execute("SELECT 1")):
        with pytest.raises(InterfaceError, match="closed"):
            await late()
    other = await connect(url)
    try:
        assert await other.fetch_rows("SELECT count(*) FROM t") == [(0,)]
    finally:
        await other.close()


async def test_every_call_after_close_is_an_interface_error(engine: Engine) -> None:
    await engine.close()
    with pytest.raises(InterfaceError, match="closed"):
        await engine.fetch_rows("SELECT 1")
    with pytest.raises(InterfaceError, match="closed"):
        await engine.begin()
    assert engine.is_closed
