"""The pytest plugin (registered through the `pytest11` entry point): options and their ini
twins, markers, the budget and N+1 checks around each test body, and the report."""

from __future__ import annotations

import warnings
from collections.abc import Generator
from typing import Any

import pytest

from yara_testing.fixtures import (  # noqa: F401  (fixtures are found by name)
    ACTIVE,
    _yara_marker,
    _yara_session_request,
    yara_db,
    yara_orm_config,
    yara_queries,
    yara_seed,
    yara_session,
)
from yara_testing.nplusone import Detector
from yara_testing.recorder import QueryLog, recorder
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
        "--yara-deadlock-timeout",
        dest="yara_deadlock_timeout",
        default=None,
        help="seconds a query may wait for the test's connection while another task's "
        "transaction holds it idle, before failing as a deadlock (default 10)",
    )
    parser.addini("yara_db", "sqlite or postgres", default="")
    parser.addini("yara_db_url", "PostgreSQL server URL", default="")
    parser.addini(
        "yara_reuse_db", "keep the test database between runs", type="bool", default=False
    )
    parser.addini("yara_pg_image", "testcontainers image", default="")
    parser.addini("yara_nplusone", "off, warn or error", default="")
    parser.addini("yara_report", "JSON report path", default="")
    parser.addini(
        "yara_models", "modules whose models form the schema", type="linelist", default=[]
    )
    parser.addini("yara_db_name", "test database name (test_<name>)", default="")
    parser.addini(
        "yara_deadlock_timeout", "seconds before a blocked query fails as a deadlock", default=""
    )


def pytest_configure(config: pytest.Config) -> None:
    for marker in (
        "yara_db(transaction=False, databases='__all__'): give the test the database; "
        "transaction=True commits for real and empties the tables afterwards; databases= the "
        "connection aliases it may use",
        "yara_external_db: allow the test to connect() to databases other than the test ones",
        "yara_max_queries(n): fail if the test body runs more than n queries",
        "yara_max_db_time(seconds): fail if the test body's queries take longer in total",
        "yara_no_nplusone: do not run the N+1 detector on this test",
    ):
        config.addinivalue_line("markers", marker)
    workerinput = getattr(config, "workerinput", None)
    worker = workerinput["workerid"] if workerinput else None
    state = PluginState(Settings.read(config), worker)
    config.stash[STATE] = state
    state.install()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    uses_db = "yara_db" in getattr(item, "fixturenames", ()) or bool(
        item.get_closest_marker("yara_db")
    )
    external = item.get_closest_marker("yara_external_db") is not None
    item.config.stash[STATE].item_redirects = uses_db and not external


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
    where = settings.url or (
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
    state: PluginState = item.config.stash[STATE]
    body = QueryLog()
    detector = Detector()
    rec = recorder()
    rec.listeners.append(detector)
    try:
        with rec.capture(body):
            result = yield
    except BaseException:
        item.stash[FINDINGS] = [f.message for f in detector.findings()]
        raise
    finally:
        rec.listeners.remove(detector)
    problems = []
    limit = item.get_closest_marker("yara_max_queries")
    if limit is not None and len(body) > int(limit.args[0]):
        problems.append(
            f"the test body ran {len(body)} queries, "
            f"more than yara_max_queries({limit.args[0]}):\n{body}"
        )
    budget = item.get_closest_marker("yara_max_db_time")
    if budget is not None and body.total_duration > float(budget.args[0]):
        problems.append(
            f"the test body's queries took {body.total_duration:.3f}s, more than "
            f"yara_max_db_time({budget.args[0]}):\n{body}"
        )
    findings = [f.message for f in detector.findings()]
    item.stash[FINDINGS] = findings
    mode = state.settings.nplusone
    if findings and mode != "off" and item.get_closest_marker("yara_no_nplusone") is None:
        if mode == "error":
            problems.extend(findings)
        else:
            for message in findings:
                warnings.warn(YaraNPlusOneWarning(message), stacklevel=1)
    if problems:
        raise AssertionError("\n\n".join(problems))
    return result


FINDINGS = pytest.StashKey[list[str]]()


@pytest.hookimpl(trylast=True)  # after the fixtures' teardown, which may still use the database
def pytest_runtest_teardown(item: pytest.Item) -> None:
    state: PluginState = item.config.stash[STATE]
    state.item_redirects = False
    log = item.stash.get(ACTIVE, None)
    if log is not None:
        state.report.add(item.nodeid, log, item.stash.get(FINDINGS, []))


def pytest_sessionfinish(session: pytest.Session) -> None:
    state: PluginState = session.config.stash[STATE]
    if state.session is not None:
        state.report.redirects = state.session.redirect_lines()
        state.session.finish()
        state.session = None
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["yara_report"] = state.report.to_data()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    data = getattr(node, "workeroutput", {}).get("yara_report")
    if data:
        node.config.stash[STATE].report.merge(data)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    state: PluginState = config.stash[STATE]
    if state.worker is not None or not state.report.tests:
        return
    terminalreporter.section("yara query report")
    if state.report.provisioning:
        terminalreporter.write_line(state.report.provisioning)
    for line in state.report.redirects:
        terminalreporter.write_line(line)
    for line in state.report.lines():
        terminalreporter.write_line(line)
    if state.settings.report_path:
        state.report.write(state.settings.report_path)
        terminalreporter.write_line(f"JSON report written to {state.settings.report_path}")


def pytest_unconfigure(config: pytest.Config) -> None:
    state: PluginState | None = config.stash.get(STATE, None)
    if state is None:
        return
    state.uninstall()
    if state.session is not None:
        state.session.finish()
        state.session = None
    if state.server is not None:
        state.server.stop()
        state.server = None
    if state.portal is not None:
        state.portal.close()
