"""pytest-xdist: what each worker tells the controller about its databases, and what the
controller does with it. The controller has no session of its own, so it builds the run's
one report line from the workers' summaries (the real provisioning time, the databases and
the template they were cloned from), and drops the templates at the end."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import pytest

from yara_testing.provisioning import drop_database
from yara_testing.session import reuse_note

if TYPE_CHECKING:
    from yara_testing.session import DatabaseSession, PluginState

SUMMARIES = pytest.StashKey[list[dict[str, Any]]]()


def summary(session: DatabaseSession) -> dict[str, Any]:
    """A worker's databases, for the controller (sent as workeroutput["yara_databases"])."""
    databases = list(session.databases.values())
    return {
        "backend": session.backend,
        "method": session.method,
        "names": [db.name for db in databases if db.name],
        "templates": sorted({db.template for db in databases if db.template}),
        "kept": bool(databases) and all(db.kept for db in databases),
        "provisioning": session.provision_seconds,
        "schema": session.setup_seconds,
        "notes": list(session.state.notes),
    }


def received(config: pytest.Config, data: dict[str, Any]) -> list[dict[str, Any]]:
    summaries = config.stash.setdefault(SUMMARIES, [])
    summaries.append(data)
    return summaries


def _worker_number(name: str) -> tuple[str, int]:
    match = re.search(r"^(.*_gw)(\d+)$", name)
    return (match.group(1), int(match.group(2))) if match else (name, -1)


def describe(state: PluginState, summaries: list[dict[str, Any]]) -> str:
    """The controller's line: every worker's database (or their pattern), the template,
    the server's start-up plus the slowest worker's provisioning, and the slowest schema."""
    first = summaries[0]
    backend = first["backend"]
    names = sorted({n for s in summaries for n in s["names"]}, key=_worker_number)
    if backend == "sqlite":
        where = "in memory, one per worker"
    elif len(names) <= 4:
        where = ", ".join(names)
    else:
        patterns = dict.fromkeys(re.sub(r"_gw\d+$", "_gw<N>", name) for name in names)
        where = f"{' and '.join(patterns)} ({len(names)} databases)"
    templates = sorted({t for s in summaries for t in s["templates"]})
    cloned = f" cloned from {', '.join(templates)}" if templates else ""
    kept = reuse_note(state.settings, backend, all(s["kept"] for s in summaries))
    server = state.server.seconds if state.server is not None else 0.0
    provisioning = server + max(s["provisioning"] for s in summaries)
    schema = max(s["schema"] for s in summaries)
    notes = dict.fromkeys([*state.notes, *(n for s in summaries for n in s["notes"])])
    tried = "".join(f"\n  ({note})" for note in notes)
    count = len(summaries)
    return (
        f"yara: {backend} databases {where}{cloned} via {first['method']}{kept}; "
        f"provisioning {provisioning:.2f}s, schema {schema:.2f}s "
        f"(slowest of {count} worker{'s' if count > 1 else ''}){tried}"
    )


def drop_templates(state: PluginState, config: pytest.Config) -> None:
    """Drop the workers' templates on a server that outlives the run (--yara-db-url), unless
    they are kept for the next one; a provisioned server goes with its templates."""
    settings = state.settings
    if settings.reuse or not settings.url or state.worker is not None:
        return
    url = settings.url
    templates = sorted({t for s in config.stash.get(SUMMARIES, []) for t in s["templates"]})
    for template in templates:
        state.get_portal().run(drop_database, url, template)
