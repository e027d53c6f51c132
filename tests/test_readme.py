"""The README's examples run: its Python blocks, and the Quickstart's main job."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def runnable_blocks() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)
    return [block for block in blocks if "asyncio.run(main())" in block]


def test_readme_has_runnable_examples() -> None:
    assert len(runnable_blocks()) >= 2


@pytest.mark.parametrize("index", range(len(runnable_blocks())))
def test_readme_example_runs(index: int) -> None:
    subprocess.run([sys.executable, "-c", runnable_blocks()[index]], check=True, timeout=60)


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
