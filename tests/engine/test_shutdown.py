"""Interpreter exit while results are being delivered: no crash, no hang.

CPython kills any thread that takes the GIL once finalization has begun; for a thread running
Rust that kill is a forced unwind, which aborts the process. The engine counts the threads
delivering results and makes interpreter exit wait for them.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

SCRIPTS = {
    "awaited then exit": """
import asyncio
from yara_orm import connect

async def main():
    engine = await connect("sqlite://:memory:")
    await engine.execute_script("CREATE TABLE t (x INTEGER)")
    await engine.fetch_rows("SELECT * FROM t")
    await engine.close()

asyncio.run(main())
""",
    "results in flight at exit": """
import asyncio
from yara_orm import connect

QUERY = (
    "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 20000) "
    "SELECT n FROM c"
)

async def main():
    engine = await connect("sqlite://:memory:")
    pending = [engine.fetch_rows(QUERY) for _ in range(20)]
    await asyncio.sleep(0.001)

asyncio.run(main())
""",
}


@pytest.mark.parametrize("scenario", sorted(SCRIPTS))
def test_exit_is_clean(scenario: str) -> None:
    for _ in range(15):
        result = subprocess.run(
            [sys.executable, "-c", SCRIPTS[scenario]], capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, (result.returncode, result.stderr[-2000:])
