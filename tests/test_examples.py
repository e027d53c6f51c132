"""The main job: the bookshop example's own suite passes, on both backends, and shows the
query report."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BOOKSHOP = ROOT / "examples" / "bookshop"


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_bookshop_suite_passes(backend: str) -> None:
    command = [sys.executable, "-m", "pytest", str(BOOKSHOP), "-p", "no:cacheprovider"]
    if backend == "postgres":
        url = os.environ.get("YARA_TEST_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")
        command += ["--yara-db=postgres", f"--yara-db-url={url}"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "yara query report" in result.stdout
    assert "N+1: Book.author was loaded lazily for 5 of 5 Book instances" in result.stdout
    assert f"yara: {backend} database" in result.stdout
    # At a simulated 5 ms per round trip, the N+1 waits once per book, its fixed twin once.
    assert "waiting on the database at the simulated latency:" in result.stdout
    assert re.search(
        r"30\.0 ms over +6 queries +\S+::test_with_latency_the_n_plus_one", result.stdout
    )
    assert re.search(r" 5\.0 ms over +1 queries +\S+::test_with_latency_the_fixed", result.stdout)
    # The ini's yara_report_html, relative to the bookshop wherever pytest was started from.
    page = BOOKSHOP / "yara-report.html"
    assert f"HTML report written to {page}" in result.stdout
    assert "test_orders.py::" in page.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_fastapi_example_suite_never_touches_the_apps_database(
    backend: str, tmp_path: Path
) -> None:
    # The README's "Testing a FastAPI app": the app's lifespan initialises the ORM on
    # sqlite:///notes.db (relative to the working directory), which must never appear.
    command = [
        sys.executable,
        "-m",
        "pytest",
        str(ROOT / "examples" / "fastapi_notes"),
        "-p",
        "no:cacheprovider",
        "--rootdir",
        str(ROOT / "examples" / "fastapi_notes"),
    ]
    if backend == "postgres":
        url = os.environ.get("YARA_TEST_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")
        command += ["--yara-db=postgres", f"--yara-db-url={url}"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "5 passed" in result.stdout
    assert "YaraOrm.init(sqlite:///notes.db) was redirected" in result.stdout
    assert list(tmp_path.iterdir()) == []
