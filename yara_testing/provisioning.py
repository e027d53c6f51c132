"""Getting a database for the test session.

- `sqlite`: an in-memory database, nothing on disk, no server.
- `postgres` with a URL: a fresh database `test_<name>[_gw<N>]` on that server, dropped at the
  end (kept with `--yara-reuse-db`).
- `postgres` without a URL, in this order: a testcontainers container (when the package is
  installed and a Docker engine answers), local PostgreSQL binaries (`local_cluster`: a
  throwaway cluster, or the project's kept one with `--yara-reuse-db`), or a clear error
  listing the three ways.
"""

from __future__ import annotations

import importlib
import os
import re
import shlex
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

import pytest

from yara_orm import connect
from yara_testing import local_cluster

DEFAULT_IMAGE = "postgres:17-alpine"


class ProvisioningError(Exception):
    """No database could be had; the message says how to get one."""


@dataclass
class Server:
    """A PostgreSQL server the session may create databases on."""

    admin_url: str
    method: str
    seconds: float
    stop: Callable[[], None] = field(default=lambda: None)


def database_name(base: str, worker: str | None, alias: str | None = None) -> str:
    """`test_<base>[_<alias>][_<worker>]`: one database per connection alias and worker."""
    stem = f"test_{base}_{alias}" if alias else f"test_{base}"
    name = re.sub(r"[^a-z0-9_]", "_", stem.lower())[:50]
    return f"{name}_{worker}" if worker else name


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


# Databases on a server ---------------------------------------------------------------------


async def _admin(url: str, *statements: str) -> None:
    engine = await connect(url, max_size=1, connect_timeout=10)
    try:
        for sql in statements:  # one by one: CREATE DATABASE cannot share a transaction
            await engine.execute_script(sql)
    finally:
        await engine.close()


async def _exists(url: str, name: str) -> bool:
    engine = await connect(url, max_size=1, connect_timeout=10)
    try:
        rows = await engine.fetch_rows("SELECT 1 FROM pg_database WHERE datname = $1", [name])
        return bool(rows)
    finally:
        await engine.close()


async def create_database(admin_url: str, name: str, reuse: bool) -> bool:
    """Create `name` (dropping a leftover of a crashed run); True if an old one was kept."""
    if reuse and await _exists(admin_url, name):
        return True
    quoted = '"' + name.replace('"', '""') + '"'
    await _admin(
        admin_url, f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)", f"CREATE DATABASE {quoted}"
    )
    return False


def template_name(base: str) -> str:
    """The template the xdist workers' databases `base_gw<N>` are cloned from."""
    return f"{base}_template"


async def drop_leftovers(admin_url: str, base: str) -> list[str]:
    """Drop `base`, its `base_gw<N>` siblings and their template that nobody is connected to:
    databases a crashed earlier run left behind. Returns their names."""
    engine = await connect(admin_url, max_size=1, connect_timeout=10)
    try:
        rows = await engine.fetch_rows(
            "SELECT d.datname FROM pg_database d "
            "WHERE (d.datname = $1 OR d.datname = $3 OR d.datname LIKE $2) "
            "AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.datname = d.datname)",
            [base, base.replace("_", "\\_") + "\\_gw%", template_name(base)],
        )
    finally:
        await engine.close()
    names = [str(row[0]) for row in rows]
    for name in names:
        await drop_database(admin_url, name)
    return names


async def drop_database(admin_url: str, name: str) -> None:
    quoted = '"' + name.replace('"', '""') + '"'
    await _admin(admin_url, f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)")


# Server options -----------------------------------------------------------------------------

SETTING = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*=")


@dataclass(frozen=True)
class ServerOptions:
    """How a provisioned PostgreSQL server is run, and what every test database starts with."""

    bin_dir: str | None = None  # --yara-pg-bin: these binaries, not testcontainers
    port: int | None = None  # --yara-pg-port: also listen on 127.0.0.1:port
    settings: tuple[str, ...] = ()  # yara_pg_options: name=value, the server's -c
    setup_sql: str = ""  # yara_db_setup_sql: run before the schema is created
    create: bool = False  # --yara-create-db: rebuild the kept database and cluster

    @classmethod
    def read(cls, config: pytest.Config) -> ServerOptions:
        def given(name: str) -> Any:
            value = config.getoption(name)
            return value if value not in (None, []) else config.getini(name)

        bin_dir = given("yara_pg_bin") or None
        if bin_dir is not None:
            path = Path(config.rootpath) / Path(str(bin_dir)).expanduser()
            missing = local_cluster.missing_binaries(path)
            if missing:
                raise pytest.UsageError(
                    f"yara: --yara-pg-bin (ini yara_pg_bin) must be the directory of the "
                    f"PostgreSQL server binaries, with initdb and postgres; {str(bin_dir)!r} "
                    f"has no {' or '.join(missing)} (`pg_config --bindir` prints it)"
                )
            bin_dir = str(path)
        port_text = str(given("yara_pg_port") or "").strip()
        port = None
        if port_text:
            if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
                raise pytest.UsageError(
                    f"yara: --yara-pg-port (ini yara_pg_port) must be a port number from 1 "
                    f"to 65535, not {port_text!r}"
                )
            port = int(port_text)
        settings = tuple(str(s).strip() for s in given("yara_pg_options") if str(s).strip())
        for setting in settings:
            if not SETTING.match(setting):
                raise pytest.UsageError(
                    f"yara: --yara-pg-option (ini yara_pg_options) takes a server setting as "
                    f"name=value (e.g. work_mem=64MB), not {setting!r}"
                )
        asked_sql = config.getoption("yara_db_setup_sql")
        # On the command line each value is a statement; in the ini, lines of a script.
        setup_sql = (
            ";\n".join(asked_sql) if asked_sql else "\n".join(config.getini("yara_db_setup_sql"))
        )
        create = bool(config.getoption("yara_create_db") or config.getini("yara_create_db"))
        return cls(bin_dir, port, settings, setup_sql.strip(), create)

    def unused(self, backend: str, url: str | None) -> list[str]:
        """Notes on the options this run does not use (set in the ini for other runs)."""
        notes = []
        if backend == "sqlite" and self.setup_sql:
            notes.append("yara_db_setup_sql is for PostgreSQL: not run on SQLite")
        server = [
            name
            for name, value in (
                ("--yara-pg-bin", self.bin_dir),
                ("--yara-pg-port", self.port),
                ("yara_pg_options", self.settings),
            )
            if value
        ]
        if server and (backend == "sqlite" or url):
            where = "on SQLite" if backend == "sqlite" else "with --yara-db-url"
            notes.append(f"{', '.join(server)}: for a provisioned server, not used {where}")
        return notes


# Servers ------------------------------------------------------------------------------------


def start_server(
    image: str,
    reuse: bool,
    notes: list[str],
    options: ServerOptions | None = None,
    rootdir: str | None = None,
) -> Server:
    """A PostgreSQL server without a URL: testcontainers, else local binaries, else an error.
    With --yara-pg-bin, those binaries only."""
    options = options or ServerOptions()
    started = time.monotonic()
    if options.bin_dir is None:
        try:
            admin_url, stop = _testcontainers(image, options)
            return Server(admin_url, f"testcontainers ({image})", time.monotonic() - started, stop)
        except _Unavailable as why:
            notes.append(f"testcontainers: {why}")
    try:
        admin_url, stop = _local_binaries(reuse, options, rootdir, notes)
        method = "local PostgreSQL binaries"
        if reuse:
            kept_in = parse_qs(urlsplit(admin_url).query)["host"][0]
            method += f" (cluster kept in {kept_in})"
        return Server(admin_url, method, time.monotonic() - started, stop)
    except _Unavailable as why:
        notes.append(f"local binaries: {why}")
    except local_cluster.ClusterError as error:
        raise ProvisioningError(
            f"yara: could not run a local PostgreSQL cluster: {error}"
        ) from None
    raise ProvisioningError(
        "yara: no PostgreSQL server for --yara-db=postgres. Get one in one of three ways:\n"
        "  1. pass --yara-db-url=postgres://user@host:port/postgres (or set YARA_TEST_DB_URL);\n"
        "  2. install testcontainers (`pip install yara-orm[testing]`) and run a Docker engine;\n"
        "  3. install the PostgreSQL server binaries (initdb and postgres on PATH, via "
        "pg_config, or --yara-pg-bin=DIR).\n"
        "What was tried:\n  - " + "\n  - ".join(notes)
    )


class _Unavailable(Exception):
    pass


def _testcontainers(
    image: str, options: ServerOptions | None = None
) -> tuple[str, Callable[[], None]]:
    options = options or ServerOptions()
    postgres_module: Any = None
    # testcontainers 4.x moved the module; older releases only have the first name.
    for name in ("testcontainers.community.postgres", "testcontainers.postgres"):
        try:
            postgres_module = importlib.import_module(name)
            break
        except ImportError:
            continue
    if postgres_module is None:
        raise _Unavailable("the testcontainers package is not installed")
    try:
        docker: Any = importlib.import_module("docker")
        docker.from_env(timeout=5).ping()
    except Exception as error:  # any failure to reach Docker means: not available here
        raise _Unavailable(f"no Docker engine answers ({type(error).__name__}: {error})") from None
    container = postgres_module.PostgresContainer(
        image, username="postgres", password="postgres", dbname="postgres"
    )
    if options.settings:
        settings = [part for setting in options.settings for part in ("-c", setting)]
        container.with_command(shlex.join(["postgres", *settings]))
    if options.port is not None:
        container.with_bind_ports(5432, options.port)
    container.start()
    host = container.get_container_host_ip()
    port = container.get_exposed_port(5432)
    return f"postgres://postgres:postgres@{host}:{port}/postgres", container.stop


def _find_binaries() -> Path:
    try:
        return local_cluster.find_binaries()
    except local_cluster.Unavailable as why:
        raise _Unavailable(str(why)) from None


def _as_server_user(command: list[str]) -> list[str]:
    """`command` run as the postgres user when we are root (for pg_ctl in tests)."""
    if os.geteuid() != 0:
        return command
    runuser = shutil.which("runuser")
    if runuser is None:
        raise _Unavailable(
            "running as root and `runuser` is missing to switch to the postgres user"
        )
    return [runuser, "-u", "postgres", "--", *command]


def _local_binaries(
    reuse: bool,
    options: ServerOptions | None = None,
    rootdir: str | None = None,
    notes: list[str] | None = None,
) -> tuple[str, Callable[[], None]]:
    """A cluster of the local binaries: the project's kept one with --yara-reuse-db, else a
    throwaway one that is removed when the run ends, however it ends."""
    options = options or ServerOptions()
    try:
        bindir = local_cluster.find_binaries(options.bin_dir)
        if reuse:
            cluster = local_cluster.start_kept(
                bindir,
                rootdir or os.getcwd(),
                port=options.port,
                settings=options.settings,
                rebuild=options.create,
            )
        else:
            cluster = local_cluster.start_throwaway(
                bindir, port=options.port, settings=options.settings
            )
    except local_cluster.Unavailable as why:
        raise _Unavailable(str(why)) from None
    if notes is not None:
        notes.extend(cluster.notes)
    return cluster.url, cluster.stop
