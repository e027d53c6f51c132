"""The session report: queries per test, the slowest statements, N+1 suspects, and time with
the GIL held against time with it released. Printed at the end of the session and written as
JSON with `--yara-report=PATH`. Under xdist, workers send theirs to the controller."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from yara_testing.recorder import QueryLog


@dataclass
class TestEntry:
    test: str
    queries: int
    duration: float
    gil_held: float
    io: float
    nplusone: list[str] = field(default_factory=list)
    statements: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class SessionReport:
    provisioning: str = ""
    tests: list[TestEntry] = field(default_factory=list)
    redirects: list[str] = field(default_factory=list)

    def add(self, test: str, log: QueryLog, nplusone: list[str]) -> None:
        self.tests.append(
            TestEntry(
                test=test,
                queries=len(log),
                duration=log.total_duration,
                gil_held=log.total_gil_held,
                io=log.total_io,
                nplusone=nplusone,
                statements=[
                    {
                        "sql": r.sql,
                        "params": [repr(p) for p in r.params],
                        "duration": r.duration,
                        "gil_held": r.gil_held,
                        "gil_wait": r.gil_wait,
                        "io": r.io,
                        "rows": r.rows,
                        "location": r.location,
                    }
                    for r in log
                ],
            )
        )

    def to_data(self) -> dict[str, Any]:
        return {
            "provisioning": self.provisioning,
            "redirects": self.redirects,
            "tests": [asdict(t) for t in self.tests],
        }

    def merge(self, data: dict[str, Any]) -> None:
        self.tests.extend(TestEntry(**entry) for entry in data.get("tests", []))
        if data.get("provisioning") and not self.provisioning:
            self.provisioning = data["provisioning"]
        for line in data.get("redirects", []):
            if line not in self.redirects:
                self.redirects.append(line)

    def write(self, path: str) -> None:
        Path(path).write_text(json.dumps(self.to_data(), indent=2, default=str), encoding="utf-8")

    def lines(self, heaviest: int = 5, slowest: int = 5) -> list[str]:
        tests = [t for t in self.tests if t.queries]
        if not tests:
            return ["no queries recorded"]
        total = sum(t.queries for t in tests)
        held = sum(t.gil_held for t in tests)
        io = sum(t.io for t in tests)
        out = [
            f"{total} queries in {len(tests)} tests; GIL held {held * 1000:.1f} ms, "
            f"released for I/O {io * 1000:.1f} ms"
        ]
        out.append("heaviest tests:")
        for entry in sorted(tests, key=lambda t: t.queries, reverse=True)[:heaviest]:
            out.append(
                f"  {entry.queries:5d} queries {entry.duration * 1000:8.1f} ms  {entry.test}"
            )
        statements = [s for t in tests for s in t.statements]
        out.append("slowest statements:")
        for statement in sorted(statements, key=lambda s: s["duration"], reverse=True)[:slowest]:
            sql = statement["sql"] if len(statement["sql"]) < 90 else statement["sql"][:87] + "..."
            out.append(
                f"  {statement['duration'] * 1000:8.2f} ms  {sql}  ({statement['location']})"
            )
        suspects = [(t.test, message) for t in tests for message in t.nplusone]
        if suspects:
            out.append("N+1 suspects:")
            for test, message in suspects:
                out.append(f"  {test}: {message}")
        return out
