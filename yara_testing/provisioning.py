"""Getting a database for the test session.

- `sqlite`: an in-memory database, nothing on disk, no server.
- `postgres` with a URL: a fresh database `test_<name>[_gw<N>]` on that server, dropped at the
  end (kept with `--yara-reuse-db`).
- `postgres` without a URL, in this order: a testcontainers container (when the package is
  installed and a Docker engine answers), local PostgreSQL binaries in a temporary directory
  (a Unix socket, durability off), or a clear error listing the three ways.
"""

from __future__ import annotations

import getpass
import importlib
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from yara_orm import connect

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


async def drop_leftovers(admin_url: str, base: str) -> list[str]:
    """Drop `base` and its `base_gw<N>` siblings that nobody is connected to: databases a
    crashed earlier run left behind. Returns their names."""
    engine = await connect(admin_url, max_size=1, connect_timeout=10)
    try:
        rows = await engine.fetch_rows(
            "SELECT d.datname FROM pg_database d WHERE (d.datname = $1 OR d.datname LIKE $2) "
            "AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.datname = d.datname)",
            [base, base.replace("_", "\\_") + "\\_gw%"],
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


# Servers ------------------------------------------------------------------------------------


def start_server(image: str, reuse: bool, notes: list[str]) -> Server:
    """A PostgreSQL server without a URL: testcontainers, else local binaries, else an error."""
    started = time.monotonic()
    try:
        admin_url, stop = _testcontainers(image)
        return Server(admin_url, f"testcontainers ({image})", time.monotonic() - started, stop)
    except _Unavailable as why:
        notes.append(f"testcontainers: {why}")
    try:
        admin_url, stop = _local_binaries(reuse)
        return Server(admin_url, "local PostgreSQL binaries", time.monotonic() - started, stop)
    except _Unavailable as why:
        notes.append(f"local binaries: {why}")
    raise ProvisioningError(
        "yara: no PostgreSQL server for --yara-db=postgres. Get one in one of three ways:\n"
        "  1. pass --yara-db-url=postgres://user@host:port/postgres (or set YARA_TEST_DB_URL);\n"
        "  2. install testcontainers (`pip install yara-orm[testing]`) and run a Docker engine;\n"
        "  3. install the PostgreSQL server binaries (initdb and pg_ctl on PATH, or pg_config).\n"
        "What was tried:\n  - " + "\n  - ".join(notes)
    )


class _Unavailable(Exception):
    pass


def _testcontainers(image: str) -> tuple[str, Callable[[], None]]:
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
    container.start()
    host = container.get_container_host_ip()
    port = container.get_exposed_port(5432)
    return f"postgres://postgres:postgres@{host}:{port}/postgres", container.stop


def _find_binaries() -> Path:
    on_path = shutil.which("initdb"), shutil.which("pg_ctl")
    if all(on_path):
        return Path(str(on_path[0])).parent
    pg_config = shutil.which("pg_config")
    if pg_config:
        bindir = subprocess.run(
            [pg_config, "--bindir"], capture_output=True, text=True
        ).stdout.strip()
        if (Path(bindir) / "initdb").exists():
            return Path(bindir)
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "initdb").exists() and (candidate / "pg_ctl").exists():
            return candidate
    raise _Unavailable(
        "initdb and pg_ctl were not found on PATH, via pg_config, or in /usr/lib/postgresql"
    )


def _as_server_user(command: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root: use the postgres account when the suite runs as root.
    if os.geteuid() != 0:
        return command
    runuser = shutil.which("runuser")
    if runuser is None:
        raise _Unavailable(
            "running as root and `runuser` is missing to switch to the postgres user"
        )
    return [runuser, "-u", "postgres", "--", *command]


REUSE_DIR = Path(tempfile.gettempdir()) / f"yara-pg-{getpass.getuser()}"


def _local_binaries(reuse: bool) -> tuple[str, Callable[[], None]]:
    bindir = _find_binaries()
    if os.geteuid() == 0:
        try:
            import pwd

            account = pwd.getpwnam("postgres")
        except KeyError:
            raise _Unavailable(
                "running as root and there is no postgres user to run the server"
            ) from None
    directory = REUSE_DIR if reuse else Path(tempfile.mkdtemp(prefix="yara-pg-"))
    data = directory / "data"
    directory.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        os.chown(directory, account.pw_uid, account.pw_gid)
    port = 5432
    url = f"postgres://postgres@/postgres?host={directory}&port={port}"
    if reuse and (directory / f".s.PGSQL.{port}").exists():
        return url, lambda: None  # a kept cluster from an earlier run is still up
    if not (data / "PG_VERSION").exists():
        initdb = [
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
        ]
        result = subprocess.run(_as_server_user(initdb), capture_output=True, text=True)
        if result.returncode != 0:
            raise _Unavailable(f"initdb failed: {result.stderr.strip()[-500:]}")
    options = (
        f"-k {directory} -c listen_addresses='' -p {port} -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off"
    )
    pg_ctl = [
        str(bindir / "pg_ctl"),
        "-D",
        str(data),
        "-o",
        options,
        "-l",
        str(directory / "log"),
        "-w",
        "start",
    ]
    result = subprocess.run(_as_server_user(pg_ctl), capture_output=True, text=True)
    if result.returncode != 0:
        log = (
            (directory / "log").read_text(errors="replace")[-500:]
            if (directory / "log").exists()
            else ""
        )
        raise _Unavailable(f"pg_ctl start failed: {result.stderr.strip()[-300:]} {log}")

    def stop() -> None:
        if reuse:
            return  # kept for the next run
        subprocess.run(
            _as_server_user([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
            capture_output=True,
        )
        shutil.rmtree(directory, ignore_errors=True)

    return url, stop
