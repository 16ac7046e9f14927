"""The processes the test suite starts: throwaway real PostgreSQL and Redis
servers, the platform itself (``python app.py run``), and where Chromium is.
bench/ and docs/make_screenshots.py use them too.

No Docker here: the servers run as plain processes on free private ports, with
their data in temp dirs that are deleted on stop. PostgreSQL refuses to run as
root, so as root initdb/pg_ctl go through ``runuser -u postgres --``.

Cleanup layers, so no stray server outlives a test run:
  1. ``stop()`` (the fixtures call it);
  2. an atexit hook, and the same cleanup on SIGTERM (``_install_sigterm_cleanup``);
  3. a reaper at the next ``start()`` that removes servers whose owning
     process is gone (covers SIGKILL / OOM of pytest);
  4. Redis additionally gets PR_SET_PDEATHSIG so it dies with its parent.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import glob
import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Callable, Self

ROOT = Path(__file__).resolve().parent.parent
PG_PREFIX = "minsheng-pg-"
REDIS_PREFIX = "minsheng-redis-"
OWNER_FILE = "owner.pid"  # pid of the Python process that started the server

_ADDR_IN_USE = re.compile(r"address already in use|could not bind", re.I)


class ServerError(RuntimeError):
    """A throwaway server failed to start or stop."""


# --------------------------------------------------------------------------- helpers


def free_port() -> int:
    """Ask the kernel for a free TCP port on 127.0.0.1 (racy, callers retry)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _tail(path: Path, limit: int = 4000) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"<no log: {exc}>"
    return text[-limit:] if len(text) > limit else text


def _world_traversable(path: Path) -> bool:
    """True if every component of *path* is executable by "others".

    As root the temp dir is chowned to ``postgres``, which must be able to reach
    it; a TMPDIR under /root would not work.
    """
    path = path.resolve()
    for p in [path, *path.parents]:
        try:
            if not os.stat(p).st_mode & stat.S_IXOTH:
                return False
        except OSError:
            return False
    return True


def _temp_base(for_other_user: bool) -> str:
    base = tempfile.gettempdir()
    if for_other_user and not _world_traversable(Path(base)):
        base = "/tmp"
    return base


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _reap_orphans(prefix: str, kill: Callable[[Path], None]) -> None:
    """Remove servers left behind by test runs whose Python process died (e.g. SIGKILL).

    Only directories carrying our prefix and an owner pid that no longer exists are
    touched; concurrent runs of other engineers keep theirs.
    """
    for base in {tempfile.gettempdir(), "/tmp"}:
        for d in glob.glob(os.path.join(base, prefix + "*")):
            tmp = Path(d)
            owner = _read_pid(tmp / OWNER_FILE)
            if owner is None or _pid_alive(owner):
                continue
            with contextlib.suppress(Exception):
                kill(tmp)
            shutil.rmtree(tmp, ignore_errors=True)


# Strong refs on purpose: a server dropped without stop() must still be cleaned up at exit.
_live: "set[PostgresServer | RedisServer]" = set()
_hooks_installed = False


def _cleanup_all() -> None:
    for server in list(_live):
        with contextlib.suppress(Exception):
            server.stop()


def _install_sigterm_cleanup() -> None:
    """On a plain SIGTERM (CI timeout, ``kill``) stop our servers, then die as before.

    atexit does not run on a default SIGTERM. Raising SystemExit instead would not
    work either: pytest reports it as one failed test and carries on. Only installed
    when nobody has a handler yet, and only from the main thread.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return

    def _on_term(signum: int, frame: object) -> None:
        _cleanup_all()
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    signal.signal(signal.SIGTERM, _on_term)


def _register(server: "PostgresServer | RedisServer") -> None:
    global _hooks_installed
    _live.add(server)
    if not _hooks_installed:
        atexit.register(_cleanup_all)
        _install_sigterm_cleanup()
        _hooks_installed = True


def _pdeathsig_preexec() -> Callable[[], None] | None:
    """preexec_fn making the child get SIGTERM when its parent dies (Linux only).

    PDEATHSIG fires when the *thread* that forked exits, so only use it from the
    main thread.
    """
    if not sys.platform.startswith("linux"):
        return None
    if threading.current_thread() is not threading.main_thread():
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None

    def _set() -> None:
        libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # 1 == PR_SET_PDEATHSIG

    return _set


# --------------------------------------------------------------------------- PostgreSQL


def _pg_bindir() -> Path | None:
    """Directory holding initdb/pg_ctl: ``pg_config --bindir`` or the newest Debian one."""
    candidates: list[Path] = []
    if env := os.environ.get("MINSHENG_PG_BINDIR"):
        candidates.append(Path(env))
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True
            ).stdout.strip()
            if out:
                candidates.append(Path(out))

    # pg_config can come from libpq-dev without a server next to it, hence the glob.
    def _version(p: str) -> tuple[int, ...]:
        m = re.search(r"/postgresql/([\d.]+)/bin$", p)
        return tuple(int(x) for x in m.group(1).split(".") if x) if m else (0,)

    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version, reverse=True)]
    for on_path in (shutil.which("initdb"),):
        if on_path:
            candidates.append(Path(on_path).parent)
    for c in candidates:
        if (c / "initdb").is_file() and (c / "pg_ctl").is_file() and (c / "postgres").is_file():
            return c
    return None


def _kill_orphan_postgres(tmp: Path) -> None:
    pid = _read_pid(tmp / "data" / "postmaster.pid")
    if pid and "postgres" in _cmdline(pid):
        os.kill(pid, signal.SIGQUIT)  # SIGQUIT == immediate shutdown
        deadline = time.monotonic() + 5
        while _pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)


class _Server:
    """What the suite's throwaway servers share: their files in a temp dir of their own, and
    ``with`` starting and stopping them."""

    tmpdir: Path | None

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def _file(self, name: str) -> Path:
        assert self.tmpdir is not None, "server not started"
        return self.tmpdir / name

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class PostgresServer(_Server):
    """A private PostgreSQL cluster: temp data dir, trust auth, 127.0.0.1 only."""

    superuser = "postgres"

    def __init__(self, start_timeout: float = 60.0, durable: bool = False) -> None:
        self.start_timeout = start_timeout
        # durable: fsync and synchronous commits on, as in production (benchmarks; tests need not).
        self.durable = durable
        self.port: int | None = None
        self.tmpdir: Path | None = None
        self.startup_seconds: float | None = None
        self._bindir: Path | None = None
        self._as_root = _is_root()

    # -- discovery
    @staticmethod
    def available() -> bool:
        if _pg_bindir() is None:
            return False
        if _is_root():
            # Root must drop to the postgres account, which the server package creates.
            if shutil.which("runuser") is None:
                return False
            try:
                import pwd

                pwd.getpwnam("postgres")
            except (KeyError, ImportError):
                return False
        return True

    # -- paths
    @property
    def datadir(self) -> Path:
        return self._file("data")

    @property
    def logfile(self) -> Path:
        return self._file("postgres.log")

    @property
    def running(self) -> bool:
        return self.port is not None and self.tmpdir is not None

    @property
    def postmaster_pid(self) -> int:
        """The server's first process: its backends are its children (benchmarks read their CPU)."""
        pid = _read_pid(self.datadir / "postmaster.pid")
        if pid is None:
            raise ServerError("PostgreSQL server not started")
        return pid

    @property
    def bindir(self) -> Path:
        """This server's binaries: its pg_dump, pg_restore and psql are of the same version."""
        if self._bindir is None:
            raise ServerError("PostgreSQL server not started")
        return self._bindir

    # -- process helpers
    def _cmd(self, *args: str) -> list[str]:
        assert self._bindir is not None
        cmd = [str(self._bindir / args[0]), *args[1:]]
        return ["runuser", "-u", "postgres", "--", *cmd] if self._as_root else cmd

    def _run(self, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ, LC_ALL="C", LANG="C")
        env.pop("PGDATA", None)
        # cwd=tmpdir: the postgres user may not be allowed into the caller's cwd (/root).
        return subprocess.run(
            self._cmd(*args), cwd=self.tmpdir, env=env, capture_output=True, text=True, timeout=timeout
        )

    # -- lifecycle
    def start(self) -> Self:
        if self.running:
            return self
        if not self.available():
            raise ServerError(
                "PostgreSQL server binaries not found (install the `postgresql` package; "
                "as root the `postgres` user and `runuser` are needed too)"
            )
        _reap_orphans(PG_PREFIX, _kill_orphan_postgres)
        self._bindir = _pg_bindir()
        t0 = time.monotonic()
        self.tmpdir = Path(tempfile.mkdtemp(prefix=PG_PREFIX, dir=_temp_base(self._as_root)))
        (self.tmpdir / OWNER_FILE).write_text(f"{os.getpid()}\n")
        _register(self)
        try:
            if self._as_root:
                shutil.chown(self.tmpdir, user="postgres", group="postgres")
            self._initdb()
            # The port is picked before binding, so another process may grab it: retry.
            for attempt in range(5):
                self.port = free_port()
                ok, err = self._pg_ctl_start()
                if ok:
                    break
                if attempt == 4 or not _ADDR_IN_USE.search(err + _tail(self.logfile)):
                    raise ServerError(
                        f"PostgreSQL failed to start on port {self.port}:\n{err}\n"
                        f"--- {self.logfile} ---\n{_tail(self.logfile)}"
                    )
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - t0
        return self

    def _initdb(self) -> None:
        # C.UTF-8 keeps upper()/lower() Unicode-aware; plain C otherwise.
        locale = "C.UTF-8" if Path("/usr/lib/locale/C.utf8").exists() else "C"
        res = self._run(
            "initdb", "-D", str(self.datadir), "-U", self.superuser, "-A", "trust",
            "-E", "UTF8", f"--locale={locale}", "--no-sync",  # no-sync: data is throwaway
            timeout=self.start_timeout,
        )
        if res.returncode != 0:
            raise ServerError(f"initdb failed ({res.returncode}):\n{res.stdout}\n{res.stderr}")
        with open(self.datadir / "postgresql.conf", "a") as conf:
            durability = "on" if self.durable else "off"
            conf.write(
                "\n# minsheng test server: throwaway, so durability is off for speed (unless durable)\n"
                "listen_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.tmpdir}'\n"
                f"fsync = {durability}\n"
                f"synchronous_commit = {durability}\n"
                f"full_page_writes = {durability}\n"
                "max_connections = 200\n"
            )

    def _pg_ctl_start(self) -> tuple[bool, str]:
        with contextlib.suppress(FileNotFoundError):
            self.logfile.unlink()
        try:
            res = self._run(
                "pg_ctl", "start", "-w", "-t", str(int(self.start_timeout)),
                "-D", str(self.datadir), "-l", str(self.logfile), "-o", f"-p {self.port}",
                timeout=self.start_timeout + 10,
            )
        except subprocess.TimeoutExpired as exc:
            return False, f"pg_ctl start timed out after {exc.timeout}s"
        return res.returncode == 0, res.stdout + res.stderr

    def _wait_ready(self) -> None:
        """pg_ctl -w already waits; this proves TCP on our port answers."""
        import psycopg

        deadline = time.monotonic() + self.start_timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            try:
                with psycopg.connect(self._conninfo("postgres"), connect_timeout=2) as conn:
                    conn.execute("SELECT 1")
                return
            except psycopg.OperationalError as exc:
                last = exc
                time.sleep(0.05)
        raise ServerError(
            f"PostgreSQL on port {self.port} not answering: {last}\n"
            f"--- {self.logfile} ---\n{_tail(self.logfile)}"
        )

    def restart(self, down_seconds: float = 0.0) -> Self:
        """Stop the server as an outage would (``-m fast``: every connection cut), stay down
        ``down_seconds``, and start it again on the same data and port."""
        res = self._run("pg_ctl", "stop", "-m", "fast", "-w", "-D", str(self.datadir), timeout=60)
        if res.returncode != 0:
            raise ServerError(f"pg_ctl stop failed: {res.stdout}{res.stderr}")
        time.sleep(down_seconds)
        ok, out = self._pg_ctl_start()
        if not ok:
            raise ServerError(f"PostgreSQL did not start again: {out}\n{_tail(self.logfile)}")
        self._wait_ready()
        return self

    def stop(self) -> None:
        tmp = self.tmpdir
        if tmp is None:
            return
        try:
            if (tmp / "data" / "postmaster.pid").exists() and self._bindir is not None:
                try:
                    res = self._run("pg_ctl", "stop", "-m", "immediate", "-w", "-D", str(tmp / "data"), timeout=30)
                    failed = res.returncode != 0
                except subprocess.TimeoutExpired:
                    failed = True
                if failed:
                    _kill_orphan_postgres(tmp)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
            self.tmpdir = None
            self.port = None
            _live.discard(self)

    # -- URLs and databases
    def _conninfo(self, dbname: str) -> str:
        return f"host=127.0.0.1 port={self.port} user={self.superuser} dbname={dbname}"

    def url(self, dbname: str = "postgres") -> str:
        """SQLAlchemy URL (psycopg 3 driver)."""
        if self.port is None:
            raise ServerError("PostgreSQL server not started")
        return f"postgresql+psycopg://{self.superuser}@127.0.0.1:{self.port}/{dbname}"

    def create_database(self, name: str) -> str:
        import psycopg
        from psycopg import sql

        with psycopg.connect(self._conninfo("postgres"), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)

    def copy_database(self, name: str, template: str) -> str:
        """A new database *name*, a copy of *template* (which nobody may be connected to)."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(self._conninfo("postgres"), autocommit=True) as conn:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (template,))
            conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name),
                                                                         sql.Identifier(template)))
        return self.url(name)

    def dump_database(self, name: str, path: Path) -> None:
        """*name* into *path* in pg_dump's custom format (``restore_database`` reads it back,
        on this server or another of the same version)."""
        self._pg_tool("pg_dump", "-Fc", "--no-owner", "-f", str(path), self._conninfo(name))

    def restore_database(self, name: str, path: Path) -> str:
        """A new database *name* holding what ``dump_database`` wrote to *path*."""
        url = self.create_database(name)
        self._pg_tool("pg_restore", "--no-owner", "--exit-on-error", "-d", self._conninfo(name), str(path))
        return url

    def _pg_tool(self, *args: str) -> None:
        # As the caller, not through runuser: the dump lives in the caller's temp dir.
        res = subprocess.run([str(self.bindir / args[0]), *args[1:]], capture_output=True, text=True, timeout=600)
        if res.returncode != 0:
            raise ServerError(f"{args[0]} failed ({res.returncode}):\n{res.stdout}{res.stderr}")

    def drop_database(self, name: str) -> None:
        """Drop *name*, first terminating connections a test left open (pooled engines)."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(self._conninfo("postgres"), autocommit=True) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
            # FORCE (PG 13+) also covers a connection racing in after the terminate.
            force = sql.SQL(" WITH (FORCE)") if conn.info.server_version >= 130000 else sql.SQL("")
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)) + force)


# --------------------------------------------------------------------------- Redis


def _redis_bin() -> str | None:
    return os.environ.get("MINSHENG_REDIS_SERVER") or shutil.which("redis-server") or (
        "/usr/bin/redis-server" if os.path.isfile("/usr/bin/redis-server") else None
    )


def _kill_orphan_redis(tmp: Path) -> None:
    pid = _read_pid(tmp / "redis.pid")
    if pid and "redis-server" in _cmdline(pid):
        os.kill(pid, signal.SIGKILL)


class RedisServer(_Server):
    """A foreground ``redis-server`` on a private port, no persistence."""

    def __init__(self, start_timeout: float = 20.0, extra_args: list[str] | None = None) -> None:
        self.start_timeout = start_timeout
        self.extra_args = extra_args or []  # e.g. ["--replicaof", "127.0.0.1", "<port>"]
        self.port: int | None = None
        self.tmpdir: Path | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self.startup_seconds: float | None = None

    @staticmethod
    def available() -> bool:
        return _redis_bin() is not None

    @property
    def url(self) -> str:
        if self.port is None:
            raise ServerError("Redis server not started")
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def logfile(self) -> Path:
        return self._file("redis.log")

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> Self:
        """Start; keeps ``self.port`` if already set (that is what ``restart`` relies on)."""
        if self.running:
            return self
        binary = _redis_bin()
        if binary is None:
            raise ServerError("redis-server not found (install the `redis-server` package)")
        if self.tmpdir is None:
            _reap_orphans(REDIS_PREFIX, _kill_orphan_redis)
            self.tmpdir = Path(tempfile.mkdtemp(prefix=REDIS_PREFIX, dir=_temp_base(False)))
            (self.tmpdir / OWNER_FILE).write_text(f"{os.getpid()}\n")
        _register(self)
        fixed_port = self.port is not None
        t0 = time.monotonic()
        try:
            for attempt in range(5):
                if not fixed_port:
                    self.port = free_port()
                self._spawn(binary)
                err = self._wait_ready()
                if err is None:
                    break
                if fixed_port or attempt == 4 or not _ADDR_IN_USE.search(_tail(self.logfile)):
                    raise ServerError(
                        f"redis-server failed to start on port {self.port}: {err}\n"
                        f"--- {self.logfile} ---\n{_tail(self.logfile)}"
                    )
        except BaseException:
            self._terminate()
            if not fixed_port:
                self._cleanup_dir()
            raise
        self.startup_seconds = time.monotonic() - t0
        return self

    def _args(self, binary: str) -> list[str]:
        assert self.tmpdir is not None and self.port is not None
        return [
            binary, "--port", str(self.port), "--bind", "127.0.0.1",
            "--save", "", "--appendonly", "no",  # no persistence: restart == empty
            "--daemonize", "no", "--dir", str(self.tmpdir), *self.extra_args,
        ]

    def _spawn(self, binary: str) -> None:
        assert self.tmpdir is not None and self.port is not None
        args = self._args(binary)
        with open(self.logfile, "ab") as log:
            self.proc = subprocess.Popen(
                args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                cwd=self.tmpdir, preexec_fn=_pdeathsig_preexec(),
            )
        (self.tmpdir / "redis.pid").write_text(f"{self.proc.pid}\n")

    def _wait_ready(self) -> str | None:
        """Poll PING over a raw socket; returns an error string, or None when ready."""
        assert self.proc is not None and self.port is not None
        deadline = time.monotonic() + self.start_timeout
        last = "no answer"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return f"process exited with code {self.proc.returncode}"
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(b"PING\r\n")
                    reply = s.recv(64)
                if reply.startswith(b"+PONG"):
                    return None
                last = f"PING answered {reply!r}"  # e.g. -LOADING
            except OSError as exc:
                last = str(exc)
            time.sleep(0.02)
        self._terminate()
        return f"not ready after {self.start_timeout}s ({last})"

    def _terminate(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)

    def _cleanup_dir(self) -> None:
        if self.tmpdir is not None:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
        self.tmpdir = None
        self.port = None
        _live.discard(self)

    def stop(self) -> None:
        self._terminate()
        self._cleanup_dir()

    def kill(self) -> None:
        """SIGKILL, as a lost host (its port and files stay until ``stop()``)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def pause(self) -> None:
        """Stop the server but keep its port, for an outage test: ``start()`` brings it back there."""
        self._terminate()

    def restart(self) -> Self:
        """Stop and start again on the SAME port, so existing client URLs stay valid.

        Data is gone afterwards (no persistence). Redis binds with SO_REUSEADDR, so
        TIME_WAIT sockets from the old process do not block the port.
        """
        if self.port is None:
            return self.start()
        self._terminate()
        return self.start()


SENTINEL_CONF = ROOT / "deploy" / "redis" / "sentinel.conf"


class SentinelServer(RedisServer):
    """A Redis Sentinel (``redis-server <conf> --sentinel``: Debian's redis-server binary, which is
    what the redis-sentinel package runs) on a private port, with the shipped
    deploy/redis/sentinel.conf adapted as a test machine must: its port, address, files, the
    primary it watches (no password here) and ``down_after_ms``. It rewrites its copy of the
    file as it learns (replicas, other Sentinels, failovers)."""

    def __init__(self, primary_port: int, *, down_after_ms: int = 1000) -> None:
        super().__init__()
        self.primary_port = primary_port
        self.down_after_ms = down_after_ms
        self.name = "minsheng"

    def _args(self, binary: str) -> list[str]:
        assert self.tmpdir is not None and self.port is not None
        text = SENTINEL_CONF.read_text(encoding="utf-8")
        monitor = re.search(r"^sentinel monitor (\S+) \S+ \d+ (\d+)$", text, re.M)
        assert monitor, f"{SENTINEL_CONF} monitors no primary"
        self.name = monitor.group(1)
        for old, new in (
                ("port 26379", f"port {self.port}"), ("bind 0.0.0.0", "bind 127.0.0.1"),
                ("supervised systemd", "supervised no"),
                ("pidfile /run/sentinel/redis-sentinel.pid", f"pidfile {self.tmpdir}/sentinel.pid"),
                ("logfile /var/log/redis/redis-sentinel.log", 'logfile ""'),
                ("dir /var/lib/redis", f"dir {self.tmpdir}"),
                (monitor.group(0), f"sentinel monitor {self.name} 127.0.0.1 {self.primary_port} {monitor.group(2)}"),
                (f"sentinel auth-pass {self.name} <the Redis servers' requirepass>", ""),
                (f"sentinel down-after-milliseconds {self.name} 5000",
                 f"sentinel down-after-milliseconds {self.name} {self.down_after_ms}")):
            assert re.search(f"^{re.escape(old)}$", text, re.M), f"{SENTINEL_CONF} no longer has {old!r}"
            text = re.sub(f"^{re.escape(old)}$", lambda _m, new=new: new, text, flags=re.M)
        conf = self.tmpdir / "sentinel.conf"
        conf.write_text(text, encoding="utf-8")
        return [binary, str(conf), "--sentinel"]

    def primary(self) -> int:
        """The port of the server this Sentinel names as the primary now."""
        import redis

        client = redis.Redis(port=self.port, decode_responses=True, socket_timeout=2)
        try:
            _host, port = client.sentinel_get_master_addr_by_name(self.name)
            return int(port)
        finally:
            client.close()


class SentinelRedis:
    """Redis as a bureau runs it with Sentinel (deploy/redis/sentinel.conf): a primary, a replica
    of it, and ``sentinels`` Sentinels watching them under ``name`` (a majority must agree the
    primary is down), all on private ports; ``url`` is the platform's ``redis+sentinel://``."""

    def __init__(self, sentinels: int = 3, down_after_ms: int = 1000) -> None:
        self.name = "minsheng"  # as deploy/redis/sentinel.conf names it (SentinelServer reads it)
        self.count = sentinels
        self.down_after_ms = down_after_ms
        self.primary = RedisServer()
        self.replica: RedisServer | None = None
        self.sentinels: list[SentinelServer] = []

    def start(self) -> "SentinelRedis":
        try:
            self.primary.start()
            assert self.primary.port is not None
            self.replica = RedisServer(extra_args=["--replicaof", "127.0.0.1", str(self.primary.port)]).start()
            for _ in range(self.count):
                self.sentinels.append(SentinelServer(self.primary.port, down_after_ms=self.down_after_ms).start())
            self.name = self.sentinels[0].name
        except BaseException:
            self.stop()
            raise
        return self

    @property
    def url(self) -> str:
        return "redis+sentinel://" + ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels) + f"/0/{self.name}"

    def servers(self) -> list[RedisServer]:
        return [s for s in (self.primary, self.replica) if s is not None]

    def ready_for_failover(self) -> bool:
        """Every Sentinel knows the replica and the other Sentinels (they find each other
        through the primary every 2 s): only then can a majority agree on a failover."""
        import redis

        for sentinel in self.sentinels:
            client = redis.Redis(port=sentinel.port, decode_responses=True, socket_timeout=2)
            try:
                if (len(client.sentinel_slaves(self.name)) < 1
                        or len(client.sentinel_sentinels(self.name)) < self.count - 1):
                    return False
            finally:
                client.close()
        return True

    def stop(self) -> None:
        for server in [*self.sentinels, *self.servers()]:
            server.stop()

    def __enter__(self) -> "SentinelRedis":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --------------------------------------------------------------------------- Chromium

CHROMIUM = os.environ.get("MINSHENG_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
]


# --------------------------------------------------------------------------- the platform

DEMO_ACCOUNTS = ROOT / "examples" / "demo_accounts.yaml"


def demo_kiosk_token() -> str:
    from tickets.accounts import demo_kiosk_token as read

    token = read(DEMO_ACCOUNTS)
    assert token, f"{DEMO_ACCOUNTS} has no kiosk_token"
    return token


class AppProcess:
    """``python app.py ...`` as a child process on a database (and Redis): its environment
    (ours without MINSHENG_*, DATABASE_URL and REDIS_URL, then its own), its log, its stop."""

    def __init__(self, database_url: str, redis_url: str | None, env: dict[str, str] | None, log_name: str) -> None:
        self.database_url = database_url
        self.redis_url = redis_url
        self.env = env or {}
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = Path(tempfile.mkdtemp(prefix=f"minsheng-{log_name}-")) / f"{log_name}.log"

    def _spawn(self, args: list[str], **extra_env: str) -> subprocess.Popen[bytes]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MINSHENG_", "DATABASE_URL", "REDIS_URL"))}
        env.update(DATABASE_URL=self.database_url, PYTHONUNBUFFERED="1", **extra_env)
        if self.redis_url:
            env["REDIS_URL"] = self.redis_url
        env.update(self.env)
        self.proc = subprocess.Popen([sys.executable, "app.py", *args], cwd=ROOT, env=env,
                                     stdout=self.log_path.open("wb"), stderr=subprocess.STDOUT)
        return self.proc

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:]

    def kill(self) -> None:
        """SIGKILL, with its children (gunicorn's workers): no clean stop, as a lost host."""
        if self.proc and self.proc.poll() is None:
            children = _children(self.proc.pid)
            self.proc.kill()
            for pid in children:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            self.proc.wait(5)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


def _children(pid: int) -> list[int]:
    """The processes ``pid`` started (Linux: /proc/PID/task/*/children)."""
    found: list[int] = []
    for task in glob.glob(f"/proc/{pid}/task/*/children"):
        with contextlib.suppress(OSError, ValueError):
            found += [int(c) for c in Path(task).read_text().split()]
    return found


class PlatformProcess(AppProcess):
    """The real platform (``python app.py run``, or ``command``: e.g. ``["serve"]``) as a
    child process; ``ready``: "snapshot" waits until the live snapshot answers (the aggregator
    has caught up), "health" until /api/v1/health does (``serve`` without a worker yet).

    ``app.py run`` loads the demo accounts into an empty database, so the demo
    kiosk token (examples/demo_accounts.yaml) opens the wall, the snapshot and the
    Socket.IO stream: ``kiosk_token``, ``wall_url()``, and ``get()`` sends it.
    """

    def __init__(
        self, database_url: str, redis_url: str | None = None, extra_args: list[str] | None = None,
        env: dict[str, str] | None = None, command: list[str] | None = None, ready: str = "snapshot",
    ) -> None:
        super().__init__(database_url, redis_url, env, "platform")
        self.command = command or ["run"]
        self.ready = ready
        self.port = free_port()
        self.extra_args = extra_args or []

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def kiosk_token(self) -> str:
        return demo_kiosk_token()

    def wall_url(self, path: str = "/wall") -> str:
        """A screen URL that opens without a login, as on a command-centre wall."""
        return f"{self.base_url}{path}{'&' if '?' in path else '?'}kiosk={self.kiosk_token}"

    def start(self, timeout: float = 60.0) -> "PlatformProcess":
        self._spawn([*self.command, *self.extra_args], MINSHENG_PORT=str(self.port))
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"platform exited with {self.proc.returncode}:\n{self.log()}")
            try:  # ready when the live snapshot answers (the aggregator has caught up)
                self.get("/api/v1/live/snapshot" if self.ready == "snapshot" else "/api/v1/health")
                return self
            except urllib.error.HTTPError as exc:
                if exc.code not in (401, 403):  # 503: not ready yet
                    time.sleep(0.2)
                    continue
                try:  # a database without the demo kiosk token: the public health check says
                    with urllib.request.urlopen(self.base_url + "/api/v1/health", timeout=5):
                        return self
                except (urllib.error.URLError, ConnectionError, OSError):
                    time.sleep(0.2)
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.2)
        raise TimeoutError(f"platform not ready after {timeout}s:\n{self.log()}")

    def get(self, path: str, token: str | None = None) -> Any:
        """GET JSON with a bearer token (the demo kiosk token unless another is given)."""
        request = urllib.request.Request(
            self.base_url + path, headers={"Authorization": f"Bearer {token or self.kiosk_token}"})
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.loads(response.read())


class WorkerProcess(AppProcess):
    """``python app.py worker`` (the background duties apart from the web) as a child process;
    ``started`` once it says so (whether it leads is Redis's answer, not its own)."""

    def __init__(self, database_url: str, redis_url: str, env: dict[str, str] | None = None) -> None:
        super().__init__(database_url, redis_url, env, "worker")

    def start(self, timeout: float = 60.0) -> "WorkerProcess":
        self._spawn(["worker"])
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited with {self.proc.returncode}:\n{self.log()}")
            if "background duties" in self.log():
                return self
            time.sleep(0.1)
        raise TimeoutError(f"worker not started after {timeout}s:\n{self.log()}")
