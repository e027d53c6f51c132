"""The suite's results as JSON, a Markdown table and a PNG chart."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from common import OPERATIONS, SIZES

LABELS = {
    "ours": "yara-orm (this repo)",
    "yara_1_19": "yara-orm 1.19.1 (PyPI)",
    "tortoise": "Tortoise ORM 1.1.9",
    "raw": "raw driver (asyncpg / sqlite3)",
}
COLOURS = {"ours": "#d62728", "yara_1_19": "#ff7f0e", "tortoise": "#1f77b4", "raw": "#7f7f7f"}
BACKENDS = {"sqlite": "SQLite (file, WAL)", "postgres": "PostgreSQL (127.0.0.1)"}
PART_LABELS = {
    "test_overhead": "per-test overhead of `yara_db`",
    "provisioning": "provisioning a local PostgreSQL cluster",
    "recorder": "query recorder overhead",
}


def machine_line(results: dict[str, Any]) -> str:
    m = results["machine"]
    version = (results.get("postgres_version") or "").split(" ")[0]
    pg = f", PostgreSQL {version}" if version else ""
    return (
        f"{m['cores']} cores, {m['cpu']}, {m['memory']} RAM, Python {m['python']}{pg}, "
        f"{results['date'][:10]}"
    )


def operation_label(op: str, results: dict[str, Any]) -> str:
    sizes = results.get("sizes") or SIZES["full"]
    counts = {
        "bulk_insert": f"bulk_insert {sizes['rows']:,}",
        "fetch_all": f"fetch_all {sizes['rows']:,}",
        "values": f"values {sizes['rows']:,}",
        "get_seq": f"get(pk) x{sizes['gets']} sequential",
        "get_concurrent": f"get(pk) x{sizes['gets']} gather",
        "filter_count": f"filter().count() x{sizes['counts']}",
        "filter_order_limit": "filter+order_by+limit 100",
        "update": "filter().update()",
        "single_insert": f"create() x{sizes['inserts']}",
        "fetch_100k": f"fetch {sizes['big']:,} rows",
        "fetch_100k_stall": f"worst loop stall, {sizes['big']:,}-row fetch",
    }
    return counts.get(op, op)


def _ms(value: float) -> str:
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def contender_table(results: dict[str, Any], backend: str) -> list[str]:
    contenders = results["contenders"]
    table = results["results"].get(backend, {})
    missing = results.get("missing", {}).get(backend, {})
    head = ["operation", *(LABELS.get(c, c) for c in contenders)]
    lines = ["| " + " | ".join(head) + " |", "| " + " | ".join(["---"] * len(head)) + " |"]
    for op, _ in OPERATIONS:
        if op not in table and not any(op in m for m in missing.values()):
            continue
        cells = [operation_label(op, results)]
        for contender in contenders:
            cell = table.get(op, {}).get(contender)
            if cell is None:
                cells.append("missing" if op in missing.get(contender, {}) else "—")
            elif contender == "ours":
                cells.append(f"**{_ms(cell['median_ms'])}**")
            elif "ratio" in cell:
                cells.append(f"{_ms(cell['median_ms'])} ({cell['ratio']:.2f}x)")
            else:
                cells.append(_ms(cell["median_ms"]))
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def toolkit_table(toolkit: dict[str, Any]) -> list[str]:
    lines = ["| measurement | SQLite | PostgreSQL |", "| --- | --- | --- |"]

    def row(label: str, part: str, render: Any) -> None:
        data = toolkit.get(part)
        if data:
            cells = [render(data[b]) if b in data else "—" for b in ("sqlite", "postgres")]
            lines.append(f"| {label} | {cells[0]} | {cells[1]} |")

    row(
        "per-test overhead of `yara_db` (median test with it minus without)",
        "test_overhead",
        lambda d: f"{d['overhead_ms']:.2f} ms ({d['with_ms']:.2f} vs {d['without_ms']:.2f} ms)",
    )
    prov = toolkit.get("provisioning")
    if prov and "error" not in prov:
        lines.append(
            "| provisioning a local cluster: the plugin's figures; pytest's start to the first "
            f"test | {prov['first_test_sqlite_s']:.2f} s to the first test (in memory) | "
            f"{prov['provisioning_s']:.2f} s + schema {prov['schema_s']:.2f} s; "
            f"{prov['first_test_s']:.2f} s to the first test |"
        )
    row(
        "query recorder on `get(pk)` x{n}: median ratio of neighbouring blocks (medians with "
        "vs without)".format(
            n=next(iter(toolkit.get("recorder", {}).values()), {}).get("gets", "")
        ),
        "recorder",
        lambda d: f"{d['overhead_pct']:+.1f}% ({d['with_ms']:.1f} vs {d['without_ms']:.1f} ms)",
    )
    return lines


def markdown(results: dict[str, Any]) -> str:
    out = [
        f"Benchmark suite, {machine_line(results)}; "
        + (f"medians of {results['rounds']} rounds" if results["rounds"] != 1 else "one round")
        + (" (quick sizes)" if results.get("quick") else "")
        + f", load average {results['load_average']['before'][0]:.1f} at the start, "
        f"{results['load_average']['after'][0]:.1f} at the end. ours: "
        f"{results.get('ours_source') or 'not run'}.",
        "",
        "Median ms; in brackets ours / that contender (below 1: ours is faster).",
    ]
    for backend, table in results["results"].items():
        if not table:
            continue
        out += ["", f"### {BACKENDS[backend]}", "", *contender_table(results, backend)]
    missing = results.get("missing", {})
    notes = [
        f"- {LABELS.get(c, c)} on {b}: {op} missing ({why})"
        for b, by in missing.items()
        for c, ops in by.items()
        for op, why in ops.items()
    ]
    if results.get("toolkit"):
        out += ["", "### The test toolkit (ours)", "", *toolkit_table(results["toolkit"])]
        notes += [
            f"- {PART_LABELS[p]}: {d['error']}"
            for p, d in results["toolkit"].items()
            if isinstance(d, dict) and "error" in d
        ]
    notes += [f"- error: {e.splitlines()[0]}" for e in results.get("errors", [])]
    if notes:
        out += ["", *notes]
    return "\n".join(out) + "\n"


def chart(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    backends = [b for b, table in results["results"].items() if table]
    contenders = results["contenders"]
    fig, axes = plt.subplots(len(backends), 1, figsize=(13, 4.6 * len(backends)), squeeze=False)
    width = 0.8 / max(len(contenders), 1)
    for ax, backend in zip(axes[:, 0], backends, strict=True):
        table = results["results"][backend]
        ops = [op for op, _ in OPERATIONS if op in table]
        for i, contender in enumerate(contenders):
            xs = [n + (i - (len(contenders) - 1) / 2) * width for n in range(len(ops))]
            heights = [table[op].get(contender, {}).get("median_ms", 0) for op in ops]
            ax.bar(
                xs,
                heights,
                width,
                label=LABELS.get(contender, contender),
                color=COLOURS.get(contender),
            )
        ax.set_yscale("log")
        ax.set_ylabel("median ms (log scale, lower is better)")
        ax.set_title(BACKENDS[backend], loc="left", fontsize=11)
        ax.set_xticks(range(len(ops)))
        ax.set_xticklabels(
            [operation_label(op, results) for op in ops], rotation=25, ha="right", fontsize=8
        )
        ax.grid(axis="y", which="major", alpha=0.3)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(
        handles,
        labels,
        loc="upper center",
        ncol=len(contenders),
        fontsize=9,
        bbox_to_anchor=(0.5, 0.955),
        frameon=False,
    )
    fig.suptitle(f"yara-orm benchmark suite: {machine_line(results)}", fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    fig.savefig(path, dpi=110, format="png")  # the path ends in .tmp until it is complete
    plt.close(fig)


def write_all(results: dict[str, Any], directory: Path, stem: str) -> list[Path]:
    """Write stem.json, stem.md and stem.png, each through a .tmp file then a rename."""
    paths = [directory / f"{stem}.{ext}" for ext in ("json", "md", "png")]
    if not any(results["results"].values()):  # only the toolkit ran: nothing to draw
        paths[2].unlink(missing_ok=True)
        paths.pop()
    writers = [
        lambda p: p.write_text(json.dumps(results, indent=2) + "\n"),
        lambda p: p.write_text(markdown(results)),
        lambda p: chart(results, p),
    ]
    for path, write in zip(paths, writers, strict=False):
        temporary = path.with_name(path.name + ".tmp")
        write(temporary)
        os.replace(temporary, path)
    return paths
