"""The pytest plugin (registered through the `pytest11` entry point): options and their ini
twins, markers, the budget and N+1 checks around each test body, and the report."""

from __future__ import annotations

import warnings
from collections.abc import Generator
from typing import Any

import pytest

from yara_orm.config import redact_url
from yara_testing import workers
from yara_testing.fixtures import (  # noqa: F401  (fixtures are found by name)
    ACTIVE,
    _yara_marker,
    _yara_session_request,
    yara_assert_max_num_queries,
    yara_assert_num_queries,
    yara_db,
    yara_db_blocker,
    yara_orm_config,
    yara_queries,
    yara_seed,
    yara_session,
    yara_transactional_db,
)
from yara_testing.markers import closest_marker
from yara_testing.nplusone import Detector, Finding
from yara_testing.recorder import QueryLog, count_queries, recorder, set_location_base
from yara_testing.report import ItemProgress, write_reports
from yara_testing.session import STATE, PluginState, Settings


class YaraNPlusOneWarning(UserWarning):
    pass


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("yara", "yara-orm test databases")
    group.addoption(
        "--yara-db", dest="yara_db", default=None, help="sqlite (default, in memory) or postgres"
    )
    group.addoption(
        "--yara-db-url",
        dest="yara_db_url",
        default=None,
        help="an existing PostgreSQL server to create the test database on (env YARA_TEST_DB_URL)",
    )
    group.addoption(
        "--yara-reuse-db",
        dest="yara_reuse_db",
        action="store_true",
        default=False,
        help="keep the test database (and a provisioned server) for the next run",
    )
    group.addoption(
        "--yara-pg-image", dest="yara_pg_image", default=None, help="image for testcontainers"
    )
    group.addoption(
        "--yara-create-db",
        dest="yara_create_db",
        action="store_true",
        default=False,
        help="with --yara-reuse-db: rebuild the kept database (and local cluster) this time",
    )
    group.addoption(
        "--yara-pg-bin",
        dest="yara_pg_bin",
        default=None,
        help="directory of the PostgreSQL server binaries (initdb, postgres) to run a local "
        "cluster with; testcontainers is not tried then",
    )
    group.addoption(
        "--yara-pg-port",
        dest="yara_pg_port",
        default=None,
        help="port of the provisioned server; it also listens on 127.0.0.1:PORT "
        "(default: a Unix socket only)",
    )
    group.addoption(
        "--yara-pg-option",
        dest="yara_pg_options",
        action="append",
        default=None,
        metavar="NAME=VALUE",
        help="a setting of the provisioned server (-c NAME=VALUE); repeatable",
    )
    group.addoption(
        "--yara-db-setup-sql",
        dest="yara_db_setup_sql",
        action="append",
        default=None,
        metavar="SQL",
        help="SQL run on each PostgreSQL test database before the schema is created "
        "(e.g. CREATE EXTENSION IF NOT EXISTS pg_trgm); repeatable",
    )
    group.addoption(
        "--yara-nplusone",
        dest="yara_nplusone",
        default=None,
        help="off (default), warn or error: the N+1 detector on every test",
    )
    group.addoption(
        "--yara-report",
        dest="yara_report",
        default=None,
        help="write the query report as JSON to PATH",
    )
    group.addoption(
        "--yara-report-html",
        dest="yara_report_html",
        default=None,
        help="write the query report as one self-contained HTML page to PATH",
    )
    group.addoption(
        "--yara-slow-query",
        dest="yara_slow_query",
        default=None,
        help="milliseconds above which a statement is flagged slow in the reports (default 100)",
    )
    group.addoption(
        "--yara-deadlock-timeout",
        dest="yara_deadlock_timeout",
        default=None,
        help="seconds a query may wait for the test's connection while another task's "
        "transaction holds it idle, before failing as a deadlock (default 10)",
    )
    group.addoption(
        "--yara-latency",
        dest="yara_latency",
        default=None,
        help="add this latency to every statement of every test, as a production database "
        "would (a duration: 2ms, 0.5s, 300us); a test's yara_latency marker wins",
    )
    parser.addini("yara_db", "sqlite or postgres", default="")
    parser.addini("yara_db_url", "PostgreSQL server URL", default="")
    parser.addini(
        "yara_reuse_db", "keep the test database between runs", type="bool", default=False
    )
    parser.addini("yara_pg_image", "testcontainers image", default="")
    parser.addini(
        "yara_create_db", "rebuild the kept database and cluster", type="bool", default=False
    )
    parser.addini("yara_pg_bin", "directory of the PostgreSQL server binaries", default="")
    parser.addini("yara_pg_port", "port of the provisioned PostgreSQL server", default="")
    parser.addini(
        "yara_pg_options", "settings of the provisioned server: name=value lines", type="linelist"
    )
    parser.addini(
        "yara_db_setup_sql", "SQL run before the schema is created (PostgreSQL)", type="linelist"
    )
    parser.addini("yara_nplusone", "off, warn or error", default="")
    parser.addini("yara_report", "JSON report path (relative to the rootdir)", default="")
    parser.addini("yara_report_html", "HTML report path (relative to the rootdir)", default="")
    parser.addini("yara_slow_query", "milliseconds above which a statement is slow", default="")
    parser.addini(
        "yara_models", "modules whose models form the schema", type="linelist", default=[]
    )
    parser.addini("yara_db_name", "test database name (test_<name>)", default="")
    parser.addini(
        "yara_deadlock_timeout", "seconds before a blocked query fails as a deadlock", default=""
    )
    parser.addini("yara_latency", "latency added to every statement (2ms, 0.5s)", default="")


def pytest_configure(config: pytest.Config) -> None:
    for marker in (
        "yara_db(transaction=False, databases='__all__', reset_sequences=False): give the test "
        "the database; transaction=True commits for real and empties the tables afterwards; "
        "databases= the connection aliases it may use; reset_sequences=True makes generated "
        "keys continue from each table's highest, identically on every backend",
        "yara_external_db: allow the test to connect() to databases other than the test ones",
        "yara_max_queries(n): fail if the test body runs more than n queries",
        "yara_max_db_time(seconds): fail if the test body's queries take longer in total",
        "yara_latency(latency, jitter=0.0, seed=None): add latency to every statement of the "
        "test (seconds, '2ms', or {'SELECT': seconds, ...}), as a production database would",
        "yara_no_nplusone: do not run the N+1 detector on this test",
    ):
        config.addinivalue_line("markers", marker)
    workerinput = getattr(config, "workerinput", None)
    worker = workerinput["workerid"] if workerinput else None
    state = PluginState(Settings.read(config), worker)
    state.report.slow_query_ms = state.settings.slow_query_ms
    config.stash[STATE] = state
    state.notes.extend(state.settings.server.unused(state.settings.backend, state.settings.url))
    # Locations name files as pytest's own output does: relative to where it started.
    set_location_base(str(config.invocation_params.dir))
    state.install()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    uses_db = "yara_db" in getattr(item, "fixturenames", ()) or bool(
        closest_marker(item, "yara_db")
    )
    external = closest_marker(item, "yara_external_db") is not None
    state = item.config.stash[STATE]
    state.item_redirects = uses_db and not external
    state.item_running = True


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    """xdist controller, before the workers start: what every worker's session would fail on
    is said once here (a worker stopping the run is an INTERNALERROR of xdist's)."""
    config = session.config
    state: PluginState = config.stash[STATE]
    if state.worker is not None or not config.pluginmanager.has_plugin("dsession"):
        return
    problem = state.preflight()
    if problem is not None:
        pytest.exit(problem, returncode=pytest.ExitCode.USAGE_ERROR)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist controller: one PostgreSQL server for every worker, each its own database."""
    state: PluginState = node.config.stash[STATE]
    settings = state.settings
    if settings.backend == "postgres" and not settings.url:
        from yara_testing.provisioning import ProvisioningError

        try:
            server = state.ensure_server()
        except ProvisioningError as error:
            raise pytest.UsageError(str(error)) from None
        node.workerinput["yara_admin_url"] = server.admin_url
        node.workerinput["yara_method"] = server.method


def pytest_report_header(config: pytest.Config) -> str:
    settings = config.stash[STATE].settings
    where = (redact_url(settings.url) if settings.url else None) or (
        "in memory" if settings.backend == "sqlite" else "provisioned on first use"
    )
    return (
        f"yara: --yara-db={settings.backend} ({where}), N+1 detector {settings.nplusone}; "
        "YaraOrm.init() from application code binds to the test database"
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, Any, Any]:
    log: QueryLog | None = item.stash.get(ACTIVE, None)
    if log is None:
        return (yield)
    # The plugin's frames are not the failing code: failures here name the user's lines.
    __tracebackhide__ = True
    state: PluginState = item.config.stash[STATE]
    body = QueryLog()
    detector = Detector()
    rec = recorder()
    rec.listeners.append(detector)
    try:
        with rec.capture(body):
            result = yield
    except BaseException:
        item.stash[FINDINGS] = detector.findings()
        raise
    finally:
        rec.listeners.remove(detector)
    problems = []
    limit = closest_marker(item, "yara_max_queries")
    if limit is not None and len(body) > int(limit.args[0]):
        problems.append(
            f"the test body ran {count_queries(len(body))}, "
            f"more than yara_max_queries({limit.args[0]}):\n{body}"
        )
    budget = closest_marker(item, "yara_max_db_time")
    if budget is not None and body.total_duration > float(budget.args[0]):
        problems.append(
            f"the test body's queries took {_milliseconds(body.total_duration)}, more than "
            f"yara_max_db_time({budget.args[0]}) = {_milliseconds(float(budget.args[0]))}:"
            f"\n{body}"
        )
    findings = detector.findings()
    if closest_marker(item, "yara_no_nplusone") is not None:
        findings = [f for f in findings if not f.is_nplusone]  # exempt: not even reported
    item.stash[FINDINGS] = findings
    nplusone = [f for f in findings if f.is_nplusone]
    mode = state.settings.nplusone
    if nplusone and mode != "off" and closest_marker(item, "yara_no_nplusone") is None:
        if mode == "error":
            problems.extend(f.message for f in nplusone)
        else:
            for finding in nplusone:
                _warn_at(finding.message, finding.location)
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)
    return result


def _milliseconds(seconds: float) -> str:
    # Enough digits that a tiny budget and the time that broke it never read the same.
    return f"{seconds * 1000:.4g} ms"


def _warn_at(message: str, location: str) -> None:
    """A warning shown at the user's line that ran the queries, not at this plugin."""
    filename, _, line = location.rpartition(":")
    if not filename or not line.isdigit():
        filename, line = location or "<unknown>", "0"
    warnings.warn_explicit(YaraNPlusOneWarning(message), YaraNPlusOneWarning, filename, int(line))


FINDINGS = pytest.StashKey[list[Finding]]()


@pytest.hookimpl(trylast=True)  # after the fixtures' teardown, which may still use the database
def pytest_runtest_teardown(item: pytest.Item) -> None:
    state: PluginState = item.config.stash[STATE]
    state.item_redirects = False
    state.item_running = False


PROGRESS = pytest.StashKey[ItemProgress]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    log = item.stash.get(ACTIVE, None)
    if log is not None:
        # The log's length at each phase's end says which queries ran in setup, the body and
        # teardown; the test's report entry is complete once its teardown has been reported.
        progress = item.stash.setdefault(PROGRESS, ItemProgress())
        progress.phase_done(call.when, len(log), report)
        if call.when == "teardown":
            state: PluginState = item.config.stash[STATE]
            findings = item.stash.get(FINDINGS, [])
            state.report.add(
                item.nodeid,
                log,
                [f.message for f in findings if f.is_nplusone],
                progress,
                hints=[f.message for f in findings if not f.is_nplusone],
            )
    return report


def pytest_sessionfinish(session: pytest.Session) -> None:
    state: PluginState = session.config.stash[STATE]
    workeroutput = getattr(session.config, "workeroutput", None)
    if state.session is not None:
        if workeroutput is not None:
            workeroutput["yara_databases"] = workers.summary(state.session)
        state.report.redirects = state.session.redirect_lines()
        state.session.finish()
        state.session = None
    if workeroutput is not None:
        workeroutput["yara_report"] = state.report.to_data()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    data = getattr(node, "workeroutput", {}).get("yara_report")
    state: PluginState = node.config.stash[STATE]
    if data:
        state.report.merge(data)
    databases = getattr(node, "workeroutput", {}).get("yara_databases")
    if databases:
        # One line for the run, not the first worker's (its database, its 0.00s).
        state.report.provisioning = workers.describe(
            state, workers.received(node.config, databases)
        )


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    state: PluginState = config.stash[STATE]
    settings = state.settings
    if state.worker is not None:
        return
    if not (state.report.tests or settings.report_path or settings.report_html):
        return
    terminalreporter.section("yara query report")
    if state.report.provisioning:
        terminalreporter.write_line(state.report.provisioning)
    for line in state.report.redirects:
        terminalreporter.write_line(line)
    for line in state.report.lines():
        terminalreporter.write_line(line)
    for line in write_reports(state.report, settings.report_path, settings.report_html):
        terminalreporter.write_line(line)


def pytest_unconfigure(config: pytest.Config) -> None:
    state: PluginState | None = config.stash.get(STATE, None)
    if state is None:
        return
    state.uninstall()
    if state.session is not None:
        state.session.finish()
        state.session = None
    workers.drop_templates(state, config)
    if state.server is not None:
        state.server.stop()
        state.server = None
    if state.portal is not None:
        state.portal.close()
