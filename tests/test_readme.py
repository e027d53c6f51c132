"""The README's examples run: its first Python block, and the Quickstart's main job."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def python_blocks() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)


def test_first_engine_example_runs() -> None:
    code = python_blocks()[0]
    assert "asyncio.run(main())" in code
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_quickstart_main_job_runs() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "quickstart.py")],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "inserted 1000 books" in result.stdout
    assert "after leaving isolation: 1000 books, 3 authors (all restored)" in result.stdout
