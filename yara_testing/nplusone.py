"""The N+1 detector.

Exact where the ORM knows: instances loaded by one query share a batch, and a lazy relation
load says which relation of which instance it loads. When two or more instances of one batch
load the same relation lazily, that is an N+1, and the fix is named. Beyond that, the same
SQL run more than `repeat_threshold` times from one line of code is flagged as a suspect.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

from yara_orm.fields.relations import ForeignKeyField
from yara_orm.models.registry import registry
from yara_testing.recorder import QueryRecord, recorder

DEFAULT_REPEAT_THRESHOLD = 5


@dataclass
class Finding:
    kind: str  # "lazy-load" or "repeated-sql"
    message: str
    location: str
    count: int


def _fix_for(model: str, relation: str) -> str:
    owner = registry.named(model)
    field = owner._meta.fields.get(relation) if owner is not None else None
    if isinstance(field, ForeignKeyField):
        return f'.select_related("{relation}") or .prefetch_related("{relation}")'
    return f'.prefetch_related("{relation}")'


@dataclass(eq=False)  # listeners are removed by identity
class Detector:
    repeat_threshold: int = DEFAULT_REPEAT_THRESHOLD
    records: list[QueryRecord] = field(default_factory=list)

    def __call__(self, record: QueryRecord) -> None:
        self.records.append(record)

    def findings(self) -> list[Finding]:
        found: list[Finding] = []
        lazy: dict[tuple[str, str, int], list[QueryRecord]] = defaultdict(list)
        for record in self.records:
            context = record.context
            if context and context.kind == "lazy" and context.batch is not None:
                lazy[(context.model, context.relation, context.batch.id)].append(record)
        explained: set[tuple[str, str]] = set()
        for (model, relation, _), loads in lazy.items():
            if len(loads) < 2:
                continue
            first = loads[0].context
            size = first.batch.size if first and first.batch else len(loads)
            location = loads[0].location
            explained.add((loads[0].sql, location))
            found.append(
                Finding(
                    "lazy-load",
                    f"N+1: {model}.{relation} was loaded lazily for {len(loads)} of {size} "
                    f"{model} instances from one query, at {location}; "
                    f"load it with the query: {_fix_for(model, relation)}",
                    location,
                    len(loads),
                )
            )
        repeated: dict[tuple[str, str], int] = defaultdict(int)
        for record in self.records:
            repeated[(record.sql, record.location)] += 1
        for (sql, location), count in repeated.items():
            if count > self.repeat_threshold and (sql, location) not in explained:
                found.append(
                    Finding(
                        "repeated-sql",
                        f"N+1 suspect: the same query ran {count} times from {location}: {sql}",
                        location,
                        count,
                    )
                )
        return found

    def report(self) -> str:
        return "\n".join(f.message for f in self.findings())


class NPlusOneError(AssertionError):
    pass


@contextlib.contextmanager
def assert_no_nplusone(repeat_threshold: int = DEFAULT_REPEAT_THRESHOLD) -> Iterator[Detector]:
    """Fail if the block loads a relation one instance at a time (or repeats a query)."""
    detector = Detector(repeat_threshold)
    rec = recorder()
    rec.install()
    rec.listeners.append(detector)
    try:
        yield detector
    finally:
        rec.listeners.remove(detector)
        rec.uninstall()
    if detector.findings():
        raise NPlusOneError(detector.report())
