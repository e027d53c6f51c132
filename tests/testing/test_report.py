"""The session query report: the JSON file (`--yara-report`) and the HTML page
(`--yara-report-html`), checked as files and, for the page, in a headless Chromium."""

from __future__ import annotations

import datetime as dt
import enum
import json
import shutil
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.testing.conftest import Runner
from yara_testing.html_report import highlight_sql
from yara_testing.recorder import QueryLog, QueryRecord
from yara_testing.report import ItemProgress, SessionReport, json_param

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
INSTALL_CHROMIUM = (
    "the browser tests need Chromium and its driver from the system packages: "
    "`DEBIAN_FRONTEND=noninteractive apt-get install -y chromium chromium-driver` "
    "(as root; `bash .ci/run` does it), and selenium (`pip install -e '.[dev]'`)"
)

# Tests of different weights, a failing, a skipped and an erroring one, queries in a fixture's
# setup and teardown, and a parameter and a test id that are HTML.
SUITE = """
import pytest
from app_models import Author, Book


@pytest.fixture
async def ada(yara_db):
    author = await Author.create(name="Ada")
    yield author
    await Author.filter(name="Ada").count()


@pytest.fixture
async def broken_teardown(yara_db):
    yield
    await Author.all().count()
    raise RuntimeError("teardown went wrong")


async def test_one(yara_db):
    await Author.all().count()


async def test_three(ada):
    await Book.create(title="a", author=ada)
    await Book.create(title="b", author=ada)


async def test_six(yara_db):
    author = await Author.create(name="Grace")
    for n in range(5):
        await Book.create(title=f"B{n}", author=author)


async def test_fails(yara_db):
    await Author.all().count()
    assert False, "on purpose"


async def test_skipped(yara_db):
    await Author.all().count()
    pytest.skip("on purpose")


async def test_errors(broken_teardown):
    await Author.all().count()


@pytest.mark.parametrize("label", ["<script>alert(1)</script>"])
async def test_html(yara_db, label):
    await Author.filter(name=label).count()
"""
TESTS = ["test_one", "test_three", "test_six", "test_fails", "test_skipped", "test_errors"]


def _add_to_ini(pytester: pytest.Pytester, *lines: str) -> None:
    ini = pytester.path / "tox.ini"  # the `app` fixture's
    ini.write_text(ini.read_text().rstrip("\n") + "\n" + "\n".join(lines) + "\n")


def _entries(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["test"].split("::")[-1]: t for t in data["tests"]}


# --- the JSON report -----------------------------------------------------------------------


class Colour(enum.Enum):
    RED = "red"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        (True, True),
        (3, 3),
        (1.5, 1.5),
        ("<b>", "<b>"),
        (float("nan"), "nan"),
        (float("-inf"), "-inf"),
        (Decimal("12.50"), "12.50"),
        (dt.datetime(2024, 5, 1, 12, 30, tzinfo=dt.UTC), "2024-05-01T12:30:00+00:00"),
        (dt.date(2024, 5, 1), "2024-05-01"),
        (dt.time(9, 15), "09:15:00"),
        (uuid.UUID(int=1), "00000000-0000-0000-0000-000000000001"),
        (b"\x00\xffA", "00ff41"),
        (Colour.RED, "red"),
        ((1, [Decimal("1"), None]), [1, ["1", None]]),
        ({"a": b"\x01"}, {"a": "01"}),
        (dt.timedelta(seconds=90), "0:01:30"),
    ],
)
def test_parameters_become_json_values(value: Any, expected: Any) -> None:
    assert json_param(value) == expected
    json.dumps(json_param(value), allow_nan=False)  # what JSON cannot hold became a string


def _record(duration: float, injected: str | None = None) -> QueryRecord:
    fields: dict[str, Any] = dict(
        sql="SELECT 1", params=(), duration=duration, gil_held=0.0, gil_wait=0.0, io=0.0
    )
    fields.update(rows=1, location="t.py:1", test=None, injected=injected)
    return QueryRecord(**fields)


def test_injected_and_slow_flags_per_statement() -> None:
    report = SessionReport(slow_query_ms=50)
    log = QueryLog([_record(0.01), _record(0.2, injected="connection_lost")])
    report.add("t.py::test", log, [], ItemProgress())
    first, second = report.to_data()["tests"][0]["statements"]
    assert (first["injected"], first["slow"]) == (False, False)
    assert (second["injected"], second["slow"]) == (True, True)


def test_json_report_outcomes_phases_and_parameters(app: Runner, pytester: pytest.Pytester) -> None:
    result = app("--yara-report=out/report.json", test_suite=SUITE)
    result.assert_outcomes(passed=5, failed=1, skipped=1, errors=1)
    result.stdout.fnmatch_lines(["*JSON report written to out/report.json*"])
    data = json.loads((pytester.path / "out" / "report.json").read_text())
    assert data["version"] == 1 and data["slow_query_ms"] == 100
    tests = _entries(data)
    assert {name: tests[name]["outcome"] for name in TESTS} == {
        "test_one": "passed",
        "test_three": "passed",
        "test_six": "passed",
        "test_fails": "failed",
        "test_skipped": "skipped",
        "test_errors": "error",
    }
    assert [t["queries"] for t in (tests["test_one"], tests["test_three"], tests["test_six"])] == [
        1,
        4,
        6,
    ]
    # The fixture's insert is setup, the test's two inserts the body, the fixture's count
    # after the yield teardown.
    three = tests["test_three"]["statements"]
    assert [s["phase"] for s in three] == ["setup", "body", "body", "teardown"]
    assert "INSERT" in three[0]["sql"].upper() and "COUNT" in three[3]["sql"].upper()
    assert [s["phase"] for s in tests["test_errors"]["statements"]] == ["body", "teardown"]
    # Parameters are JSON values, not their repr().
    html_test = tests["test_html[<script>alert(1)</script>]"]
    assert html_test["statements"][0]["params"] == ["<script>alert(1)</script>"]
    title, author_id = three[1]["params"]
    assert title == "a" and isinstance(author_id, int)
    for statement in three:
        assert {"injected", "slow", "connection", "error", "rows", "location"} <= set(statement)
        assert statement["injected"] is False


def test_slow_threshold_option_and_ini(app: Runner, pytester: pytest.Pytester) -> None:
    files = {
        "test_slow": "async def test_a(yara_db):\n    await __import__('app_models').Author.all()\n"
    }
    app("--yara-report=all.json", "--yara-slow-query=0", **files).assert_outcomes(passed=1)
    every = json.loads((pytester.path / "all.json").read_text())
    assert every["slow_query_ms"] == 0
    assert all(s["slow"] for t in every["tests"] for s in t["statements"])
    _add_to_ini(pytester, "yara_slow_query = 1e9", "yara_report = none.json")
    app().assert_outcomes(passed=1)
    none = json.loads((pytester.path / "none.json").read_text())
    assert none["slow_query_ms"] == 1e9
    assert not any(s["slow"] for t in none["tests"] for s in t["statements"])


@pytest.mark.parametrize("value", ["fast", "-1", "inf"])
def test_bad_slow_threshold_is_a_usage_error(app: Runner, value: str) -> None:
    result = app(f"--yara-slow-query={value}", test_x="def test_x():\n    pass\n")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*--yara-slow-query must be a number of milliseconds, 0 or more (default 100)*"]
    )


# --- the HTML report, as a file ------------------------------------------------------------


def test_highlighting_escapes_the_sql() -> None:
    html = highlight_sql("SELECT \"a<b\" FROM t WHERE x = '</pre><script>' AND y = $1 -- <i>")
    assert "<script>" not in html and "<i>" not in html and "</pre>" not in html
    assert '<span class="kw">SELECT</span>' in html
    assert '<span class="string">&#x27;&lt;/pre&gt;&lt;script&gt;&#x27;</span>' in html
    assert '<span class="ident">&quot;a&lt;b&quot;</span>' in html
    assert '<span class="param">$1</span>' in html
    assert '<span class="comment">-- &lt;i&gt;</span>' in html


def test_html_report_from_the_ini_escapes_everything(
    app: Runner, pytester: pytest.Pytester
) -> None:
    _add_to_ini(pytester, "yara_report_html = reports/queries.html")
    elsewhere = pytester.mkdir("elsewhere")
    with pytest.MonkeyPatch.context() as patch:
        # Started from another directory, the ini's path still means the rootdir's.
        patch.chdir(elsewhere)
        result = app(str(pytester.path), test_suite=SUITE)
    result.assert_outcomes(passed=5, failed=1, skipped=1, errors=1)
    page = pytester.path / "reports" / "queries.html"
    result.stdout.fnmatch_lines([f"*HTML report written to {page}*"])
    html = page.read_text()
    assert html.count("<script>") == 1  # the page's own, and no other
    assert "alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    for name in TESTS:
        assert f"test_suite.py::{name}" in html
    assert 'class="nplusone"' in html or "N+1" in html
    assert "http://" not in html and "https://" not in html  # nothing to fetch


def test_html_report_under_xdist_is_written_once_from_every_worker(
    app: Runner, pytester: pytest.Pytester
) -> None:
    result = app("-n", "2", "--yara-report-html=merged.html", test_suite=SUITE)
    result.assert_outcomes(passed=5, failed=1, skipped=1, errors=1)
    result.stdout.fnmatch_lines(["*HTML report written to merged.html*"])
    html = (pytester.path / "merged.html").read_text()
    for name in TESTS:
        assert f'data-test="test_suite.py::{name}"' in html
    assert 'data-outcome="error"' in html and 'data-outcome="skipped"' in html


# --- the HTML report, in a browser ---------------------------------------------------------


@pytest.fixture
def browser() -> Iterator[Any]:
    """Headless Chromium from the system packages, driven by selenium. Missing, the test fails
    (it does not skip): the report's page would go unchecked."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.fail(INSTALL_CHROMIUM, pytrace=False)
    if not (Path(CHROMIUM).exists() and shutil.which(CHROMEDRIVER)):
        pytest.fail(f"{CHROMIUM} or {CHROMEDRIVER} is missing: {INSTALL_CHROMIUM}", pytrace=False)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.mark.browser
def test_html_report_in_chromium(app: Runner, pytester: pytest.Pytester, browser: Any) -> None:
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By

    result = app("--yara-report-html=report.html", test_suite=SUITE)
    result.assert_outcomes(passed=5, failed=1, skipped=1, errors=1)
    browser.get((pytester.path / "report.html").as_uri())
    assert browser.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "true"
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []

    def rows() -> list[tuple[str, int]]:
        return [
            (
                body.get_attribute("data-test").split("::")[-1],
                int(body.get_attribute("data-queries")),
            )
            for body in browser.find_elements(By.CSS_SELECTOR, "#tests tbody.test")
        ]

    before = rows()
    assert {name for name, _ in before} >= set(TESTS) and len(before) == len(TESTS) + 1
    assert [name for name, _ in before][:3] == ["test_one", "test_three", "test_six"]
    header = browser.find_element(By.CSS_SELECTOR, "th[data-key='queries']")
    header.click()
    descending = rows()
    assert [count for _, count in descending] == sorted((c for _, c in before), reverse=True)
    assert descending[0][0] == "test_six"
    assert header.get_attribute("aria-sort") == "descending"
    header.click()
    ascending = rows()
    assert [count for _, count in ascending] == sorted(c for _, c in before)
    assert ascending[-1][0] == "test_six"

    # A test's queries open on a click; the parameter that is HTML shows as text.
    body = browser.find_element(By.CSS_SELECTOR, "tbody.test[data-test$='alert(1)</script>]']")
    detail = body.find_element(By.CSS_SELECTOR, "tr.detail")
    assert not detail.is_displayed()
    body.find_element(By.CSS_SELECTOR, "button.toggle").click()
    assert detail.is_displayed()
    assert '["<script>alert(1)</script>"]' in detail.find_element(By.CSS_SELECTOR, ".params").text
    assert "SELECT" in detail.find_element(By.CSS_SELECTOR, "pre.sql .kw").text.upper()
    assert len(browser.find_elements(By.TAG_NAME, "script")) == 1
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text  # noqa: B018
    assert browser.find_elements(By.CSS_SELECTOR, "#session-chart rect.held")
