"""The N+1 detector.

Exact where the ORM knows: instances loaded by one query share a batch, and a lazy relation
load says which relation of which instance it loads. When two or more instances of one batch
load the same relation lazily, that is an N+1, and the fix is named. Beyond that, the same
SQL run more than `repeat_threshold` times from one line of code is flagged as a suspect.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from yara_orm.connection import QueryBatch
from yara_orm.fields.relations import ForeignKeyField
from yara_orm.models.registry import registry
from yara_testing.recorder import QueryRecord, recorder

DEFAULT_REPEAT_THRESHOLD = 5


@dataclass
class Finding:
    kind: str  # "lazy-load", "repeated-sql", or "repeated-write" (a hint, never a failure)
    message: str
    location: str
    count: int

    @property
    def is_nplusone(self) -> bool:
        return self.kind != "repeated-write"


def _relation_fields(model: str, path: str) -> list[Any] | None:
    """The relation fields along `path` from `model`, or None where the registry cannot say."""
    owner = registry.named(model)
    found: list[Any] = []
    for name in path.split("__"):
        field = owner._meta.fields.get(name) if owner is not None else None
        if field is None:
            return None
        found.append(field)
        owner = getattr(field, "related_model", None)
    return found


def _fix_for(model: str, paths: list[str]) -> str:
    quoted = ", ".join(f'"{path}"' for path in paths)
    chains = [_relation_fields(model, path) for path in paths]
    forward_only = all(
        chain is not None and all(isinstance(f, ForeignKeyField) for f in chain) for chain in chains
    )
    if forward_only:
        return f".select_related({quoted}) or .prefetch_related({quoted})"
    return f".prefetch_related({quoted})"


# A statement that writes one row, repeated from one line: a bulk operation would do, but
# that is not an N+1 read.
_WRITE_HINTS = {
    "INSERT": "bulk_create",
    "UPDATE": "bulk_update or a queryset .update()",
    "DELETE": "one filtered .delete()",
}


def _write_kind(sql: str) -> str | None:
    word = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else ""
    return word if word in _WRITE_HINTS else None


@dataclass(eq=False)  # listeners are removed by identity
class Detector:
    repeat_threshold: int = DEFAULT_REPEAT_THRESHOLD
    records: list[QueryRecord] = field(default_factory=list)

    def __call__(self, record: QueryRecord) -> None:
        self.records.append(record)

    def findings(self) -> list[Finding]:
        """N+1 findings (lazy loads, repeated reads) and hints (repeated single writes)."""
        found, explained = self._lazy_loads()
        repeated: dict[tuple[str, str], int] = defaultdict(int)
        for record in self.records:
            repeated[(record.sql, record.location)] += 1
        for (sql, location), count in repeated.items():
            if count <= self.repeat_threshold or (sql, location) in explained:
                continue
            write = _write_kind(sql)
            if write is not None:
                found.append(
                    Finding(
                        "repeated-write",
                        f"hint: {count} single {write}s from one line, at {location}: "
                        f"{_WRITE_HINTS[write]} does it in one statement: {sql}",
                        location,
                        count,
                    )
                )
                continue
            found.append(
                Finding(
                    "repeated-sql",
                    f"N+1 suspect: the same query ran {count} times from {location}: {sql}; "
                    "load the rows in one query instead (`filter(<field>__in=[...])`, "
                    "`in_bulk()`), or prefetch what the loop reads",
                    location,
                    count,
                )
            )
        return found

    def _lazy_loads(self) -> tuple[list[Finding], set[tuple[str, str]]]:
        """Relations loaded lazily, one instance at a time, for instances of one query; a
        chain of them (`comment.issue`, then `issue.project`) is one finding naming the
        whole path from the query that loaded the first instances."""
        groups: dict[tuple[int, str], list[QueryRecord]] = defaultdict(list)
        batches: dict[int, QueryBatch] = {}
        for record in self.records:
            context = record.context
            if context and context.kind == "lazy" and context.batch is not None:
                groups[(context.batch.id, context.relation)].append(record)
                batches[context.batch.id] = context.batch
        by_root: dict[int, dict[str, tuple[QueryBatch, list[QueryRecord]]]] = defaultdict(dict)
        roots: dict[int, QueryBatch] = {}
        for (batch_id, relation), loads in groups.items():
            batch = batches[batch_id]
            root = batch.root or batch
            path = f"{batch.path}__{relation}" if batch.path else relation
            roots[root.id] = root
            by_root[root.id][path] = (batch, loads)
        found: list[Finding] = []
        explained: set[tuple[str, str]] = set()
        for root_id, every in by_root.items():
            root = roots[root_id]
            # One instance loading its relation is no N+1.
            paths = {path: loads for path, (_, loads) in every.items() if len(loads) > 1}
            for path, loads in paths.items():
                if any(path.startswith(other + "__") for other in paths):
                    continue  # folded into the finding of the shorter path
                deeper = sorted(p for p in paths if p.startswith(path + "__"))
                longest = [
                    p for p in [path, *deeper] if not any(q.startswith(p + "__") for q in deeper)
                ]
                for record in loads + [r for p in deeper for r in paths[p]]:
                    explained.add((record.sql, record.location))
                batch = every[path][0]
                model = batch.model
                if batch.root is None:
                    which = f"{len(loads)} of {batch.size} {model} instances from one query"
                else:
                    which = (
                        f"{len(loads)} {model} instances loaded lazily from one {root.model} query"
                    )
                then = "".join(
                    f", then {root.model}.{p.replace('__', '.')} for each of them "
                    f"(at {paths[p][0].location})"
                    for p in deeper
                )
                found.append(
                    Finding(
                        "lazy-load",
                        f"N+1: {root.model}.{path.replace('__', '.')} was loaded lazily for "
                        f"{which}, at {loads[0].location}{then}; load it with the query: "
                        f"{_fix_for(root.model, longest)}",
                        loads[0].location,
                        len(loads),
                    )
                )
        return found, explained

    def report(self) -> str:
        return "\n".join(f.message for f in self.findings() if f.is_nplusone)


class NPlusOneError(AssertionError):
    pass


class assert_no_nplusone:
    """Fail if the block loads a relation one instance at a time (or repeats a query).

    A class rather than a generator, so a failure's traceback ends at the user's `with`."""

    def __init__(self, repeat_threshold: int = DEFAULT_REPEAT_THRESHOLD) -> None:
        self.detector = Detector(repeat_threshold)

    def __enter__(self) -> Detector:
        rec = recorder()
        rec.install()
        rec.listeners.append(self.detector)
        return self.detector

    def __exit__(self, kind: Any, error: Any, traceback: Any) -> None:
        __tracebackhide__ = True
        rec = recorder()
        rec.listeners.remove(self.detector)
        rec.uninstall()
        if kind is None and any(f.is_nplusone for f in self.detector.findings()):
            raise NPlusOneError(self.detector.report())
