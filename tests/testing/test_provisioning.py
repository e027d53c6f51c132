"""Provisioning PostgreSQL: a local cluster that never outlives its run, the kept cluster and
database of --yara-reuse-db (and --yara-create-db), the server and setup options, and the
template the xdist workers' databases are cloned from."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.testing.conftest import APP_MODELS, Runner
from yara_testing import local_cluster

PG_URL = os.environ.get("YARA_TEST_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")


def _bindir() -> Path:
    try:
        return local_cluster.find_binaries()
    except local_cluster.Unavailable as why:
        pytest.skip(f"needs the PostgreSQL server binaries: {why}")


@pytest.fixture
def base(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A short temp dir for the runs' clusters (a Unix socket path is short), removed after."""
    directory = Path(tempfile.mkdtemp(prefix="yt-", dir="/tmp"))
    directory.chmod(0o755)  # the postgres user must reach the clusters inside
    monkeypatch.setenv("TMPDIR", str(directory))
    yield directory
    for cluster in directory.glob("yara-pg-*"):
        local_cluster.drop_kept(cluster)
    shutil.rmtree(directory, ignore_errors=True)


def _project(pytester: pytest.Pytester, test_code: str, ini: str = "") -> None:
    pytester.makepyfile(app_models=APP_MODELS, test_it=textwrap.dedent(test_code))
    pytester.makeini(
        "[pytest]\nyara_models = app_models\nasyncio_mode = auto\n"
        f"asyncio_default_fixture_loop_scope = function\n"
        f"yara_db_name = prov_{os.getpid()}_{abs(hash(str(pytester.path))) % 10**8}\n{ini}"
    )


def _local(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """The suite on a cluster of the local binaries (--yara-pg-bin: never testcontainers)."""
    return pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--yara-db=postgres", f"--yara-pg-bin={_bindir()}", *args
    )


def _socket_dir(url: str) -> Path:
    return Path(parse_qs(urlsplit(url).query)["host"][0])


def _processes_of(directory: Path) -> list[str]:
    """Processes that name `directory` on their command line or work in it (the keeper,
    initdb, the server and its backends)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            cwd = os.readlink(proc / "cwd")
        except OSError:
            continue  # gone meanwhile, or a zombie
        if str(directory) in command or cwd.startswith(str(directory)):
            found.append(f"{proc.name}: {command}")
    return found


def _wait_for(condition: Callable[[], object], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not after {timeout}s: {what}")
        time.sleep(0.02)


def _gone(directory: Path) -> Callable[[], bool]:
    return lambda: not directory.exists() and not _processes_of(directory)


SLEEPER = """
import os
import time
from pathlib import Path


def test_sleeps(yara_db):
    # Written whole, then renamed: the watching test never reads a half-written file.
    Path("url.tmp").write_text(yara_db.url)
    Path("url.tmp").rename("url.txt")
    if os.environ.get("YARA_T_CRASH"):
        # Crash once the watching test has seen the cluster running (it creates crash.now).
        deadline = time.monotonic() + 60
        while not Path("crash.now").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        os.abort()  # a crashed interpreter
    time.sleep(120)
"""


def _start_sleeper(pytester: pytest.Pytester, *args: str) -> subprocess.Popen[bytes]:
    _project(pytester, SLEEPER)
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--yara-db=postgres"]
    command += [f"--yara-pg-bin={_bindir()}", *args]
    with (pytester.path / "out.txt").open("wb") as out:
        return subprocess.Popen(command, cwd=pytester.path, stdout=out, stderr=subprocess.STDOUT)


def _output(pytester: pytest.Pytester) -> str:
    return (pytester.path / "out.txt").read_text(errors="replace")


# 1. A throwaway cluster never outlives its run --------------------------------------------


@pytest.mark.postgres
@pytest.mark.parametrize("how", ["SIGTERM", "SIGINT", "SIGKILL", "crash"])
def test_the_cluster_goes_with_the_run_however_it_ends(
    pytester: pytest.Pytester, base: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    if how == "crash":
        monkeypatch.setenv("YARA_T_CRASH", "1")
    run = _start_sleeper(pytester)
    try:
        url = pytester.path / "url.txt"
        _wait_for(url.exists, f"the test to start\n{_output(pytester)}")
        directory = _socket_dir(url.read_text())
        assert directory.parent == base and (directory / "data" / "PG_VERSION").exists()
        assert _processes_of(directory), "the cluster runs during the test"
        if how == "crash":
            (pytester.path / "crash.now").touch()
        else:
            run.send_signal(getattr(signal, how))
        run.wait(timeout=60)
    finally:
        run.kill()
    _wait_for(_gone(directory), f"the cluster in {directory} stopped and removed")


@pytest.mark.postgres
def test_sigterm_during_initdb_leaves_nothing(pytester: pytest.Pytester, base: Path) -> None:
    run = _start_sleeper(pytester)
    try:

        def initdb_running() -> bool:
            return any("initdb" in process for process in _processes_of(base))

        _wait_for(initdb_running, f"initdb to start\n{_output(pytester)}")
        [directory] = base.glob("yara-pg-run-*")
        run.send_signal(signal.SIGTERM)
        run.wait(timeout=60)
    finally:
        run.kill()
    _wait_for(_gone(directory), f"the half-made cluster in {directory} removed")
    assert not list(base.iterdir())


@pytest.mark.postgres
def test_a_cluster_left_by_a_dead_run_is_removed_at_the_next_start(
    pytester: pytest.Pytester, base: Path
) -> None:
    run = _start_sleeper(pytester)
    try:
        url = pytester.path / "url.txt"
        _wait_for(url.exists, f"the test to start\n{_output(pytester)}")
        directory = _socket_dir(url.read_text())
        # The run dies with its keeper (a CI runner killing the whole tree): the server is
        # left running, and its directory stays.
        for process in _processes_of(directory):
            if "local_cluster.py" in process:
                os.kill(int(process.split(":")[0]), signal.SIGKILL)
        run.kill()
        run.wait(timeout=60)
    finally:
        run.kill()
    assert local_cluster.running_postmaster(directory / "data") is not None
    url.unlink()
    _project(pytester, "async def test_x(yara_db): pass")
    result = _local(pytester)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([f"*(removed {directory}, a cluster left by a dead run)*"])
    _wait_for(_gone(directory), f"the stale cluster in {directory} removed")
    assert not list(base.glob("yara-pg-run-*")), "and this run's own cluster went with it"


def test_only_directories_whose_lock_is_free_are_stale(tmp_path: Path) -> None:
    def made(name: str) -> Path:
        directory = tmp_path / f"{local_cluster.RUN_PREFIX}{name}"
        (directory / "data").mkdir(parents=True)
        return directory

    live, dead = made("live"), made("dead")
    held = local_cluster._new_lock(live)  # a running run's (pytest's and its keeper's)
    os.close(local_cluster._new_lock(dead))  # both gone: the kernel released the lock
    starting, abandoned = made("starting"), made("abandoned")  # no lock file (yet)
    old = time.time() - local_cluster.UNLOCKED_GRACE - 1
    os.utime(abandoned, (old, old))
    try:
        assert local_cluster.remove_stale(tmp_path) == [abandoned, dead]
    finally:
        os.close(held)
    assert live.exists() and starting.exists()
    assert not dead.exists() and not abandoned.exists()


# 2. The kept cluster and database ----------------------------------------------------------

RECORDER = """
from pathlib import Path

from yara_orm import connections


async def test_x(yara_db):
    client = connections.get()
    assert await client.fetch("SELECT count(*) FROM author") == [(0,)]
    [(system, oid)] = await client.fetch(
        "SELECT (SELECT system_identifier FROM pg_control_system()), oid "
        "FROM pg_database WHERE datname = current_database()"
    )
    # Written whole, then renamed: the watching test never reads a half-written file.
    Path("url.tmp").write_text(yara_db.url)
    Path("url.tmp").rename("url.txt")
    with Path("ids.txt").open("a") as out:
        out.write(f"{system}/{oid} ")
    from app_models import Author

    await Author.create(name="kept?")
"""


def _ids(pytester: pytest.Pytester) -> list[str]:
    return (pytester.path / "ids.txt").read_text().split()


@pytest.mark.postgres
def test_the_kept_cluster_restarts_when_its_server_died_and_create_db_rebuilds_it(
    pytester: pytest.Pytester, base: Path
) -> None:
    _project(pytester, RECORDER)
    first = _local(pytester, "--yara-reuse-db")
    first.assert_outcomes(passed=1)
    directory = _socket_dir((pytester.path / "url.txt").read_text())
    first.stdout.fnmatch_lines(
        [f"*via local PostgreSQL binaries (cluster kept in {directory}) (rebuilt: *"]
    )
    # One directory per project (keyed on its rootdir), not one per user.
    assert directory.parent == base and directory.name.startswith("yara-pg-keep-")
    assert (directory / "project").read_text().strip() == str(pytester.path.resolve())

    # The server dies (kill -9, a reboot): its socket and postmaster.pid stay behind.
    pid = local_cluster.running_postmaster(directory / "data")
    assert pid is not None, "kept running for the next run"
    os.kill(pid, signal.SIGKILL)
    _wait_for(lambda: local_cluster.running_postmaster(directory / "data") is None, "the kill")
    assert (directory / ".s.PGSQL.5432").exists()
    second = _local(pytester, "--yara-reuse-db")
    second.assert_outcomes(passed=1)
    second.stdout.fnmatch_lines(
        [
            "*(kept: --yara-reuse-db)*",
            f"*(the kept cluster in {directory} was not running (its server died): "
            "started it again)*",
        ]
    )
    assert "Connection refused" not in second.stdout.str()

    third = _local(pytester, "--yara-reuse-db", "--yara-create-db")
    third.assert_outcomes(passed=1)
    third.stdout.fnmatch_lines(
        ["*(rebuilt: --yara-create-db)*", f"*(dropped the kept cluster in {directory} *"]
    )
    fourth = _local(pytester, "--yara-reuse-db")
    fourth.assert_outcomes(passed=1)
    fourth.stdout.fnmatch_lines(["*(kept: --yara-reuse-db)*"])
    fourth.stdout.no_fnmatch_line("*the kept cluster in*")  # running as it was left: no note
    first_ids, kept, rebuilt, kept_again = _ids(pytester)
    assert first_ids == kept, "the restarted cluster kept the database"
    assert rebuilt.split("/")[0] != kept.split("/")[0], "--yara-create-db made a new cluster"
    assert kept_again == rebuilt


def test_each_project_has_its_own_kept_cluster(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    assert local_cluster.kept_directory(one) != local_cluster.kept_directory(two)
    assert local_cluster.kept_directory(one) == local_cluster.kept_directory(one / "." / "")
    assert local_cluster.kept_directory(one).name.startswith("yara-pg-keep-")


@pytest.mark.postgres
def test_kept_database_on_a_server_says_kept_only_when_reused(pytester: pytest.Pytester) -> None:
    _project(pytester, RECORDER)
    args = ["-p", "no:cacheprovider", f"--yara-db-url={PG_URL}", "--yara-reuse-db"]
    try:
        first = pytester.runpytest_subprocess(*args)
        first.assert_outcomes(passed=1)
        first.stdout.fnmatch_lines(["*(rebuilt: --yara-reuse-db)*"])
        second = pytester.runpytest_subprocess(*args)
        second.assert_outcomes(passed=1)
        second.stdout.fnmatch_lines(["*(kept: --yara-reuse-db)*"])
        # The ini twin of --yara-create-db.
        ini = (pytester.path / "tox.ini").read_text().rstrip("\n") + "\n"
        (pytester.path / "tox.ini").write_text(ini + "yara_create_db = true\n")
        third = pytester.runpytest_subprocess(*args)
        third.assert_outcomes(passed=1)
        third.stdout.fnmatch_lines(["*(rebuilt: --yara-create-db)*"])
        (pytester.path / "tox.ini").write_text(ini + "yara_db_setup_sql = SELECT 1\n")
        fourth = pytester.runpytest_subprocess(*args)
        fourth.assert_outcomes(passed=1)
        fourth.stdout.fnmatch_lines(["*(rebuilt: --yara-reuse-db)*"])  # the setup SQL changed
        first_ids, kept, created, changed = _ids(pytester)
        assert first_ids == kept and created != kept and changed != created
    finally:
        final = pytester.runpytest_subprocess("-p", "no:cacheprovider", f"--yara-db-url={PG_URL}")
        final.assert_outcomes(passed=1)  # without --yara-reuse-db: dropped at the end


# 3. Options: binaries, port, server settings, setup SQL ------------------------------------


@pytest.mark.parametrize(
    ("args", "ini", "message"),
    [
        (
            ["--yara-pg-port=abc"],
            "",
            "*--yara-pg-port (ini yara_pg_port) must be a port number from 1 to 65535, not 'abc'*",
        ),
        ([], "yara_pg_port = 70000", "*must be a port number from 1 to 65535, not '70000'*"),
        (
            ["--yara-pg-option=fsync"],
            "",
            "*--yara-pg-option (ini yara_pg_options) takes a server setting as name=value "
            "(e.g. work_mem=64MB), not 'fsync'*",
        ),
        ([], "yara_pg_options =\n    -c work_mem", "*not '-c work_mem'*"),
        (
            ["--yara-pg-bin=/no/such/dir"],
            "",
            "*--yara-pg-bin (ini yara_pg_bin) must be the directory of the PostgreSQL server "
            "binaries, with initdb and postgres; '/no/such/dir' has no initdb or postgres*",
        ),
    ],
)
def test_bad_server_options_are_usage_errors(
    pytester: pytest.Pytester, args: list[str], ini: str, message: str
) -> None:
    pytester.makepyfile(test_x="def test_x(): pass")
    pytester.makeini(f"[pytest]\n{ini}\n")
    result = pytester.runpytest_subprocess("--yara-db=postgres", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])
    assert "Traceback" not in result.stderr.str()


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.postgres
def test_port_and_server_settings_of_the_local_cluster(
    pytester: pytest.Pytester, base: Path
) -> None:
    port = _free_port()
    _project(
        pytester,
        f"""
        import pytest

        from yara_orm import connect, connections


        @pytest.mark.yara_external_db
        async def test_settings(yara_db):
            client = connections.get()
            assert await client.fetch("SHOW work_mem") == [("12MB",)]
            assert await client.fetch("SHOW lock_timeout") == [("5s",)]
            assert await client.fetch("SHOW port") == [("{port}",)]
            # Other tools reach it on 127.0.0.1:{port}.
            other = await connect("postgres://postgres@127.0.0.1:{port}/postgres")
            assert await other.fetch_rows("SELECT 1") == [(1,)]
            await other.close()
        """,
        ini=f"yara_pg_port = {port}\nyara_pg_options =\n    work_mem=12MB\n    lock_timeout=5s\n",
    )
    result = _local(pytester)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*via local PostgreSQL binaries;*"])
    result.stdout.no_fnmatch_line("*testcontainers*")  # --yara-pg-bin: those binaries only

    # The command line replaces the ini's settings.
    (pytester.path / "test_it.py").write_text(
        textwrap.dedent(
            """
            from yara_orm import connections


            async def test_settings(yara_db):
                client = connections.get()
                assert await client.fetch("SHOW work_mem") == [("20MB",)]
                assert await client.fetch("SHOW lock_timeout") == [("0",)]
            """
        )
    )
    _local(pytester, "--yara-pg-option=work_mem=20MB").assert_outcomes(passed=1)


@pytest.mark.postgres
def test_an_unknown_server_setting_says_what_the_server_said(
    pytester: pytest.Pytester, base: Path
) -> None:
    _project(pytester, "async def test_x(yara_db): pass")
    result = _local(pytester, "--yara-pg-option=no_such_setting=1")
    assert result.ret != 0
    # One line, with the server's own words.
    result.stdout.fnmatch_lines(
        [
            "*yara: could not run a local PostgreSQL cluster: the server did not start: *"
            'unrecognized configuration parameter "no_such_setting"*'
        ]
    )
    _wait_for(lambda: not list(base.iterdir()), "the failed cluster removed")


SETUP_CHECK = """
from yara_orm import connections


async def test_setup(yara_db):
    client = connections.get()
    assert await client.fetch("SELECT similarity('yara', 'yarn') > 0") == [(True,)]
    assert await client.fetch("SELECT count(*) FROM audit.log") == [(0,)]
"""


@pytest.mark.postgres
def test_setup_sql_runs_before_the_schema(pytester: pytest.Pytester) -> None:
    _project(
        pytester,
        SETUP_CHECK,
        ini="yara_db_setup_sql =\n    CREATE EXTENSION IF NOT EXISTS pg_trgm;\n"
        "    CREATE SCHEMA IF NOT EXISTS audit;\n    CREATE TABLE audit.log (x int);\n",
    )
    args = ["-p", "no:cacheprovider", f"--yara-db-url={PG_URL}"]
    # Under xdist it runs in the template the worker's database is cloned from.
    pytester.runpytest_subprocess(*args, "-n", "2").assert_outcomes(passed=1)

    # The command-line twin, one statement per option (and without xdist).
    (pytester.path / "tox.ini").write_text(
        (pytester.path / "tox.ini").read_text().split("yara_db_setup_sql")[0]
    )
    statements = [
        "CREATE EXTENSION IF NOT EXISTS pg_trgm",
        "CREATE SCHEMA IF NOT EXISTS audit",
        "CREATE TABLE audit.log (x int)",
    ]
    options = [f"--yara-db-setup-sql={sql}" for sql in statements]
    pytester.runpytest_subprocess(*args, *options).assert_outcomes(passed=1)


@pytest.mark.postgres
def test_failing_setup_sql_is_one_clear_line(pytester: pytest.Pytester) -> None:
    _project(pytester, "async def test_x(yara_db): pass")
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", f"--yara-db-url={PG_URL}", "--yara-db-setup-sql=CREATE NONSENSE"
    )
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*yara: yara_db_setup_sql failed: *syntax error*"])


def test_setup_sql_and_server_options_on_sqlite_are_noted_not_run(
    pytester: pytest.Pytester,
) -> None:
    _project(
        pytester,
        "async def test_x(yara_db): pass",
        ini="yara_db_setup_sql = CREATE EXTENSION pg_trgm\nyara_pg_options = work_mem=1MB\n",
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--yara-db=sqlite")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "*yara: sqlite database in memory*",
            "*(yara_db_setup_sql is for PostgreSQL: not run on SQLite)*",
            "*(yara_pg_options: for a provisioned server, not used on SQLite)*",
        ]
    )


# 4. xdist: the workers' databases are cloned from a template -------------------------------

TWO_FILES = {
    f"test_{n}": f"""
        from app_models import Author


        async def test_{n}(yara_db):
            await Author.create(name="{n}")
            assert await Author.all().count() == 1
        """
    for n in ("one", "two")
}


def test_the_controller_names_every_workers_database(app: Runner, backend: str) -> None:
    result = app("-n", "2", **TWO_FILES)
    result.assert_outcomes(passed=2)
    output = result.stdout.str()
    if backend == "sqlite":
        result.stdout.fnmatch_lines(
            [
                "*yara: sqlite databases in memory, one per worker via SQLite in memory; "
                "provisioning *s, schema *s (slowest of 2 workers)*"
            ]
        )
        return
    match = re.search(
        r"yara: postgres databases (test_\w+)_gw0, \1_gw1 cloned from \1_template via the "
        r"server at --yara-db-url; provisioning \d+\.\d+s, schema \d+\.\d+s "
        r"\(slowest of 2 workers\)",
        output,
    )
    assert match, output
    template = f"{match.group(1)}_template"
    exists = asyncio.run(_database_exists(PG_URL, template))
    assert not exists, "the template is dropped with the run's databases"


async def _database_exists(url: str, name: str) -> bool:
    from yara_testing.provisioning import _exists

    return await _exists(url, name)


@pytest.mark.postgres
def test_xdist_on_the_local_cluster_reports_the_real_provisioning_time(
    pytester: pytest.Pytester, base: Path
) -> None:
    _project(pytester, "")
    for name, code in TWO_FILES.items():
        pytester.makepyfile(**{name: textwrap.dedent(code)})
    result = _local(pytester, "-n", "2")
    result.assert_outcomes(passed=2)
    match = re.search(
        r"yara: postgres databases (test_\w+)_gw0, \1_gw1 cloned from \1_template via local "
        r"PostgreSQL binaries; provisioning (\d+\.\d+)s",
        result.stdout.str(),
    )
    assert match, result.stdout.str()
    assert float(match.group(2)) > 0, "the controller's server start counts"
    _wait_for(lambda: not list(base.iterdir()), "the cluster removed")


@pytest.mark.postgres
def test_a_template_of_an_earlier_reused_run_is_reused_and_rebuilt_on_create_db(
    pytester: pytest.Pytester,
) -> None:
    from yara_testing.provisioning import _admin

    _project(pytester, "")
    for name, code in TWO_FILES.items():
        pytester.makepyfile(**{name: textwrap.dedent(code)})
    # One worker is enough here (and starts faster): its database is cloned all the same.
    args = ["-p", "no:cacheprovider", f"--yara-db-url={PG_URL}", "--yara-reuse-db", "-n", "1"]
    name = re.search(r"yara_db_name = (\w+)", (pytester.path / "tox.ini").read_text())
    assert name
    template = f"test_{name.group(1)}_template"

    async def template_oid() -> int:
        from yara_orm import connect

        engine = await connect(PG_URL, max_size=1)
        try:
            rows = await engine.fetch_rows(
                "SELECT oid FROM pg_database WHERE datname = $1", [template]
            )
            return int(rows[0][0])
        finally:
            await engine.close()

    try:
        pytester.runpytest_subprocess(*args).assert_outcomes(passed=2)
        built = asyncio.run(template_oid())
        # The kept database is dropped: the worker clones the kept template again.
        asyncio.run(_admin(PG_URL, f'DROP DATABASE "test_{name.group(1)}_gw0"'))
        pytester.runpytest_subprocess(*args).assert_outcomes(passed=2)
        assert asyncio.run(template_oid()) == built
        pytester.runpytest_subprocess(*args, "--yara-create-db").assert_outcomes(passed=2)
        assert asyncio.run(template_oid()) != built
    finally:
        for database in (template, f"{template[:-9]}_gw0"):
            asyncio.run(_admin(PG_URL, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))


def test_testcontainers_gets_the_port_and_the_server_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import types

    from yara_testing.provisioning import ServerOptions, _testcontainers

    calls: dict[str, object] = {}

    class Container:
        def __init__(self, image: str, **credentials: str) -> None:
            calls["image"] = image

        def with_command(self, command: str) -> Container:
            calls["command"] = command
            return self

        def with_bind_ports(self, container: int, host: int) -> Container:
            calls["ports"] = (container, host)
            return self

        def start(self) -> None:
            calls["started"] = True

        def get_container_host_ip(self) -> str:
            return "127.0.0.1"

        def get_exposed_port(self, port: int) -> int:
            return 55432

        def stop(self) -> None:
            pass

    postgres = types.ModuleType("testcontainers.community.postgres")
    postgres.PostgresContainer = Container  # type: ignore[attr-defined]
    docker = types.ModuleType("docker")
    docker.from_env = lambda timeout: types.SimpleNamespace(ping=lambda: True)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "testcontainers.community.postgres", postgres)
    monkeypatch.setitem(sys.modules, "docker", docker)
    options = ServerOptions(port=55432, settings=("work_mem=64MB", "search_path=a, b"))
    url, _stop = _testcontainers("postgres:17-alpine", options)
    assert calls["command"] == "postgres -c work_mem=64MB -c 'search_path=a, b'"
    assert calls["ports"] == (5432, 55432) and calls["started"]
    assert url == "postgres://postgres:postgres@127.0.0.1:55432/postgres"
