"""The benchmark suite: yara-orm against yara-orm 1.19.1, Tortoise ORM and the raw drivers.

    python benchmarks/suite/run.py [--backend sqlite|postgres|both] [--rounds 5] [--quick]
        [--only op1,op2] [--contenders ours,raw] [--rebuild-ours] [--pg-url URL]

Each contender runs in its own virtual environment (made once, under benchmarks/.venvs/) and
in a process of its own per round; the contenders take turns, in a rotated order each round.
The medians of the rounds, and ours / contender ratios of the same run, go to
benchmarks/results/latest.{json,md,png} (quick.* for --quick). See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "contenders"))

import report  # noqa: E402 - the suite's own modules, beside this file
import toolkit  # noqa: E402
from common import OPERATION_NAMES, SIZES  # noqa: E402

BENCHMARKS = HERE.parent
REPO = BENCHMARKS.parent
VENVS = BENCHMARKS / ".venvs"
RESULTS = BENCHMARKS / "results"
DEFAULT_PG_URL = "postgres://postgres@127.0.0.1:5432/bench_suite"

# name: (script, what pip installs). "ours" also gets the testing extra for the toolkit part.
CONTENDERS: dict[str, tuple[str, list[str]]] = {
    "ours": ("ours.py", [f"{REPO}[testing]"]),
    "yara_1_19": ("yara_1_19.py", ["yara-orm==1.19.1"]),
    "tortoise": ("tortoise_orm.py", ["tortoise-orm[asyncpg]==1.1.9", "aiosqlite"]),
    "raw": ("raw.py", ["asyncpg"]),
}
CONTENDER_TIMEOUT = 1200  # seconds for one contender's process: a hung one must not stop all


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def python_of(name: str) -> Path:
    return VENVS / name / "bin" / "python"


def source_state() -> str:
    """The commit of the working tree ours is built from, and whether it had local changes."""

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "--no-optional-locks", "-C", str(REPO), *args],
            capture_output=True,
            text=True,
        )
        return done.stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    return commit + (" with uncommitted changes" if git("status", "--porcelain") else "")


def ensure_venv(name: str, rebuild_ours: bool) -> dict[str, Any]:
    """Make the contender's environment unless one with the same install list exists."""
    venv = VENVS / name
    marker = venv / ".installed.json"
    install = CONTENDERS[name][1]
    known = json.loads(marker.read_text()) if marker.exists() else None
    if known and known.get("install") == install and python_of(name).exists():
        if not (name == "ours" and rebuild_ours):
            return known
        log("reinstalling ours from the working tree (release build)")
        pip = [str(python_of(name)), "-m", "pip", "install", "-q"]
        subprocess.run([*pip, "--force-reinstall", "--no-deps", str(REPO)], check=True)
    else:
        log(f"creating {venv} ({' '.join(install)}); the ours build takes minutes")
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = [str(python_of(name)), "-m", "pip", "install", "-q"]
        subprocess.run([*pip, "--upgrade", "pip"], check=True)
        subprocess.run([*pip, *install], check=True)
    known = {"install": install, "installed": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    if name == "ours":
        known["source"] = source_state()
    marker.write_text(json.dumps(known))
    return known


ENSURE_DB = """
import asyncio, sys, asyncpg
async def main(admin, name):
    conn = await asyncpg.connect(admin)
    if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
        await conn.execute('CREATE DATABASE "%s"' % name)
    print(await conn.fetchval("SHOW server_version"))
    await conn.close()
asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


def ensure_database(url: str) -> str:
    """Create the benchmark database if missing (through the raw venv's asyncpg); the server's
    version."""
    name = urlsplit(url).path.lstrip("/")
    admin = toolkit.with_database(url, "postgres")
    done = subprocess.run(
        [str(python_of("raw")), "-c", ENSURE_DB, admin, name],
        capture_output=True,
        text=True,
    )
    if done.returncode:
        sys.exit(f"cannot reach or create the database {url}:\n{done.stderr.strip()}")
    return done.stdout.strip()


def run_contender(
    name: str, backend: str, url: str, quick: bool, only: list[str], fresh: bool
) -> dict[str, Any]:
    script = HERE / "contenders" / CONTENDERS[name][0]
    command = [str(python_of(name)), str(script), "--backend", backend, "--url", url]
    command += ["--only", ",".join(only)]
    command += ["--quick"] * quick + ["--fresh"] * fresh
    env = {k: v for k, v in os.environ.items() if not k.startswith(("YARA_TEST", "PYTHON"))}
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=CONTENDER_TIMEOUT, env=env
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {CONTENDER_TIMEOUT} s"}
    for line in reversed(done.stdout.splitlines()):
        if line.startswith("RESULT "):
            return dict(json.loads(line.removeprefix("RESULT ")))
    tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
    return {"error": f"exit status {done.returncode}:\n{tail}"}


def machine(versions: dict[str, dict[str, str]]) -> dict[str, Any]:
    cpu = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        kib = int(meminfo.read_text().split()[1])
        memory = f"{kib / 1024**2:.0f} GiB"
    # The contenders' Python (their environments are made from the runner's base Python).
    version = next(iter(versions.values()), {}).get("python") or sys.version.split()[0]
    return {"cores": os.cpu_count(), "cpu": cpu, "memory": memory, "python": version}


def summarise(samples: dict[str, dict[str, dict[str, list[float]]]]) -> dict[str, Any]:
    """Per backend and operation: each contender's median in ms, and ours / its median."""
    summary: dict[str, Any] = {}
    for backend, by_contender in samples.items():
        table: dict[str, Any] = {}
        for op in OPERATION_NAMES:
            row: dict[str, Any] = {}
            for contender, ops in by_contender.items():
                if ops.get(op):
                    seconds = ops[op]
                    row[contender] = {
                        "median_ms": statistics.median(seconds) * 1000,
                        "samples_ms": [round(s * 1000, 3) for s in seconds],
                    }
            ours = row.get("ours", {}).get("median_ms")
            for contender, cell in row.items():
                if ours and contender != "ours":
                    cell["ratio"] = ours / cell["median_ms"]
            if row:
                table[op] = row
        summary[backend] = table
    return summary


def main() -> None:
    options = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    options.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    options.add_argument("--rounds", type=int, help="default 5, or 1 with --quick")
    options.add_argument("--quick", action="store_true", help="fewer rows and rounds: a smoke run")
    options.add_argument("--only", default="", help="operations and toolkit parts to run")
    options.add_argument("--contenders", default=",".join(CONTENDERS))
    options.add_argument("--rebuild-ours", action="store_true", help="reinstall the working tree")
    options.add_argument("--pg-url", default=os.environ.get("YARA_BENCH_PG_URL", DEFAULT_PG_URL))
    args = options.parse_args()

    rounds = args.rounds or (1 if args.quick else 5)
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    contenders = [c for c in args.contenders.split(",") if c]
    only = [x for x in args.only.split(",") if x]
    unknown = [c for c in contenders if c not in CONTENDERS]
    unknown += [x for x in only if x not in OPERATION_NAMES + toolkit.PARTS]
    if unknown:
        options.error(
            f"unknown {unknown}: contenders {list(CONTENDERS)}, "
            f"operations {OPERATION_NAMES}, toolkit parts {toolkit.PARTS}"
        )
    operations = [op for op in OPERATION_NAMES if not only or op in only]
    parts = [p for p in toolkit.PARTS if not only or p in only]
    if not operations:
        contenders = []
    needed = set(contenders) | ({"ours"} if parts else set())
    needed |= {"raw"} if "postgres" in backends else set()  # it creates the database
    installs = {name: ensure_venv(name, args.rebuild_ours) for name in CONTENDERS if name in needed}

    pg_version = ensure_database(args.pg_url) if "postgres" in backends else None
    started = time.time()
    load_before = os.getloadavg()
    samples: dict[str, dict[str, dict[str, list[float]]]] = {b: {} for b in backends}
    missing: dict[str, dict[str, dict[str, str]]] = {b: {} for b in backends}
    errors: list[str] = []
    versions: dict[str, dict[str, str]] = {}
    with tempfile.TemporaryDirectory(prefix="yara-suite-") as directory:
        urls = {"postgres": args.pg_url}
        for r in range(rounds if contenders else 0):
            order = contenders[r % len(contenders) :] + contenders[: r % len(contenders)]
            for backend in backends:
                for name in order:
                    if backend == "sqlite":
                        urls[backend] = f"sqlite://{directory}/{name}.db"
                    log(f"round {r + 1}/{rounds}: {backend} {name}")
                    result = run_contender(
                        name, backend, urls[backend], args.quick, operations, fresh=r == 0
                    )
                    if "error" in result:
                        errors.append(f"{backend} {name} round {r + 1}: {result['error']}")
                        log(errors[-1])
                        continue
                    versions[name] = result["versions"]
                    missing[backend][name] = result["missing"]
                    ops = samples[backend].setdefault(name, {})
                    for op, seconds in result["timings"].items():
                        ops.setdefault(op, []).append(seconds)
        toolkit_results = (
            toolkit.measure(python_of("ours"), args.pg_url, backends, parts, args.quick, directory)
            if parts
            else {}
        )

    results = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(versions),
        "postgres_version": pg_version,
        "load_average": {"before": load_before, "after": os.getloadavg()},
        "seconds": round(time.time() - started, 1),
        "rounds": rounds,
        "quick": args.quick,
        "sizes": SIZES["quick" if args.quick else "full"],
        "contenders": contenders,
        "versions": versions,
        "ours_source": installs.get("ours", {}).get("source"),
        "results": summarise(samples),
        "missing": {b: {c: m for c, m in by.items() if m} for b, by in missing.items()},
        "errors": errors,
        "toolkit": toolkit_results,
    }
    stem = "quick" if args.quick else "latest"
    RESULTS.mkdir(exist_ok=True)
    paths = report.write_all(results, RESULTS, stem)
    print(report.markdown(results))
    log("wrote " + ", ".join(str(p.relative_to(REPO)) for p in paths))
    if errors:
        sys.exit(1)


if __name__ == "__main__":
    main()
