"""os.fork(): the child connects afresh and works; an engine inherited from the parent says to
connect again; the parent's connections are untouched by whatever the child does."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SCRIPT = textwrap.dedent(
    """
    import asyncio, os, sys
    from yara_orm import InterfaceError, YaraOrm, Model, connect, fields

    URL = sys.argv[1]

    class Item(Model):
        name = fields.CharField(max_length=20)

    async def parent_before():
        engine = await connect(URL)
        await engine.execute_script("DROP TABLE IF EXISTS forked; CREATE TABLE forked (x INT)")
        await engine.fetch_rows("SELECT 1")
        await YaraOrm.init(URL)
        await YaraOrm.generate_schemas()
        return engine

    async def child(inherited):
        try:
            await inherited.fetch_rows("SELECT 1")
            return "inherited engine worked"
        except InterfaceError as error:
            assert "before os.fork()" in str(error), error
        try:
            await Item.all().count()
            return "inherited ORM worked"
        except InterfaceError:
            pass
        await inherited.close()  # harmless: the parent's connections stay the parent's
        fresh = await connect(URL)
        await fresh.execute("INSERT INTO forked (x) VALUES (1)")
        await fresh.close()
        await YaraOrm.init(URL)  # the ORM re-initialised in the child works too
        await Item.all().count()
        await YaraOrm.close()
        return "ok"

    async def parent_after(engine):
        # Still working, on the same pooled connections, after the child used and closed its own.
        rows = await engine.fetch_rows("SELECT count(*) FROM forked")
        await Item.all().count()
        await YaraOrm.close()
        await engine.close()
        return rows

    engine = asyncio.run(parent_before())
    pid = os.fork()
    if pid == 0:
        outcome = asyncio.run(asyncio.wait_for(child(engine), 20))
        print("child:", outcome, flush=True)
        os._exit(0 if outcome == "ok" else 1)
    _, status = os.waitpid(pid, 0)
    print("child exit:", os.waitstatus_to_exitcode(status), flush=True)
    print("parent rows:", asyncio.run(parent_after(engine)), flush=True)
    """
)


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_fork_child_connects_afresh_and_the_parent_is_untouched(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'fork.db'}"
    else:
        url = str(request.getfixturevalue("pg_url"))
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, url],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONWARNINGS": "ignore::DeprecationWarning"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "child: ok" in result.stdout, result.stdout + result.stderr
    assert "child exit: 0" in result.stdout
    assert "parent rows: [(1,)]" in result.stdout
