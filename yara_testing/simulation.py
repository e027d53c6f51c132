"""The database simulation in tests: latency and faults injected into the test databases'
engines by `yara_db.simulate()` and `yara_db.fail()`, the `yara_latency` marker and
`--yara-latency`, all taken out again at the end of the test.

The engine does the work (`Engine.simulate`, `Engine.fail`): each statement's fate is decided
as it enters the engine, so every task and event loop of the test is affected alike."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest

from yara_orm import Engine, Injection
from yara_orm.exceptions import ConfigurationError
from yara_testing.markers import closest_marker

_UNITS = {"us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(us|µs|ms|s)\s*$")
_UNSET: Any = object()


def parse_duration(value: str) -> float:
    """`2ms`, `0.5s`, `300us` as seconds; ValueError for anything else (a bare number is
    refused: milliseconds or seconds would be a guess)."""
    match = _DURATION.match(value)
    if match is None:
        if value.strip() in ("0", "0.0"):
            return 0.0
        raise ValueError(
            f"a duration with its unit, such as 2ms, 0.5s or 300us (valid units: "
            f"{', '.join(_UNITS)}), not {value!r}"
        )
    return float(match.group(1)) * _UNITS[match.group(2)]


# The engine's own bound on a latency (engine/src/simulation.rs), checked here up front so a
# run-wide value fails at startup, not in every test.
MOST_SECONDS = 3600.0


def read_latency(value: Any) -> float:
    """`--yara-latency` / the `yara_latency` ini option: 0 when not given."""
    if value in (None, ""):
        return 0.0
    try:
        seconds = parse_duration(str(value))
    except ValueError as error:
        raise pytest.UsageError(
            f"yara: --yara-latency (ini yara_latency) must be {error}"
        ) from None
    if seconds > MOST_SECONDS:
        raise pytest.UsageError(
            f"yara: --yara-latency (ini yara_latency) must be at most {MOST_SECONDS:g}s, "
            f"not {value!r}"
        )
    return seconds


class Injections:
    """What one `simulate()` or `fail()` call injected, on each of the test's databases: a
    context manager that takes it out again (the test's end does so anyway). Counts are
    summed over the databases; a fault's `times` and `after` count on each database."""

    def __init__(self, handles: list[Injection]) -> None:
        self.handles = handles

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()

    def __enter__(self) -> Injections:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.remove()

    @property
    def active(self) -> bool:
        return any(handle.active for handle in self.handles)

    @property
    def matched(self) -> int:
        """Statements it applied to."""
        return sum(handle.matched for handle in self.handles)

    @property
    def injected(self) -> int:
        """Statements it delayed or made fail."""
        return sum(handle.injected for handle in self.handles)

    def __repr__(self) -> str:
        kinds = sorted({handle.kind for handle in self.handles})
        return f"<Injections {'/'.join(kinds)}: {self.matched} matched, {self.injected} injected>"


class TestSimulation:
    """The injections of one test, on its databases (alias -> engine)."""

    __test__ = False  # not a test class, whatever its name

    def __init__(self, engines: Mapping[str, Engine]) -> None:
        self.engines = dict(engines)

    def _targets(self, connection: str | None) -> Iterator[Engine]:
        if connection is None:
            yield from self.engines.values()
            return
        if connection not in self.engines:
            raise ConfigurationError(
                f"connection={connection!r} is not one of this test's databases: "
                f"{', '.join(sorted(self.engines))}"
            )
        yield self.engines[connection]

    def simulate(
        self,
        latency: float | Mapping[str, float] | Callable[[str], float | None],
        *,
        jitter: float = 0.0,
        seed: int | None = None,
        connection: str | None = None,
    ) -> Injections:
        return Injections(
            [
                engine.simulate(latency, jitter=jitter, seed=seed)
                for engine in self._targets(connection)
            ]
        )

    def fail(
        self,
        match: Any = None,
        error: str | None = None,
        *,
        times: int | None = _UNSET,
        after: int = 0,
        probability: float | None = None,
        seed: int | None = None,
        connection: str | None = None,
    ) -> Injections:
        options: dict[str, Any] = {"after": after, "probability": probability, "seed": seed}
        if times is not _UNSET:
            options["times"] = times
        return Injections(
            [engine.fail(match, error, **options) for engine in self._targets(connection)]
        )

    def start(self, node: pytest.Item, run_latency: float) -> None:
        """The whole test's latency: its `yara_latency` marker, else `--yara-latency`."""
        marker = closest_marker(node, "yara_latency")
        if marker is None:
            if run_latency:
                self.simulate(run_latency)
            return
        if len(marker.args) != 1:
            pytest.fail(
                "yara: @pytest.mark.yara_latency takes one latency: seconds (0.002), a "
                "duration ('2ms') or a profile ({'SELECT': 0.001, 'INSERT': 0.004})",
                pytrace=False,
            )
        given = marker.args[0]
        try:
            latency = parse_duration(given) if isinstance(given, str) else given
            self.simulate(latency, **marker.kwargs)
        except (ValueError, TypeError, ConfigurationError) as error:
            arguments = ", ".join([repr(given), *(f"{k}={v!r}" for k, v in marker.kwargs.items())])
            reason = str(error).replace("TestSimulation.simulate()", "yara_latency")
            pytest.fail(f"yara: @pytest.mark.yara_latency({arguments}): {reason}", pytrace=False)

    def close(self) -> None:
        """Take out everything injected into the test's databases, the engines' own
        `simulate()`/`fail()` calls included."""
        for engine in self.engines.values():
            for handle in engine.injections:
                handle.remove()
