"""A PostgreSQL cluster of the local server binaries, for `--yara-db=postgres` without a URL or
a Docker engine: made by initdb in a directory of its own, reachable on a Unix socket there,
durability off, run as the `postgres` user when the suite runs as root.

A throwaway cluster must not outlive the run, however the run ends (SIGTERM, Ctrl-C, a crashed
interpreter, kill -9 of pytest). A keeper process (this file run as a script) runs initdb and
the server as its own children, and stops the server and removes the directory as soon as the
pytest process is gone: its end of the keeper's stdin closes, which the kernel does even on
kill -9. Both processes hold an flock() on the directory's `lock` file, so a directory whose
lock nobody holds is a leftover of a run that died with its keeper; the next start removes it.

A kept cluster (`--yara-reuse-db`) has a directory per project and stays up for the next run.
One whose server died (a stale socket and postmaster.pid) is started again, and
`--yara-create-db` drops and rebuilds it.

Only the standard library here: the keeper runs as `python -I local_cluster.py` without
importing the package.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

RUN_PREFIX = "yara-pg-run-"
KEEP_PREFIX = "yara-pg-keep-"
DEFAULT_PORT = 5432
# A test cluster is thrown away or rebuilt, never recovered: durability buys nothing.
FAST_SETTINGS = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
# A Unix socket path holds at most 107 bytes: a longer temp dir falls back to /tmp.
SOCKET_PATH_MAX = 100
# A directory without a lock file may be one another run is creating right now.
UNLOCKED_GRACE = 300.0


class Unavailable(Exception):
    """No local PostgreSQL server binaries can be used here; the message says why."""


class ClusterError(Exception):
    """The binaries are there but the cluster could not be made or started."""


@dataclass(frozen=True)
class Spec:
    """What the keeper makes: a cluster in `directory`, its server's settings."""

    bindir: str
    directory: str
    port: int = DEFAULT_PORT
    settings: tuple[str, ...] = ()  # name=value, each passed as -c name=value
    tcp: bool = False  # also listen on 127.0.0.1:port (a port was asked for)
    keep: bool = False  # leave the server running for the next run
    user: str | None = None  # the account the server runs as (when we are root)

    @property
    def data(self) -> Path:
        return Path(self.directory) / "data"

    @property
    def url(self) -> str:
        return f"postgres://postgres@/postgres?host={self.directory}&port={self.port}"

    def recorded(self) -> dict[str, Any]:
        """What a running kept server must match to be reused."""
        return {
            "bindir": self.bindir,
            "port": self.port,
            "settings": list(self.settings),
            "tcp": self.tcp,
        }


@dataclass
class Cluster:
    url: str
    directory: Path
    notes: list[str] = field(default_factory=list)
    stop: Callable[[], None] = field(default=lambda: None)


# Binaries ---------------------------------------------------------------------------------


def missing_binaries(bindir: Path) -> list[str]:
    return [name for name in ("initdb", "postgres") if not os.access(bindir / name, os.X_OK)]


def find_binaries(bindir: str | None = None) -> Path:
    """The directory of initdb and postgres: `bindir` when given, else initdb on PATH, else
    `pg_config --bindir`, else the newest /usr/lib/postgresql/<version>/bin."""
    if bindir is not None:
        path = Path(bindir)
        missing = missing_binaries(path)
        if missing:
            raise Unavailable(f"{bindir} has no {' or '.join(missing)}")
        return path
    candidates: list[Path] = []
    initdb = shutil.which("initdb")
    if initdb:
        # A symlink on PATH (/usr/local/bin/initdb): postgres is beside the real file.
        candidates.append(Path(initdb).resolve().parent)
    pg_config = shutil.which("pg_config")
    if pg_config:
        result = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
        if result.returncode == 0 and result.stdout.strip():
            candidates.append(Path(result.stdout.strip()))
    installed = Path("/usr/lib/postgresql").glob("*/bin")
    candidates += sorted(installed, key=lambda p: _version_key(p.parent.name), reverse=True)
    for candidate in candidates:
        if not missing_binaries(candidate):
            return candidate
    raise Unavailable(
        "initdb and postgres were not found on PATH, via pg_config, or in /usr/lib/postgresql"
    )


def _version_key(name: str) -> tuple[int, ...]:
    # "9.6" < "17": numerically, not as text.
    return tuple(int(part) for part in re.findall(r"\d+", name))


def server_user() -> str | None:
    """PostgreSQL refuses to run as root: the `postgres` account then, else ourselves."""
    if os.geteuid() != 0:
        return None
    import pwd

    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise Unavailable(
            "running as root and there is no postgres user to run the server"
        ) from None
    return "postgres"


def _user_kwargs(user: str | None) -> dict[str, Any]:
    if user is None:
        return {}
    import pwd

    account = pwd.getpwnam(user)
    return {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}


def _give_to(path: Path, user: str | None) -> None:
    if user is not None:
        import pwd

        account = pwd.getpwnam(user)
        os.chown(path, account.pw_uid, account.pw_gid)


# Directories ------------------------------------------------------------------------------


def base_directory() -> Path:
    base = Path(tempfile.gettempdir())
    longest = len(str(base)) + len("/" + KEEP_PREFIX) + 12 + len("/.s.PGSQL.65535")
    return base if longest <= SOCKET_PATH_MAX else Path("/tmp")


def kept_directory(rootdir: str | os.PathLike[str]) -> Path:
    """The kept cluster of one project (its rootdir) and user: never shared by two projects."""
    key = f"{os.geteuid()}:{Path(rootdir).resolve()}".encode()
    return base_directory() / (KEEP_PREFIX + hashlib.sha256(key).hexdigest()[:12])


def _lock(directory: Path, wait: bool, create: bool = True) -> int:
    import fcntl  # Unix only, as the local cluster is: the plugin imports on Windows too

    fd = os.open(directory / "lock", os.O_RDWR | (os.O_CREAT if create else 0), 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except OSError:
        os.close(fd)
        raise
    return fd


def _new_lock(directory: Path) -> int:
    """The lock of a new throwaway directory, taken before its name appears: a run cleaning
    up never sees it free."""
    import fcntl

    fd = os.open(directory / "lock.new", os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    os.rename(directory / "lock.new", directory / "lock")
    return fd


def remove_stale(base: Path | None = None) -> list[Path]:
    """Remove the throwaway clusters of runs that died with their keeper (their lock is free):
    their server is stopped and their directory removed. Returns the directories removed."""
    removed = []
    for directory in sorted((base or base_directory()).glob(RUN_PREFIX + "*")):
        try:
            fd = _lock(directory, wait=False, create=False)
        except FileNotFoundError:
            # No lock file: being made right now, unless it is old.
            with contextlib.suppress(OSError):
                if time.time() - directory.stat().st_mtime < UNLOCKED_GRACE:
                    continue
                _stop_postmaster(directory / "data", signal.SIGQUIT)
                shutil.rmtree(directory, ignore_errors=True)
                removed.append(directory)
            continue
        except OSError:
            continue  # held by a live run, or not ours to touch
        try:
            _stop_postmaster(directory / "data", signal.SIGQUIT)
            shutil.rmtree(directory, ignore_errors=True)
            removed.append(directory)
        finally:
            os.close(fd)
    return removed


# Servers ----------------------------------------------------------------------------------


def running_postmaster(data: Path) -> int | None:
    """The pid of the server running on `data`, from its postmaster.pid, if it is alive."""
    try:
        pid = int((data / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # alive, another user's
    proc = Path(f"/proc/{pid}")
    if proc.parent.is_dir():
        # A dead server's pid may belong to another process by now (or to a zombie): it is
        # this server only if its working directory is the data directory.
        try:
            if Path(os.readlink(proc / "cwd")).resolve() != data.resolve():
                return None
        except OSError:
            return None
    return pid


def _stop_postmaster(data: Path, how: signal.Signals) -> bool:
    """Stop the server on `data` (SIGINT: fast and clean; SIGQUIT: immediate). True if one
    was running."""
    pid = running_postmaster(data)
    if pid is None:
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, how)
    deadline, killed = time.monotonic() + STOP_TIMEOUT, False
    while running_postmaster(data) == pid:
        if time.monotonic() > deadline:
            if killed:
                break  # a zombie where /proc cannot tell: it is not serving anyone
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            deadline, killed = time.monotonic() + STOP_TIMEOUT, True
        time.sleep(0.02)
    return True


def drop_kept(directory: Path) -> bool:
    """Stop a kept cluster and remove its directory. True if there was one."""
    if not directory.exists():
        return False
    _stop_postmaster(directory / "data", signal.SIGQUIT)
    shutil.rmtree(directory, ignore_errors=True)
    return True


def _log_tail(path: Path, size: int = 800) -> str:
    try:
        return path.read_text(errors="replace")[-size:].strip()
    except OSError:
        return ""


# From pytest ------------------------------------------------------------------------------


def start_throwaway(
    bindir: Path, *, port: int | None = None, settings: tuple[str, ...] = ()
) -> Cluster:
    """A new cluster for this run, watched by a keeper that removes it when the run ends."""
    user = server_user()
    base = base_directory()
    notes = [f"removed {path}, a cluster left by a dead run" for path in remove_stale(base)]
    directory = Path(tempfile.mkdtemp(prefix=RUN_PREFIX, dir=base))
    lock = _new_lock(directory)
    _give_to(directory, user)
    spec = Spec(
        str(bindir),
        str(directory),
        port or DEFAULT_PORT,
        settings,
        tcp=port is not None,
        keep=False,
        user=user,
    )
    try:
        keeper = _start_keeper(spec, lock)
    except BaseException:
        os.close(lock)
        raise

    def stop() -> None:
        # Closing its stdin tells the keeper to stop the server and remove the directory.
        assert keeper.stdin is not None
        with contextlib.suppress(OSError):
            keeper.stdin.close()
        try:
            keeper.wait(timeout=STOP_TIMEOUT * 3)
        except subprocess.TimeoutExpired:
            keeper.kill()  # the next start removes what it leaves
        os.close(lock)

    return Cluster(spec.url, directory, notes, stop)


def start_kept(
    bindir: Path,
    rootdir: str | os.PathLike[str],
    *,
    port: int | None = None,
    settings: tuple[str, ...] = (),
    rebuild: bool = False,
) -> Cluster:
    """The project's kept cluster: reused while it runs with the same settings, restarted
    when they changed, started again when its server died, rebuilt when `rebuild`
    (--yara-create-db) asks. One that cannot start is an error saying how to rebuild it: it
    is not thrown away unasked."""
    user = server_user()
    base = base_directory()
    removed = remove_stale(base)
    directory = kept_directory(rootdir)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "project").write_text(f"{Path(rootdir).resolve()}\n")
    _give_to(directory, user)
    spec = Spec(
        str(bindir),
        str(directory),
        port or DEFAULT_PORT,
        settings,
        tcp=port is not None,
        keep=True,
        user=user,
    )
    cluster = Cluster(spec.url, directory)
    cluster.notes += [f"removed {path}, a cluster left by a dead run" for path in removed]
    recorded = directory / "settings.json"
    lock = _lock(directory, wait=True)  # another run of the project may be starting it
    try:
        if rebuild and (spec.data / "PG_VERSION").exists():
            _stop_postmaster(spec.data, signal.SIGQUIT)
            shutil.rmtree(spec.data, ignore_errors=True)
            cluster.notes.append(f"dropped the kept cluster in {directory} (--yara-create-db)")
        if running_postmaster(spec.data) is not None:
            with contextlib.suppress(OSError, ValueError):
                if json.loads(recorded.read_text()) == spec.recorded():
                    return cluster
            _stop_postmaster(spec.data, signal.SIGINT)
            cluster.notes.append(f"restarted the kept cluster in {directory}: its settings changed")
        elif (spec.data / "PG_VERSION").exists():
            # Its server died (kill -9, a reboot): its lock files name a pid that may belong
            # to another process by now, and PostgreSQL would refuse to start over them.
            for stale in (spec.data / "postmaster.pid", directory / f".s.PGSQL.{spec.port}.lock"):
                stale.unlink(missing_ok=True)
            cluster.notes.append(
                f"the kept cluster in {directory} was not running (its server died): "
                "started it again"
            )
        try:
            _start_keeper(spec, lock).wait()
        except ClusterError as error:
            raise ClusterError(f"{error}\n(--yara-create-db rebuilds the kept cluster)") from None
        recorded.write_text(json.dumps(spec.recorded()))
        return cluster
    finally:
        os.close(lock)


def _start_keeper(spec: Spec, lock: int) -> subprocess.Popen[bytes]:
    """Start the keeper and wait until the server is up (or has failed)."""
    keeper = subprocess.Popen(
        [sys.executable, "-I", str(Path(__file__).resolve()), json.dumps(asdict(spec))],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        pass_fds=[lock],
        # Its own session: a signal to pytest's process group (Ctrl-C, `timeout`) must not
        # take the keeper down with the run it cleans up after.
        start_new_session=True,
    )
    assert keeper.stdout is not None and keeper.stderr is not None
    line = keeper.stdout.readline()
    try:
        message = json.loads(line)
    except ValueError:
        keeper.wait()
        problem = keeper.stderr.read().decode(errors="replace").strip()[-800:]
        raise ClusterError(
            f"the cluster's keeper exited ({keeper.returncode}): {problem or 'no output'}"
        ) from None
    if "error" in message:
        keeper.wait()
        raise ClusterError(str(message["error"]))
    return keeper


# The keeper -------------------------------------------------------------------------------


class _Gone(Exception):
    """The pytest process ended (or asked the keeper to stop)."""


class _Keeper:
    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.directory = Path(spec.directory)
        self.parent = os.getppid()
        self.server: subprocess.Popen[bytes] | None = None
        self.created = False  # this keeper ran initdb
        self.stopping = False

    def run(self) -> None:
        for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(number, self._on_signal)
        try:
            self.bring_up()
        except _Gone:
            self.tear_down(failed=True)
            return
        except ClusterError as error:
            self.tear_down(failed=True)
            self.say(error=str(error))
            return
        self.say(ready=True)
        if self.spec.keep:
            return  # the server runs on, for the next run
        while not self.gone(timeout=1.0):
            pass
        self.tear_down(failed=False)

    def _on_signal(self, number: int, frame: Any) -> None:
        self.stopping = True

    def say(self, **message: Any) -> None:
        with contextlib.suppress(OSError):
            sys.stdout.write(json.dumps(message) + "\n")
            sys.stdout.flush()

    def gone(self, timeout: float) -> bool:
        """Wait up to `timeout` for the end of the run: EOF or any byte on stdin (pytest
        closed it or died), a new parent (pytest died), or a signal to the keeper."""
        if self.stopping or os.getppid() != self.parent:
            return True
        readable, _, _ = select.select([sys.stdin.fileno()], [], [], timeout)
        return bool(readable) or self.stopping or os.getppid() != self.parent

    def child(self, command: list[str], log: IO[bytes]) -> subprocess.Popen[bytes]:
        # The server's account owns its log, so that pg_ctl (restart) can write to it too.
        _give_to(Path(log.name), self.spec.user)
        return subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.directory,
            start_new_session=True,  # initdb's own children die with it
            **_user_kwargs(self.spec.user),
        )

    def bring_up(self) -> None:
        spec, data, bindir = self.spec, self.spec.data, Path(self.spec.bindir)
        if not (data / "PG_VERSION").exists():
            shutil.rmtree(data, ignore_errors=True)  # what an interrupted initdb left
            self.created = True
            log_path = self.directory / "initdb.log"
            with log_path.open("wb") as log:
                initdb = self.child(
                    [
                        str(bindir / "initdb"),
                        "-D",
                        str(data),
                        "-U",
                        "postgres",
                        "--auth=trust",
                        "--encoding=UTF8",
                        "--no-locale",
                        "--no-sync",
                    ],
                    log,
                )
                while initdb.poll() is None:
                    if self.gone(timeout=0.05):
                        os.killpg(initdb.pid, signal.SIGKILL)
                        initdb.wait()
                        raise _Gone
            if initdb.returncode != 0:
                raise ClusterError(f"initdb failed: {_log_tail(log_path)}")
        listen = "127.0.0.1" if spec.tcp else ""
        command = [
            str(bindir / "postgres"),
            "-D",
            str(data),
            "-k",
            spec.directory,
            "-p",
            str(spec.port),
            "-c",
            f"listen_addresses={listen}",
        ]
        for setting in (*FAST_SETTINGS, *spec.settings):
            command += ["-c", setting]
        log_path = self.directory / "log"
        with log_path.open("ab") as log:
            self.server = self.child(command, log)
        deadline = time.monotonic() + READY_TIMEOUT
        while not self._ready():
            if self.gone(timeout=0.02):
                raise _Gone
            if self.server.poll() is not None:
                raise ClusterError(f"the server did not start: {_log_tail(log_path)}")
            if time.monotonic() > deadline:
                raise ClusterError(
                    f"the server was not ready after {READY_TIMEOUT:.0f}s: {_log_tail(log_path)}"
                )

    def _ready(self) -> bool:
        # postmaster.pid's 8th line is the server's status (PostgreSQL 10 and later).
        assert self.server is not None
        try:
            lines = (self.spec.data / "postmaster.pid").read_text().split("\n")
        except OSError:
            return False
        return len(lines) > 7 and lines[0] == str(self.server.pid) and lines[7].strip() == "ready"

    def tear_down(self, failed: bool) -> None:
        """Stop the server (ours, or one a test restarted with pg_ctl); remove the directory
        of a throwaway cluster, or what a failed first start of a kept one made."""
        if self.server is not None and self.server.poll() is None:
            self.server.send_signal(signal.SIGQUIT)  # immediate: nothing here is kept
            try:
                self.server.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.server.kill()
                self.server.wait()
        if not self.spec.keep or failed:
            _stop_postmaster(self.spec.data, signal.SIGQUIT)
        if not self.spec.keep:
            shutil.rmtree(self.directory, ignore_errors=True)
        elif failed and self.created:
            shutil.rmtree(self.spec.data, ignore_errors=True)


def _keeper_main(argv: list[str]) -> None:
    fields = json.loads(argv[1])
    fields["settings"] = tuple(fields["settings"])
    keeper = _Keeper(Spec(**fields))
    try:
        keeper.run()
    except BaseException as error:  # say why to pytest rather than leave it waiting
        keeper.tear_down(failed=True)
        keeper.say(error=f"{type(error).__name__}: {error}")


if __name__ == "__main__":
    _keeper_main(sys.argv)
