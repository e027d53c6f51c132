"""What the benchmark scripts share: medians after a warm-up, and the common options."""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Awaitable, Callable

DEFAULT_PG_URL = "postgres://postgres@127.0.0.1:5432/postgres"


async def median_async(fn: Callable[[], Awaitable[object]], repeat: int) -> float:
    """The median duration of `repeat` awaited calls, after one warm-up call."""
    await fn()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        await fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def median_sync(fn: Callable[[], object], repeat: int) -> float:
    fn()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def parser(description: str | None, rows: int, repeat: int) -> argparse.ArgumentParser:
    """--rows, --repeat and --pg-url (default YARA_TEST_PG_URL or the local server)."""
    options = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    options.add_argument("--rows", type=int, default=rows)
    options.add_argument("--repeat", type=int, default=repeat)
    options.add_argument("--pg-url", default=os.environ.get("YARA_TEST_PG_URL", DEFAULT_PG_URL))
    return options
