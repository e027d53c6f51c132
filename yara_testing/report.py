"""The session report: queries per test, the slowest statements, N+1 suspects, and time with
the GIL held against time with it released. Printed at the end of the session, written as
JSON with `--yara-report=PATH` and as HTML with `--yara-report-html=PATH` (`html_report`).
Under xdist, workers send theirs to the controller, which writes the merged one.

The JSON layout is versioned by `SCHEMA_VERSION` and documented in the README: add keys, never
rename or drop them without raising the version."""

from __future__ import annotations

import datetime as dt
import enum
import json
import math
import uuid
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from yara_testing.recorder import QueryLog, count_queries

SCHEMA_VERSION = 1
DEFAULT_SLOW_QUERY_MS = 100.0
PHASES = ("setup", "body", "teardown")
OUTCOMES = ("passed", "failed", "skipped", "error")


def json_param(value: Any) -> Any:
    """A statement parameter as a JSON value. What JSON cannot hold becomes a string: datetimes,
    dates and times in ISO 8601, Decimal and UUID as their text, bytes as hex, non-finite floats
    as "nan"/"inf"/"-inf", anything else as str(). Enums give their value."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, enum.Enum):
        return json_param(value.value)
    if isinstance(value, dt.date | dt.time):  # datetime is a date
        return value.isoformat()
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, list | tuple | set | frozenset):
        return [json_param(item) for item in value]
    if isinstance(value, dict):
        return {str(key): json_param(item) for key, item in value.items()}
    return str(value)


@dataclass
class ItemProgress:
    """A test's query log length at the end of each phase, and its outcome so far: fed by
    `pytest_runtest_makereport`, read when the test's entry is added after its teardown."""

    ends: dict[str, int] = field(default_factory=dict)
    outcome: str = "passed"

    def phase_done(self, when: str, queries: int, report: pytest.TestReport) -> None:
        self.ends[when] = queries
        if report.failed:
            # As pytest counts them: a failing body is a failure, a failing fixture an error.
            if when == "call":
                self.outcome = "failed"
            elif self.outcome != "failed":
                self.outcome = "error"
        elif report.skipped and self.outcome == "passed":
            self.outcome = "skipped"  # pytest.skip, skip markers, and xfail

    def phase_of(self, index: int) -> str:
        setup_end = self.ends.get("setup", 0)
        if index < setup_end:
            return "setup"
        if index < self.ends.get("call", setup_end):
            return "body"
        return "teardown"


def _is_slow(duration: float, slow_query_ms: float) -> bool:
    return duration * 1000 > slow_query_ms


@dataclass
class TestEntry:
    test: str
    queries: int
    duration: float
    gil_held: float
    io: float
    outcome: str = "passed"  # one of OUTCOMES
    nplusone: list[str] = field(default_factory=list)
    statements: list[dict[str, Any]] = field(default_factory=list)
    # Not N+1s and never failures: the same single-row write repeated from one line.
    hints: list[str] = field(default_factory=list)
    # The latency the database simulation added to the test's statements (part of
    # `duration`): what the test waited for a database as slow as the simulated one.
    simulated: float = 0.0


@dataclass
class SessionReport:
    provisioning: str = ""
    tests: list[TestEntry] = field(default_factory=list)
    redirects: list[str] = field(default_factory=list)
    slow_query_ms: float = DEFAULT_SLOW_QUERY_MS

    def add(
        self,
        test: str,
        log: QueryLog,
        nplusone: list[str],
        progress: ItemProgress | None = None,
        hints: list[str] | None = None,
    ) -> None:
        progress = progress or ItemProgress()
        self.tests.append(
            TestEntry(
                test=test,
                queries=len(log),
                duration=log.total_duration,
                gil_held=log.total_gil_held,
                io=log.total_io,
                simulated=log.total_simulated,
                nplusone=nplusone,
                hints=hints or [],
                outcome=progress.outcome,
                statements=[
                    {
                        "sql": r.sql,
                        "params": json_param(r.params),
                        "phase": progress.phase_of(index),
                        "duration": r.duration,
                        "gil_held": r.gil_held,
                        "gil_wait": r.gil_wait,
                        "io": r.io,
                        "rows": r.rows,
                        "location": r.location,
                        "connection": r.connection,
                        "error": r.error,
                        # Fault injection marks the statements it made fail or slowed down.
                        "injected": bool(getattr(r, "injected", False)),
                        "simulated": getattr(r, "simulated", 0.0),
                        "slow": _is_slow(r.duration, self.slow_query_ms),
                    }
                    for index, r in enumerate(log)
                ],
            )
        )

    def to_data(self) -> dict[str, Any]:
        return {
            "version": SCHEMA_VERSION,
            "slow_query_ms": self.slow_query_ms,
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
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        # allow_nan=False: the parameters are made JSON-safe; anything else is a bug to see.
        text = json.dumps(self.to_data(), indent=2, allow_nan=False)
        target.write_text(text + "\n", encoding="utf-8")

    def lines(self, heaviest: int = 5, slowest: int = 5) -> list[str]:
        tests = [t for t in self.tests if t.queries]
        if not tests:
            return ["no queries recorded"]
        total = sum(t.queries for t in tests)
        held = sum(t.gil_held for t in tests)
        io = sum(t.io for t in tests)
        simulated = sum(t.simulated for t in tests)
        out = [
            f"{count_queries(total)} in {len(tests)} test{'' if len(tests) == 1 else 's'}; "
            f"GIL held {held * 1000:.1f} ms, "
            f"released for I/O {io * 1000:.1f} ms"
            + (f" ({simulated * 1000:.1f} ms of it simulated latency)" if simulated else "")
        ]
        out.append("heaviest tests:")
        for entry in sorted(tests, key=lambda t: t.queries, reverse=True)[:heaviest]:
            waited = f" ({entry.simulated * 1000:.1f} simulated)" if entry.simulated else ""
            out.append(
                f"  {entry.queries:5d} queries {entry.duration * 1000:8.1f} ms{waited}  "
                f"{entry.test}"
            )
        delayed = sorted((t for t in tests if t.simulated), key=lambda t: -t.simulated)
        if delayed:
            # What each test waited for a database as slow as the simulated one.
            out.append("waiting on the database at the simulated latency:")
            for entry in delayed[:heaviest]:
                out.append(
                    f"  {entry.simulated * 1000:8.1f} ms over {entry.queries:3d} queries  "
                    f"{entry.test}"
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
        hints = [(t.test, message) for t in tests for message in t.hints]
        if hints:
            out.append("hints:")
            for test, message in hints:
                out.append(f"  {test}: {message}")
        return out


def read_report_path(config: pytest.Config, option: str, ini: str) -> str | None:
    """A report's path: from the command line as given (relative to the working directory),
    from the ini relative to the rootdir (where the ini file is), so a project's setting
    writes to the same place wherever pytest is started from."""
    given = config.getoption(option)
    if given:
        return str(given)
    value = str(config.getini(ini) or "")
    if not value:
        return None
    return str(Path(config.rootpath) / value)


def read_slow_query_ms(value: Any) -> float:
    """`--yara-slow-query`: statements that take longer than this many milliseconds are
    flagged `slow` in the reports."""
    if value in (None, ""):
        return DEFAULT_SLOW_QUERY_MS
    try:
        ms = float(value)
        if not ms >= 0 or math.isinf(ms):
            raise ValueError
    except ValueError:
        raise pytest.UsageError(
            f"yara: --yara-slow-query must be a number of milliseconds, 0 or more "
            f"(default {DEFAULT_SLOW_QUERY_MS:g}), not {value!r}"
        ) from None
    return ms


def write_reports(report: SessionReport, json_path: str | None, html_path: str | None) -> list[str]:
    """Write the asked-for files; the lines that say where they went."""
    written = []
    if json_path:
        report.write(json_path)
        written.append(f"JSON report written to {json_path}")
    if html_path:
        from yara_testing.html_report import write_html  # only when asked for

        write_html(report, html_path)
        written.append(f"HTML report written to {html_path}")
    return written
