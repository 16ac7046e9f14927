"""The training space: the settings a drill runs on, and the proof that they touch nothing real.

A drill is a platform of its own (``app.py drill`` serves it on its own port), so isolation
is a matter of settings, checked before anything starts:

- its database: a SQLite file in ``drill_dir`` on the embedded default, a database of its
  own (``<name>_drill``) on the real PostgreSQL server; ``drill_database_url`` names another;
- its live path: the real Redis server's next database number (the live state's keys) and a
  Socket.IO channel of its own (Redis's publish/subscribe ignores the database number); on
  the embedded stand-in the drill's process has its own;
- its SMS gateway: the sandbox, whatever the real platform uses (texts are rows of the
  drill database, nothing leaves), and no 12345 results connector (an empty sources folder);
- its sessions: a secret key and a cookie name of its own, so a drill login never passes for
  a real one, nor replaces a real one in the same browser.

:func:`check_apart` then asks the servers themselves (not the URLs' spelling) whether the
drill's database or Redis is the real one, and refuses to start if so.
"""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import yaml
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from settings import Settings

DRILL_CHANNEL_SUFFIX = "-drill"
SQLITE_FILE = "training.db"
ACCOUNTS_FILE = "accounts.yaml"  # the trainees' accounts: usernames of the demo's, a password of this drill's
SECRET_FILE = "secret_key"
SOURCES_DIR = "sources"  # empty: the drill knows no 12345 source, so it delivers no results to one


class NotApart(RuntimeError):
    """The training space would share the real database, Redis database or push channel."""


# ------------------------------------------------------------------ settings
def drill_database_url(real: Settings) -> str:
    if real.drill_database_url:
        return real.drill_database_url
    url = make_url(real.database_url)
    if url.get_backend_name() == "sqlite":
        return f"sqlite:///{Path(real.drill_dir) / SQLITE_FILE}"
    return url.set(database=f"{url.database}_drill").render_as_string(hide_password=False)


def drill_redis_url(real: Settings) -> str:
    """The real server's next database number (0 → 1, 15 → 0); embedded stays embedded (the
    drill's process has its own stand-in). A URL this cannot read needs drill_redis_url."""
    if real.drill_redis_url or real.embedded_redis:
        return real.drill_redis_url or real.redis_url
    parts = urlsplit(real.redis_url)
    path = [p for p in parts.path.split("/") if p]
    if parts.scheme in ("redis", "rediss") and len(path) <= 1 and all(p.isdigit() for p in path):
        number = int(path[0]) if path else 0
        return urlunsplit(parts._replace(path=f"/{(number + 1) % 16}"))
    if parts.scheme == "redis+sentinel" and len(path) == 2 and path[0].isdigit():  # …/DB/NAME
        return urlunsplit(parts._replace(path=f"/{(int(path[0]) + 1) % 16}/{path[1]}"))
    raise NotApart(f"cannot tell a database number in REDIS_URL ({parts.scheme}://…): set MINSHENG_DRILL_REDIS_URL")


def training_settings(real: Settings, port: int | None = None) -> Settings:
    """The settings of the training space that ``real``'s platform would drill on."""
    folder = Path(real.drill_dir)
    return replace(
        real, drill=True, database_url=drill_database_url(real), redis_url=drill_redis_url(real),
        live_channel=real.live_channel + DRILL_CHANNEL_SUFFIX, port=port or real.drill_port,
        sms_gateway="sandbox", sms_gateway_url="", sms_gateway_token="", sms_inbound_secret="",
        hotline_secret="", hotline_sources_dir=str(folder / SOURCES_DIR),
        demo_accounts_file=str(folder / ACCOUNTS_FILE), secret_key=_secret_key(folder),
    )


def _secret_key(folder: Path) -> str:
    """The drill's own session key, made once per drill folder."""
    path = folder / SECRET_FILE
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        _write_private(path, secrets.token_hex(32))
    return path.read_text(encoding="ascii").strip()


def _write_private(path: Path, content: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(content)


# ----------------------------------------------------------------- isolation
def _database_identity(url: str) -> tuple[str, ...]:
    """What the server says this database is: its cluster's system identifier and its name
    (PostgreSQL), the file's real path (SQLite)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return ("sqlite", str(Path(parsed.database or ":memory:").resolve()))
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            system = conn.scalar(text("SELECT system_identifier FROM pg_control_system()"))
            return ("postgresql", str(system), str(conn.scalar(text("SELECT current_database()"))))
    finally:
        engine.dispose()


def _redis_identity(settings: Settings) -> tuple[str, int] | None:
    """(the server's run id, the database number); None on the embedded stand-in."""
    if settings.embedded_redis:
        return None
    from dashboard.redis_link import connect

    client = connect(settings)
    try:
        info = client.info("server")
        number = int(client.connection_pool.connection_kwargs.get("db", 0))
        return str(info["run_id"]), number
    finally:
        client.close()


def _identity_or_none(url: str) -> tuple[str, ...] | None:
    try:
        return _database_identity(url)
    except Exception:  # noqa: BLE001 - a database not made yet (or unreachable) is no other's
        return None


def check_apart(real: Settings, drill: Settings) -> None:
    """Refuse a training space that is the real platform's database, Redis database or channel.
    Asked before anything is made or reset: the drill database may not exist yet (then it is
    not the real one), and the real one is only asked who it is."""
    real_db, drill_db = _identity_or_none(real.database_url), _identity_or_none(drill.database_url)
    if make_url(real.database_url) == make_url(drill.database_url) or (real_db is not None and real_db == drill_db):
        raise NotApart(f"the drill database {safe_url(drill.database_url)} is the real database")
    real_redis, drill_redis = _redis_identity(real), _redis_identity(drill)
    if real_redis is not None and drill_redis is not None and real_redis[0] == drill_redis[0]:
        if real_redis[1] == drill_redis[1]:
            raise NotApart(f"the drill's Redis database {drill_redis[1]} is the real platform's")
        if real.live_channel == drill.live_channel:
            raise NotApart(f"the drill pushes on the real platform's channel {real.live_channel!r}")


def safe_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


# ------------------------------------------------------------ making it afresh
def prepare_database(drill: Settings, *, reset: bool) -> None:
    """Create the drill database if missing (``reset``: drop it first), then migrate it."""
    from tickets.schema import upgrade

    url = make_url(drill.database_url)
    if url.get_backend_name() == "sqlite":
        path = Path(url.database or "")
        path.parent.mkdir(parents=True, exist_ok=True)
        if reset:
            for leftover in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
                leftover.unlink(missing_ok=True)
    else:
        _postgres_database(url, reset=reset)
    upgrade(drill.database_url)


def _postgres_database(url: Any, *, reset: bool) -> None:
    """CREATE DATABASE (after DROP … WITH (FORCE) on a reset), from the server's maintenance
    database; a role without CREATEDB gets a database made for it: set drill_database_url."""
    name = url.database
    engine = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    quoted = '"' + name.replace('"', '""') + '"'
    try:
        with engine.connect() as conn:
            if reset:
                conn.execute(text(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)"))
            exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
            if not exists:
                conn.execute(text(f"CREATE DATABASE {quoted}"))
    finally:
        engine.dispose()


def flush_live_path(drill: Settings) -> None:
    """A reset's live state: the drill's Redis database emptied (never the real one: checked)."""
    if drill.embedded_redis:
        return
    from dashboard.redis_link import connect

    client = connect(drill)
    try:
        client.flushdb()
    finally:
        client.close()


@dataclass(frozen=True)
class Trainees:
    """The drill's accounts: the demo's usernames and roles, one password for this drill."""

    password: str
    kiosk_token: str
    accounts: list[dict[str, Any]]
    fresh: bool  # made by this run (a new password)


def trainees(drill: Settings, template: Path, *, reset: bool) -> Trainees:
    """The trainees' accounts file of this drill (made from ``template``, the demo accounts'
    file, with a new password and kiosk token on a reset or the first run)."""
    path = Path(drill.demo_accounts_file)
    fresh = reset or not path.exists()
    if fresh:
        data = yaml.safe_load(template.read_text(encoding="utf-8"))
        data["password"] = f"drill-{secrets.token_urlsafe(9)}"
        data["kiosk_token"] = {"token": f"drill-kiosk-{secrets.token_urlsafe(24)}", "label": "drill wall 演练大屏"}
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_private(path, yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    Path(drill.hotline_sources_dir).mkdir(parents=True, exist_ok=True)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return Trainees(data["password"], data["kiosk_token"]["token"], data["accounts"], fresh)


def seed(drill: Settings, factory: Any) -> bool:
    """The bureau's units and the trainees' accounts, into an empty drill database; whether
    the accounts were made now (else they keep the password they were made with)."""
    from tickets.accounts import load_demo_accounts
    from tickets.models import Unit, User
    from tickets.units import load_bureau
    from tickets.uow import unit_of_work

    with unit_of_work(factory) as session:
        if not session.scalar(select(func.count()).select_from(Unit)):
            load_bureau(session, Path(drill.demo_bureau_file))
    with unit_of_work(factory) as session:
        if session.scalar(select(func.count()).select_from(User)):
            return False
        load_demo_accounts(session, Path(drill.demo_accounts_file))
    return True
