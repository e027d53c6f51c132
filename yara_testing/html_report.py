"""The session report as one self-contained HTML page (`--yara-report-html=PATH`): inline CSS,
JS and SVG, nothing fetched. A table of the tests, sortable by clicking a column header; per
test its numbered statements with highlighted SQL, parameters, timings, location and N+1
suspects, and a chart of the time each statement held the GIL against the time it released it
for I/O; a session chart of the heaviest tests.

Everything that comes from the suite (SQL, parameters, test ids, locations, messages) is
escaped here, on the Python side: the page's script only reorders and shows elements."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter
from html import escape
from pathlib import Path
from typing import Any

from yara_testing.report import SessionReport, TestEntry

HEAVIEST = 10  # tests in the session chart
CHART_WIDTH = 640

_KEYWORDS = frozenset(
    """
    add all alter and as asc begin between by case cast check commit conflict constraint count
    create cross default delete desc distinct do drop else end escape except exists false
    fetch first for foreign from full group having ilike in index inner insert intersect into
    is join key left like limit locked next not nothing nowait null nulls offset on only or
    order outer over partition primary references release returning right rollback rows
    savepoint select set share skip table then to true union unique update using values when
    where with
    """.split()
)
_SQL_TOKEN = re.compile(
    r"""(?P<string>'(?:[^']|'')*'?)
      | (?P<ident>"(?:[^"]|"")*"?|`[^`]*`?)
      | (?P<comment>--[^\n]*|/\*.*?(?:\*/|$))
      | (?P<param>\$\d+|\?\d*)
      | (?P<number>\b\d+(?:\.\d+)?\b)
      | (?P<word>\b[A-Za-z_][A-Za-z_0-9]*\b)""",
    re.VERBOSE | re.DOTALL,
)


def highlight_sql(sql: str) -> str:
    """The SQL as escaped HTML, with keywords, literals, placeholders and comments in spans."""
    out: list[str] = []
    position = 0
    for match in _SQL_TOKEN.finditer(sql):
        out.append(escape(sql[position : match.start()]))
        kind, text = match.lastgroup or "", match.group()
        if kind == "word":
            kind = "kw" if text.lower() in _KEYWORDS else ""
        out.append(f'<span class="{kind}">{escape(text)}</span>' if kind else escape(text))
        position = match.end()
    out.append(escape(sql[position:]))
    return "".join(out)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f}"


def _rows(count: int) -> str:
    return "1 row" if count == 1 else f"{count} rows"


def _body_queries(entry: TestEntry) -> int:
    return sum(1 for s in entry.statements if s.get("phase", "body") == "body")


def _bar(x: float, y: float, width: float, height: float, kind: str, title: str) -> str:
    return (
        f'<rect class="{kind}" x="{x:.2f}" y="{y:.2f}" width="{max(width, 0):.2f}" '
        f'height="{max(height, 0):.2f}"><title>{escape(title)}</title></rect>'
    )


def statement_chart(entry: TestEntry) -> str:
    """One column per statement: the GIL held at the bottom, the time released for I/O above."""
    statements = entry.statements
    peak = max((s["gil_held"] + s["io"] for s in statements), default=0.0)
    if peak <= 0:
        return '<p class="muted">no engine timings recorded</p>'
    height, step = 120, CHART_WIDTH / len(statements)
    gap = min(step * 0.2, 2.0)
    parts = []
    for number, s in enumerate(statements, start=1):
        title = (
            f"#{number} ({s.get('phase', 'body')}): GIL held {_ms(s['gil_held'])} ms, "
            f"released for I/O {_ms(s['io'])} ms"
        )
        x = (number - 1) * step
        held = s["gil_held"] / peak * height
        io = s["io"] / peak * height
        parts.append(_bar(x, height - held, step - gap, held, "held", title))
        parts.append(_bar(x, height - held - io, step - gap, io, "io", title))
    return (
        f'<svg class="chart" role="img" width="{CHART_WIDTH}" height="{height}" '
        f'viewBox="0 0 {CHART_WIDTH} {height}" aria-label="GIL held and released per statement">'
        f"{''.join(parts)}</svg>"
        f'<p class="legend"><span class="swatch held"></span>GIL held {_ms(entry.gil_held)} ms '
        f'<span class="swatch io"></span>released for I/O {_ms(entry.io)} ms '
        f'<span class="muted">(tallest column: {_ms(peak)} ms)</span></p>'
    )


def session_chart(report: SessionReport) -> str:
    """The heaviest tests by database time, each bar split into GIL held and released."""
    indexed = sorted(
        ((i, t) for i, t in enumerate(report.tests) if t.queries),
        key=lambda pair: pair[1].duration,
        reverse=True,
    )[:HEAVIEST]
    peak = max((max(t.duration, t.gil_held + t.io) for _, t in indexed), default=0.0)
    if peak <= 0:
        return '<p class="muted">no queries recorded</p>'
    row, label = 22, 300
    width = CHART_WIDTH + label
    parts = []
    for rank, (index, test) in enumerate(indexed):
        y = rank * row
        name = test.test if len(test.test) <= 48 else "…" + test.test[-47:]
        title = (
            f"{test.test}: {test.queries} queries, {_ms(test.duration)} ms; GIL held "
            f"{_ms(test.gil_held)} ms, released for I/O {_ms(test.io)} ms"
        )
        held = test.gil_held / peak * CHART_WIDTH
        io = test.io / peak * CHART_WIDTH
        other = max(test.duration - test.gil_held - test.io, 0.0) / peak * CHART_WIDTH
        parts.append(
            f'<a href="#test-{index}"><text x="{label - 6}" y="{y + 15}" text-anchor="end">'
            f"{escape(name)}<title>{escape(title)}</title></text>"
            + _bar(label, y + 3, held, row - 6, "held", title)
            + _bar(label + held, y + 3, io, row - 6, "io", title)
            + _bar(label + held + io, y + 3, other, row - 6, "other", title)
            + "</a>"
        )
    return (
        f'<svg class="chart" id="session-chart" role="img" width="{width}" '
        f'height="{row * len(indexed)}" viewBox="0 0 {width} {row * len(indexed)}" '
        f'aria-label="heaviest tests by database time">{"".join(parts)}</svg>'
        '<p class="legend"><span class="swatch held"></span>GIL held '
        '<span class="swatch io"></span>released for I/O '
        '<span class="swatch other"></span>the rest of the database time</p>'
    )


def _statement(number: int, s: dict[str, Any]) -> str:
    phase = str(s.get("phase", "body"))
    badges = [f'<span class="badge phase-{escape(phase)}">{escape(phase)}</span>']
    if s.get("slow"):
        badges.append('<span class="badge slow">slow</span>')
    if s.get("injected"):
        badges.append('<span class="badge injected">injected</span>')
    simulated = f" · simulated {_ms(s['simulated'])} ms" if s.get("simulated") else ""
    if s.get("error"):
        badges.append('<span class="badge error">failed</span>')
    params = ""
    if s.get("params"):
        text = json.dumps(s["params"], ensure_ascii=False)
        params = f'<div class="params">params <code>{escape(text)}</code></div>'
    error = f'<div class="error">{escape(str(s["error"]))}</div>' if s.get("error") else ""
    return (
        f'<li class="statement" value="{number}"><div class="meta">{"".join(badges)} '
        f"{_ms(s['duration'])} ms · GIL held {_ms(s['gil_held'])} ms · I/O {_ms(s['io'])} ms"
        f"{simulated} · "
        f"{_rows(int(s.get('rows', 0)))} · {escape(str(s.get('connection', 'default')))} · at "
        f'<code class="location">{escape(str(s.get("location", "")))}</code></div>'
        f'<pre class="sql">{highlight_sql(str(s["sql"]))}</pre>{params}{error}</li>'
    )


COLUMNS = (
    # key, header, numeric
    ("test", "Test", False),
    ("outcome", "Outcome", False),
    ("queries", "Queries", True),
    ("body", "Body queries", True),
    ("db", "DB time (ms)", True),
    ("gil", "GIL held (ms)", True),
    ("io", "I/O (ms)", True),
    ("simulated", "Simulated latency (ms)", True),
    ("nplusone", "N+1", True),
)


def _test(index: int, entry: TestEntry) -> str:
    values = {
        "test": entry.test,
        "outcome": entry.outcome,
        "queries": str(entry.queries),
        "body": str(_body_queries(entry)),
        "db": _ms(entry.duration),
        "gil": _ms(entry.gil_held),
        "io": _ms(entry.io),
        "simulated": _ms(entry.simulated),
        "nplusone": str(len(entry.nplusone)),
    }
    data = " ".join(f'data-{key}="{escape(value)}"' for key, value in values.items())
    cells = [
        f'<td class="name"><button type="button" class="toggle" aria-expanded="false" '
        f'aria-controls="detail-{index}">{escape(entry.test)}</button></td>',
        f'<td><span class="badge outcome-{escape(entry.outcome)}">{escape(entry.outcome)}'
        "</span></td>",
        *(f'<td class="num">{escape(values[key])}</td>' for key, _, _ in COLUMNS[2:]),
    ]
    suspects = "".join(f"<li>{escape(message)}</li>" for message in entry.nplusone)
    nplusone = f'<h4>N+1 suspects</h4><ul class="nplusone">{suspects}</ul>' if suspects else ""
    hinted = "".join(f"<li>{escape(message)}</li>" for message in entry.hints)
    if hinted:
        nplusone += f"<h4>Hints</h4><ul>{hinted}</ul>"
    statements = "".join(_statement(n, s) for n, s in enumerate(entry.statements, start=1))
    return (
        f'<tbody class="test" id="test-{index}" data-index="{index}" {data}>'
        f'<tr class="summary">{"".join(cells)}</tr>'
        f'<tr class="detail" id="detail-{index}" hidden><td colspan="{len(COLUMNS)}">'
        f"{statement_chart(entry)}{nplusone}"
        f'<h4>{entry.queries} queries</h4><ol class="statements">{statements}</ol></td></tr>'
        "</tbody>"
    )


def render(report: SessionReport) -> str:
    tests = report.tests
    outcomes = Counter(t.outcome for t in tests)
    simulated = sum(t.simulated for t in tests)
    totals = (
        f"{len(tests)} tests ("
        + ", ".join(f"{count} {outcome}" for outcome, count in sorted(outcomes.items()))
        + f"), {sum(t.queries for t in tests)} queries, "
        f"{_ms(sum(t.duration for t in tests))} ms in the database: GIL held "
        f"{_ms(sum(t.gil_held for t in tests))} ms, released for I/O "
        f"{_ms(sum(t.io for t in tests))} ms"
        + (f" ({_ms(simulated)} ms of it simulated latency)" if simulated else "")
        + ". Statements slower than "
        f"{report.slow_query_ms:g} ms are marked slow."
    )
    notes = "".join(
        f"<li>{escape(line)}</li>" for line in [report.provisioning, *report.redirects] if line
    )
    headers = "".join(
        f'<th data-key="{key}" data-type="{"number" if numeric else "text"}" tabindex="0" '
        f'title="sort">{escape(label)}</th>'
        for key, label, numeric in COLUMNS
    )
    rows = "".join(_test(index, entry) for index, entry in enumerate(tests))
    generated = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return PAGE.format(
        css=CSS,
        script=SCRIPT,
        generated=escape(generated),
        totals=escape(totals),
        notes=f'<ul class="notes">{notes}</ul>' if notes else "",
        chart=session_chart(report),
        headers=headers,
        rows=rows,
    )


def write_html(report: SessionReport, path: str) -> None:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render(report), encoding="utf-8")


PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>yara query report</title>
<style>{css}</style>
</head>
<body>
<header>
<h1>yara query report</h1>
<p class="muted">generated {generated}</p>
<p id="totals">{totals}</p>
{notes}
</header>
<section>
<h2>Heaviest tests</h2>
{chart}
</section>
<section>
<h2>Tests</h2>
<p class="muted">Click a column header to sort (again to reverse); click a test for its
queries. <button type="button" id="expand-all">expand all</button>
<button type="button" id="collapse-all">collapse all</button></p>
<table id="tests">
<thead><tr>{headers}</tr></thead>
{rows}
</table>
</section>
<script>{script}</script>
</body>
</html>
"""

CSS = """
body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 1.5em;
  color: #1d232a; background: #fbfbfc; }
h1 { font-size: 1.5em; margin: 0 0 .2em; } h2 { font-size: 1.2em; margin-top: 1.6em; }
h4 { margin: .8em 0 .3em; }
.muted { color: #69727d; }
table { border-collapse: collapse; width: 100%; }
th, td { padding: .3em .6em; border-bottom: 1px solid #e3e6ea; text-align: left;
  vertical-align: top; }
th { cursor: pointer; user-select: none; background: #eef1f4; white-space: nowrap; }
th[aria-sort="ascending"]::after { content: " \\25B2"; }
th[aria-sort="descending"]::after { content: " \\25BC"; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
button.toggle { all: unset; cursor: pointer; color: #1f5fae; word-break: break-all; }
button.toggle[aria-expanded="true"] { font-weight: 600; }
tr.detail > td { background: #fff; padding: .5em 1em 1em; }
ol.statements { padding-left: 2.5em; }
li.statement { margin-bottom: .8em; }
.meta { color: #3f4852; font-size: .92em; }
pre.sql { margin: .2em 0; padding: .4em .6em; background: #f4f6f8; border-radius: 4px;
  white-space: pre-wrap; word-break: break-word; }
.sql .kw { color: #7b30a8; font-weight: 600; } .sql .string { color: #20804a; }
.sql .number { color: #b05a00; } .sql .param { color: #c4262e; font-weight: 600; }
.sql .ident { color: #1f5fae; } .sql .comment { color: #8a939c; font-style: italic; }
.params code, code.location { background: #f4f6f8; padding: 0 .3em; border-radius: 3px; }
.error { color: #b3261e; }
.badge { display: inline-block; padding: 0 .45em; border-radius: 8px; font-size: .85em;
  background: #e3e6ea; }
.outcome-passed { background: #d3f0dc; } .outcome-failed, .badge.error { background: #f8d3d0; }
.outcome-error { background: #f5c08a; } .outcome-skipped { background: #e8e3f4; }
.badge.slow { background: #fde6a8; } .badge.injected { background: #f6c6ea; }
.phase-setup, .phase-teardown { background: #dce8f6; }
ul.nplusone li { color: #8a4b00; }
svg.chart { max-width: 100%; height: auto; display: block; }
svg .held, .swatch.held { fill: #d9534f; background: #d9534f; }
svg .io, .swatch.io { fill: #4a90d9; background: #4a90d9; }
svg .other, .swatch.other { fill: #c5cbd3; background: #c5cbd3; }
svg text { font-size: 12px; fill: #1d232a; }
.swatch { display: inline-block; width: .9em; height: .9em; margin: 0 .3em 0 .8em;
  vertical-align: -.1em; }
"""

SCRIPT = """
(function () {
  "use strict";
  var table = document.getElementById("tests");
  var headers = Array.prototype.slice.call(table.querySelectorAll("th[data-key]"));

  function sortBy(th) {
    var key = th.getAttribute("data-key");
    var numeric = th.getAttribute("data-type") === "number";
    var current = th.getAttribute("aria-sort");
    // Numbers start with the largest (the heaviest tests first), text from A.
    var descending = current ? current === "ascending" : numeric;
    var bodies = Array.prototype.slice.call(table.tBodies);
    bodies.sort(function (a, b) {
      var x = a.getAttribute("data-" + key), y = b.getAttribute("data-" + key);
      var order = numeric ? parseFloat(x) - parseFloat(y) : x.localeCompare(y);
      if (descending) { order = -order; }
      return order || a.getAttribute("data-index") - b.getAttribute("data-index");
    });
    bodies.forEach(function (body) { table.appendChild(body); });
    headers.forEach(function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", descending ? "descending" : "ascending");
  }

  function show(body, open) {
    body.querySelector("tr.detail").hidden = !open;
    body.querySelector("button.toggle").setAttribute("aria-expanded", String(open));
  }

  headers.forEach(function (th) {
    th.addEventListener("click", function () { sortBy(th); });
    th.addEventListener("keydown", function (event) {
      if (event.key === "Enter" || event.key === " ") { event.preventDefault(); sortBy(th); }
    });
  });
  table.addEventListener("click", function (event) {
    var button = event.target.closest("button.toggle");
    if (button) {
      var body = button.closest("tbody");
      show(body, body.querySelector("tr.detail").hidden);
    }
  });
  function all(open) {
    Array.prototype.forEach.call(table.tBodies, function (body) { show(body, open); });
  }
  document.getElementById("expand-all").addEventListener("click", function () { all(true); });
  document.getElementById("collapse-all").addEventListener("click", function () { all(false); });
  function openFromHash() {
    var target = location.hash && document.getElementById(location.hash.slice(1));
    if (target && target.tagName === "TBODY") { show(target, true); target.scrollIntoView(); }
  }
  window.addEventListener("hashchange", openFromHash);
  openFromHash();
  document.body.setAttribute("data-ready", "true");
})();
"""
