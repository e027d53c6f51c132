"""What the database simulation costs when it is compiled in but unused: `get(pk=...)` x1,000
through the ORM, on SQLite in memory and on PostgreSQL.

    python benchmarks/simulation_overhead.py [--repeat 9] [--pg-url URL] [--no-pg]
    python benchmarks/simulation_overhead.py --against DIR [--candidate DIR] [--rounds 14]

Use a release build (`maturin develop --release`). With an engine that has `Engine.fail`, it
also measures the loop while a fault that matches nothing is in force (every statement is then
matched against it). `--against DIR` compares with another build: DIR holds a copy of an
earlier `yara_orm` package (its release `_engine*.so` included); the two run in alternation,
`--rounds` times each, so a busy machine's drift hits both alike, and each side's median (and
minimum) over the rounds is printed. `--candidate DIR` measures such a copy instead of the
installed package (to compare two engines under the same Python code, copy the earlier package
and put the new `_engine*.so` in the copy).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys

import timing

import yara_orm
from yara_orm import YaraOrm, connections
from yara_orm import fields as yfields

GETS = 1_000


class SimBook(yara_orm.Model):
    id = yfields.IntField(primary_key=True)
    title = yfields.CharField(max_length=200)

    class Meta:
        table = "sim_book"


async def run(url: str, repeat: int) -> None:
    await YaraOrm.init(url, models=[SimBook])
    engine = connections.engine()
    await engine.execute_script("DROP TABLE IF EXISTS sim_book")
    await YaraOrm.generate_schemas()
    await SimBook.bulk_create([SimBook(id=i, title=f"book {i}") for i in range(1, 101)])

    async def gets() -> None:
        for i in range(GETS):
            await SimBook.get(id=i % 100 + 1)

    unused = await timing.median_async(gets, repeat)
    print(f"  {GETS} x get(pk), simulation unused     {unused * 1000:9.2f} ms")
    if hasattr(engine, "fail"):
        with engine.fail("no statement contains this", "deadlock"):
            matching = await timing.median_async(gets, repeat)
        print(f"  {GETS} x get(pk), a fault matching none {matching * 1000:9.2f} ms")
    await engine.execute_script("DROP TABLE sim_book")
    await YaraOrm.close()


def one_run(url: str, repeat: int, package_dir: str | None) -> dict[str, float]:
    """One process's medians: "unused", and "fault" when the engine has `fail`."""
    env = dict(os.environ)
    if package_dir:
        env["PYTHONPATH"] = package_dir  # ahead of the installed package
    command = [sys.executable, __file__, "--only", url, "--repeat", str(repeat)]
    # Not from the repository root, where `yara_orm` would be the working tree's.
    out = subprocess.run(
        command, capture_output=True, text=True, check=True, env=env, cwd=os.path.dirname(__file__)
    ).stdout
    found = {"unused": r"simulation unused\s+([\d.]+)", "fault": r"matching none\s+([\d.]+)"}
    return {k: float(m.group(1)) for k, p in found.items() if (m := re.search(p, out))}


def compare(url: str, against: str, candidate: str | None, rounds: int, repeat: int) -> None:
    samples: dict[str, list[float]] = {"before": [], "after": [], "after, fault in force": []}
    for number in range(rounds):
        for before in (True, False) if number % 2 == 0 else (False, True):
            result = one_run(url, repeat, against if before else candidate)
            if before:
                samples["before"].append(result["unused"])
            else:
                samples["after"].append(result["unused"])
                if "fault" in result:
                    samples["after, fault in force"].append(result["fault"])
    for label, values in samples.items():
        if values:
            print(
                f"  {label:<22} median {statistics.median(values):8.2f} ms  "
                f"min {min(values):8.2f} ms  ({len(values)} runs)"
            )


def main() -> None:
    options = timing.parser(__doc__, rows=0, repeat=9)
    options.add_argument("--no-pg", action="store_true")
    options.add_argument("--against", default=None, help="directory holding an earlier yara_orm")
    options.add_argument("--candidate", default=None, help="measure this copy, not the installed")
    options.add_argument("--rounds", type=int, default=14)
    options.add_argument("--only", default=None, help=argparse.SUPPRESS)
    args = options.parse_args()
    if args.only:
        asyncio.run(run(args.only, args.repeat))
        return
    targets = [("SQLite in memory", "sqlite://:memory:")]
    if not args.no_pg:
        targets.append(("PostgreSQL", args.pg_url))
    for title, url in targets:
        print(title, flush=True)
        if args.against:
            compare(url, args.against, args.candidate, args.rounds, args.repeat)
        else:
            # A process per backend, so one's models and engine do not affect the other.
            result = one_run(url, args.repeat, None)
            for label, value in result.items():
                print(f"  {GETS} x get(pk), {label:<8} {value:9.2f} ms")


if __name__ == "__main__":
    main()
