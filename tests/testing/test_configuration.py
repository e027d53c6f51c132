"""Configuration: xdist, event-loop scopes, bad options, and how a PostgreSQL server is found."""

from __future__ import annotations

import os
import re
import shutil

import pytest

from tests.testing.conftest import APP_MODELS, Runner

TWO_FILES = {
    "test_one": """
        from app_models import Author


        async def test_a(yara_db):
            await Author.create(name="one")
            assert await Author.all().count() == 1


        async def test_b(yara_db):
            assert await Author.all().count() == 0
        """,
    "test_two": """
        from app_models import Author


        async def test_c(yara_db):
            await Author.create(name="two")
            assert await Author.all().count() == 1


        async def test_d(yara_db):
            assert await Author.all().count() == 0
        """,
}


def test_xdist_two_workers(app: Runner, backend: str) -> None:
    result = app("-n", "2", "-v", **TWO_FILES)
    result.assert_outcomes(passed=4)
    output = result.stdout.str()
    assert "[gw0]" in output and "[gw1]" in output
    # Each worker reports to the controller, which prints one summary for all.
    result.stdout.fnmatch_lines(["*yara query report*", "*6 queries in 4 tests*"])


def test_the_provisioning_line_is_shown_not_captured(app: Runner, backend: str) -> None:
    # Written during the first test's setup, past pytest's capture; the progress line then
    # goes on under its file's name.
    result = app("-rA", **TWO_FILES)
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(
        ["test_one.py ", "yara: * database *; provisioning *s, schema *s", "test_one.py ..*"]
    )
    result.stdout.no_fnmatch_line("*Captured stdout setup*")


@pytest.mark.parametrize("loop_scope", ["function", "module", "session"])
def test_pytest_asyncio_loop_scopes(app: Runner, loop_scope: str) -> None:
    result = app(
        test_loops=f"""
        import pytest
        import pytest_asyncio
        from app_models import Author

        pytestmark = pytest.mark.asyncio(loop_scope="{loop_scope}")


        @pytest_asyncio.fixture(loop_scope="{loop_scope}")
        async def ada(yara_db):
            return await Author.create(name="Ada")


        async def test_first(ada, yara_db):
            assert await Author.all().count() == 1


        async def test_second(yara_db):
            assert await Author.all().count() == 0
        """
    )
    result.assert_outcomes(passed=2)


def test_bad_database_option_is_one_clear_line(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_x="def test_x(): pass")
    result = pytester.runpytest_subprocess("--yara-db=mysql")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*yara: unknown database 'mysql' for --yara-db; valid: sqlite, postgres*"]
    )
    assert "Traceback" not in result.stderr.str()


def test_bad_nplusone_mode(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nyara_nplusone = loud\n")
    result = pytester.runpytest_subprocess()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*unknown mode 'loud' for --yara-nplusone; valid: off, warn, error*"]
    )


MANY_TESTS = "\n".join(f"async def test_{n}(yara_db): pass" for n in range(5))


def _session_stopped_once(result: pytest.RunResult, message: str) -> None:
    """The session's database error is said on one line, once, and no test runs."""
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    output = result.stdout.str()
    assert output.count(message) == 1, output
    assert "During handling" not in output and "direct cause" not in output
    assert "Traceback" not in output and "INTERNALERROR" not in output
    # No test ran (before the workers start, there is not even a summary line).
    assert not re.search(r"\d+ (passed|failed|errors?)\b", output), output


XDIST = pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["alone", "xdist"])


@XDIST
def test_unreachable_url_stops_the_session_with_one_line(
    pytester: pytest.Pytester, workers: list[str]
) -> None:
    pytester.makepyfile(app_models=APP_MODELS, test_x=MANY_TESTS)
    pytester.makeini("[pytest]\nyara_models = app_models\nasyncio_mode = auto\n")
    result = pytester.runpytest_subprocess(
        "--yara-db=postgres",
        "--yara-db-url=postgres://postgres:s3cret@127.0.0.1:9/postgres",
        *workers,
    )
    _session_stopped_once(
        result, "yara: cannot use the PostgreSQL server: could not connect to PostgreSQL at"
    )
    assert "s3cret" not in result.stdout.str() + result.stderr.str()


@XDIST
def test_models_module_that_does_not_import(pytester: pytest.Pytester, workers: list[str]) -> None:
    pytester.makepyfile(test_x=MANY_TESTS)
    pytester.makeini("[pytest]\nyara_models = no_such_app.models\nasyncio_mode = auto\n")
    result = pytester.runpytest_subprocess(*workers)
    _session_stopped_once(result, "yara: models module 'no_such_app.models' could not be imported")


@pytest.mark.postgres
def test_postgres_without_a_url_provisions_a_server(pytester: pytest.Pytester) -> None:
    """testcontainers where a Docker engine answers; else local binaries, saying why."""
    containers = _containers_usable()
    if not containers and not _local_binaries_present():
        pytest.skip("neither a Docker engine nor PostgreSQL server binaries here")
    pytester.makepyfile(
        app_models=APP_MODELS,
        test_x="""
        from app_models import Author


        async def test_x(yara_db):
            await Author.create(name="local")
            assert yara_db.backend == "postgres"
        """,
    )
    pytester.makeini("[pytest]\nyara_models = app_models\nasyncio_mode = auto\n")
    result = pytester.runpytest_subprocess("--yara-db=postgres", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    if containers:
        result.stdout.fnmatch_lines(["*yara: postgres database test_* via testcontainers (*"])
    else:
        result.stdout.fnmatch_lines(
            [
                "*yara: postgres database test_* via local PostgreSQL binaries; provisioning *s*",
                "*(testcontainers: *)*",
            ]
        )


def _containers_usable() -> bool:
    try:
        import docker
        import testcontainers  # noqa: F401

        docker.from_env(timeout=2).ping()
    except Exception:
        return False
    return True


def _local_binaries_present() -> bool:
    versions = range(10, 20)
    return (
        shutil.which("initdb") is not None
        or shutil.which("pg_config") is not None
        or any(os.path.exists(f"/usr/lib/postgresql/{v}/bin/initdb") for v in versions)
    )


def test_nothing_available_lists_the_three_ways(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        app_models=APP_MODELS,
        conftest="""
        import yara_testing.provisioning as provisioning


        def unavailable(*args, **kwargs):
            raise provisioning._Unavailable("switched off for this test")


        provisioning._testcontainers = unavailable
        provisioning._local_binaries = unavailable
        """,
        test_x="async def test_x(yara_db): pass",
    )
    pytester.makeini("[pytest]\nyara_models = app_models\nasyncio_mode = auto\n")
    result = pytester.runpytest_subprocess("--yara-db=postgres")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.assert_outcomes()
    result.stdout.fnmatch_lines(
        [
            "*no PostgreSQL server for --yara-db=postgres. Get one in one of three ways:*",
            "*1. pass --yara-db-url=*",
            "*2. install testcontainers*",
            "*3. install the PostgreSQL server binaries*",
        ]
    )


@pytest.mark.postgres
def test_reuse_db_keeps_the_database_and_rebuilds_on_model_changes(
    pytester: pytest.Pytester,
) -> None:
    url = os.environ.get("YARA_TEST_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    name = f"reuse_{os.getpid()}"
    pytester.makeini(
        f"[pytest]\nyara_models = app_models\nyara_db_name = {name}\nasyncio_mode = auto\n"
    )
    pytester.makepyfile(
        app_models=APP_MODELS,
        test_x="""
        from pathlib import Path

        from yara_orm import connections


        async def test_x(yara_db):
            client = connections.get()
            assert await client.fetch("SELECT count(*) FROM author") == [(0,)]
            rows = await client.fetch(
                "SELECT oid FROM pg_database WHERE datname = current_database()"
            )
            with Path("oids.txt").open("a") as out:
                out.write(f"{rows[0][0]} ")
        """,
    )
    args = [
        "--yara-db=postgres",
        f"--yara-db-url={url}",
        "--yara-reuse-db",
        "-p",
        "no:cacheprovider",
    ]
    pytester.runpytest_subprocess(*args).assert_outcomes(passed=1)
    second = pytester.runpytest_subprocess(*args)
    second.assert_outcomes(passed=1)
    second.stdout.fnmatch_lines([f"*test_{name}*(kept: --yara-reuse-db)*"])
    pytester.makepyfile(
        app_models=APP_MODELS + "\n\nclass Extra(Model):\n    x = fields.IntField()\n"
    )
    pytester.runpytest_subprocess(*args).assert_outcomes(passed=1)
    first, kept, rebuilt = (pytester.path / "oids.txt").read_text().split()
    assert first == kept, "the second run used the same database"
    assert rebuilt != kept, "a model change rebuilt it"
    final = pytester.runpytest_subprocess("--yara-db=postgres", f"--yara-db-url={url}")
    final.assert_outcomes(passed=1)  # without --yara-reuse-db the database is dropped at the end


@pytest.mark.postgres
def test_databases_left_by_a_crashed_run_are_dropped(pytester: pytest.Pytester) -> None:
    import asyncio

    from yara_testing.provisioning import _admin, _exists

    url = os.environ.get("YARA_TEST_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    name = f"crashed_{os.getpid()}"
    leftover = f"test_{name}_gw7"
    asyncio.run(_admin(url, f'CREATE DATABASE "{leftover}"'))
    pytester.makeini(
        f"[pytest]\nyara_models = app_models\nyara_db_name = {name}\nasyncio_mode = auto\n"
    )
    pytester.makepyfile(app_models=APP_MODELS, test_x="async def test_x(yara_db): pass")
    result = pytester.runpytest_subprocess("--yara-db=postgres", f"--yara-db-url={url}")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([f"*(dropped {leftover}, left by an earlier run)*"])
    assert not asyncio.run(_exists(url, leftover))


@pytest.mark.postgres
def test_a_server_url_alone_selects_postgresql(pytester: pytest.Pytester) -> None:
    url = os.environ.get("YARA_TEST_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    pytester.makepyfile(
        app_models=APP_MODELS,
        test_x="""
        from yara_orm import connections

        async def test_x(yara_db):
            assert connections.get().dialect.name == "postgres"
        """,
    )
    pytester.makeini(
        f"[pytest]\nyara_models = app_models\nyara_db_name = url_only_{os.getpid()}\n"
        "asyncio_mode = auto\n"
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", f"--yara-db-url={url}")
    result.assert_outcomes(passed=1)


def test_sqlite_with_a_url_is_a_usage_error_and_postgresql_is_postgres(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_x="def test_x(): pass")
    result = pytester.runpytest_subprocess(
        "--yara-db=sqlite", "--yara-db-url=postgres://app:s3cret@db.internal/app"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--yara-db=sqlite was given with a PostgreSQL URL*app:***@*"])
    assert "s3cret" not in result.stderr.str()
    result = pytester.runpytest_subprocess(
        "--yara-db=postgresql", "--yara-db-url=postgres://app:s3cret@db.internal/app"
    )
    result.stdout.fnmatch_lines(["yara: --yara-db=postgres (postgres://app:***@db.internal/app)*"])


def test_the_environment_url_selects_postgresql_unless_sqlite_is_asked(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(test_x="def test_x(): pass")
    monkeypatch.setenv("YARA_TEST_DB_URL", "postgres://app:s3cret@db.internal/app")
    result = pytester.runpytest_subprocess()
    result.stdout.fnmatch_lines(["yara: --yara-db=postgres (postgres://app:***@db.internal/app)*"])
    result = pytester.runpytest_subprocess("--yara-db=sqlite")
    result.stdout.fnmatch_lines(["yara: --yara-db=sqlite (in memory)*"])
    assert "s3cret" not in result.stdout.str()


@pytest.mark.postgres
def test_the_password_is_masked_everywhere(pytester: pytest.Pytester) -> None:
    url = os.environ.get("YARA_TEST_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    # Trust authentication accepts any password: the URL carries one only to be masked.
    with_password = url.replace("postgres@", "postgres:s3cret@", 1)
    pytester.makepyfile(
        app_models=APP_MODELS,
        test_x="""
        from app_models import Author

        async def test_fails(yara_db):
            await Author.create(name="x")
            assert yara_db is None
        """,
    )
    pytester.makeini(
        f"[pytest]\nyara_models = app_models\nyara_db_name = masked_{os.getpid()}\n"
        "asyncio_mode = auto\n"
    )
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", f"--yara-db-url={with_password}", "--yara-report=report.json"
    )
    result.assert_outcomes(failed=1)
    shown = result.stdout.str() + result.stderr.str()
    shown += (pytester.path / "report.json").read_text()
    assert "s3cret" not in shown
    assert "postgres:***@" in result.stdout.str()


def test_the_first_test_without_the_fixture_gets_the_one_line_refusal(app: Runner) -> None:
    result = app(
        test_first="""
        from app_models import Author


        async def test_no_fixture_first():
            await Author.all().count()


        async def test_with_fixture(yara_db):
            await Author.all().count()


        async def test_no_fixture_later():
            await Author.all().count()
        """
    )
    result.assert_outcomes(passed=1, failed=2)
    # The short summary may repeat the message (terminal width decides): count failure lines.
    refusal = "Database access not allowed (at test_first.py:"
    refusals = [line for line in result.stdout.lines if line.startswith(refusal)]
    assert len(refusals) == 2
    result.stdout.no_fnmatch_line("*not initialised*")
