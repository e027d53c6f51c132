"""What the test toolkit costs (ours only): the `yara_db` fixture per test, provisioning a local
PostgreSQL cluster, and the query recorder.

Called by run.py, which runs pytest and the recorder loop with the ours environment's Python;
`python toolkit.py recorder --url URL` is that loop, run inside that environment.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

PARTS = ["test_overhead", "provisioning", "recorder"]
SIZES = {
    "full": {"tests": 300, "provisionings": 3, "gets": 1000, "rounds": 15},
    "quick": {"tests": 50, "provisionings": 1, "gets": 200, "rounds": 3},
}
PYTEST_TIMEOUT = 900

MODELS = """\
from yara_orm import Model, fields


class Shelf(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=100)
"""

INI = """\
[pytest]
yara_models = bench_models
yara_db_name = bench_toolkit
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
"""

# Sums setup + call + teardown per test, and notes when the first test body starts.
CONFTEST = """\
import json
import os
import time
from pathlib import Path

durations = {}
first_call = []


def pytest_runtest_logreport(report):
    durations[report.nodeid] = durations.get(report.nodeid, 0.0) + report.duration


def pytest_runtest_call(item):
    if not first_call:
        first_call.append(time.time())


def pytest_sessionfinish(session):
    out = {"durations": durations, "first_call": first_call[0] if first_call else None}
    Path(os.environ["BENCH_OUT"]).write_text(json.dumps(out))
"""


def with_database(url: str, database: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{database}"))


def make_project(directory: Path, tests: int) -> Path:
    """`tests` empty async tests that ask for `yara_db`, and as many that do not, alternating
    in one module (so a drift of the machine's speed during the run touches both alike)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "pytest.ini").write_text(INI)
    (directory / "bench_models.py").write_text(MODELS)
    (directory / "conftest.py").write_text(CONFTEST)
    pairs = "".join(
        f"\n\nasync def test_with_{i}(yara_db):\n    pass\n"
        f"\n\nasync def test_without_{i}():\n    pass\n"
        for i in range(tests)
    )
    for stale in directory.glob("test_*.py"):
        stale.unlink()
    (directory / "test_overhead.py").write_text(pairs.lstrip())
    return directory


def run_pytest(python: Path, project: Path, *options: str) -> dict[str, Any]:
    """Run pytest in `project`; its durations, first-test time and output."""
    out = project / "durations.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("YARA_", "PYTEST_"))}
    env["BENCH_OUT"] = str(out)
    command = [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", *options]
    started = time.time()
    done = subprocess.run(
        command, cwd=project, env=env, capture_output=True, text=True, timeout=PYTEST_TIMEOUT
    )
    wall = time.time() - started
    if done.returncode != 0:
        tail = "\n".join(done.stdout.strip().splitlines()[-10:])
        raise RuntimeError(f"pytest {' '.join(options)} failed ({done.returncode}):\n{tail}")
    data = json.loads(out.read_text())
    data["wall_s"] = wall
    data["first_test_s"] = data["first_call"] - started if data["first_call"] else None
    data["stdout"] = done.stdout
    return data


def test_overhead(python: Path, project: Path, backend: str, pg_url: str) -> dict[str, Any]:
    """The median per-test time (setup + call + teardown) with `yara_db` minus without."""
    options = ["--yara-db=sqlite"]
    if backend == "postgres":
        options = ["--yara-db=postgres", f"--yara-db-url={pg_url}"]
    data = run_pytest(python, project, *options)
    with_db = [d for n, d in data["durations"].items() if "test_with_" in n]
    without = [d for n, d in data["durations"].items() if "test_without_" in n]
    with_ms = statistics.median(with_db) * 1000
    without_ms = statistics.median(without) * 1000
    return {
        "tests": len(with_db),
        "with_ms": with_ms,
        "without_ms": without_ms,
        "overhead_ms": with_ms - without_ms,
        "wall_s": data["wall_s"],
    }


def pg_binaries() -> str | None:
    """The directory of `initdb`, as the plugin would find it on PATH (symlinks resolved)."""
    initdb = shutil.which("initdb")
    if initdb:
        return str(Path(initdb).resolve().parent)
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return str(found[-1].parent) if found else None


def provisioning(python: Path, project: Path, repeats: int) -> dict[str, Any]:
    """A local cluster from the PostgreSQL binaries (`--yara-pg-bin`, so testcontainers is not
    tried): the plugin's own provisioning and schema figures, and start-to-first-test time."""
    binaries = pg_binaries()
    if binaries is None:
        return {"error": "no PostgreSQL server binaries (initdb) found"}
    runs = []
    baseline = []  # start to first test on in-memory SQLite: what is not provisioning
    for _ in range(repeats):
        baseline.append(run_pytest(python, project, "--yara-db=sqlite")["first_test_s"])
        data = run_pytest(python, project, "--yara-db=postgres", f"--yara-pg-bin={binaries}")
        found = re.search(r"provisioning ([\d.]+)s, schema ([\d.]+)s", data["stdout"])
        if not found:
            return {"error": "the plugin printed no provisioning line"}
        runs.append((float(found[1]), float(found[2]), data["first_test_s"], data["wall_s"]))
    return {
        "binaries": binaries,
        "runs": len(runs),
        "provisioning_s": statistics.median(r[0] for r in runs),
        "schema_s": statistics.median(r[1] for r in runs),
        "first_test_s": statistics.median(r[2] for r in runs),
        "first_test_sqlite_s": statistics.median(baseline),
        "wall_s": statistics.median(r[3] for r in runs),
    }


def recorder(python: Path, url: str, gets: int, rounds: int) -> dict[str, Any]:
    command = [str(python), __file__, "recorder", "--url", url]
    command += ["--gets", str(gets), "--rounds", str(rounds)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=PYTEST_TIMEOUT)
    if done.returncode != 0:
        raise RuntimeError(f"the recorder loop failed:\n{done.stderr.strip()[-2000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def measure(
    python: Path, pg_url: str, backends: list[str], parts: list[str], quick: bool, scratch: str
) -> dict[str, Any]:
    """Every part asked for, on every backend asked for; a part that fails says why."""
    sizes = SIZES["quick" if quick else "full"]
    admin_url = with_database(pg_url, "postgres")  # the plugin makes its own database there
    results: dict[str, Any] = {}
    tasks = {
        "test_overhead": lambda b: test_overhead(
            python, make_project(Path(scratch) / "overhead", sizes["tests"]), b, admin_url
        ),
        "recorder": lambda b: recorder(
            python,
            pg_url if b == "postgres" else f"sqlite://{scratch}/toolkit.db",
            sizes["gets"],
            sizes["rounds"],
        ),
    }
    for part in parts:
        print(f"toolkit: {part}", flush=True, file=sys.stderr)
        try:
            if part == "provisioning":
                if "postgres" in backends:
                    project = make_project(Path(scratch) / "provisioning", 1)
                    results[part] = provisioning(python, project, sizes["provisionings"])
                continue
            results[part] = {b: tasks[part](b) for b in backends}
        except (RuntimeError, subprocess.TimeoutExpired) as error:
            results[part] = {"error": str(error).splitlines()[0]}
            print(str(error), file=sys.stderr)
    return results


async def recorder_loop(url: str, gets: int, rounds: int) -> dict[str, Any]:
    """`get(pk)` x`gets` without and inside `record_queries()`, in blocks of a twentieth
    alternating, `rounds` times over: the overhead is the median ratio of neighbouring blocks
    (a drift of the machine's speed touches both alike), the times medians scaled to `gets`."""
    from yara_orm import Model, YaraOrm, fields
    from yara_testing import record_queries

    class Shelf(Model):
        id = fields.IntField(primary_key=True)
        name = fields.CharField(max_length=100)
        books = fields.IntField()

        class Meta:
            table = "toolkit_shelf"

    await YaraOrm.init(url, models=[Shelf])
    await YaraOrm.generate_schemas()
    await Shelf.all().delete()
    await Shelf.bulk_create([Shelf(name=f"Shelf {i}", books=i) for i in range(100)])
    ids = list(await Shelf.all().values_list("id", flat=True))
    blocks = 20
    block = max(1, gets // blocks)

    async def plain() -> None:
        for i in range(block):
            await Shelf.get(id=ids[i % len(ids)])

    async def recorded() -> None:
        with record_queries() as log:
            await plain()
        assert len(log) == block, f"the recorder saw {len(log)} of {block} queries"

    async def timed(fn: Any) -> float:
        started = time.perf_counter()
        await fn()
        return time.perf_counter() - started

    await plain()
    await recorded()
    samples: dict[str, list[float]] = {"plain": [], "recorded": []}
    ratios = []
    gc.collect()
    for r in range(rounds * blocks):
        if r % 2 == 0:
            without, with_ = await timed(plain), await timed(recorded)
        else:
            with_, without = await timed(recorded), await timed(plain)
        samples["plain"].append(without)
        samples["recorded"].append(with_)
        ratios.append(with_ / without)
    await Shelf.all().delete()
    await YaraOrm.close()
    return {
        "gets": gets,
        "rounds": rounds,
        "without_ms": statistics.median(samples["plain"]) * blocks * 1000,
        "with_ms": statistics.median(samples["recorded"]) * blocks * 1000,
        "overhead_pct": (statistics.median(ratios) - 1) * 100,
    }


if __name__ == "__main__":
    options = argparse.ArgumentParser(description=__doc__)
    options.add_argument("mode", choices=["recorder"])
    options.add_argument("--url", required=True)
    options.add_argument("--gets", type=int, default=1000)
    options.add_argument("--rounds", type=int, default=15)
    args = options.parse_args()
    print(json.dumps(asyncio.run(recorder_loop(args.url, args.gets, args.rounds))))
