"""The suite's fixtures: the servers, the databases and the platform, each defined here
once, under a name that means one thing everywhere. A fixture only one test module
uses (a variant of a platform below, a data set) stays in that module; no name is
defined twice (tests/unit/test_suite_layout.py). Builders and sample data are in
tests/helpers.py, the processes the suite starts (PostgreSQL, Redis, the platform,
Chromium) in tests/servers.py.

Layout: tests/unit (no server, SQLite in memory or in a temp file),
tests/integration (real PostgreSQL/Redis, the platform in-process or as a
process, API calls), tests/e2e (headless Chromium).

Real-server fixtures: one throwaway PostgreSQL and one Redis per test session;
each test gets its own fresh database / a flushed Redis. Fixtures with the
params ``embedded``/``real`` run a test twice: on the embedded default (SQLite,
the in-process Redis stand-in) and on real PostgreSQL + Redis.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session, sessionmaker

from tests.helpers import (
    ROOT, HOTLINE_SECRET, JINAN_BUREAU, NEW_YORK, SMS_INBOUND_SECRET, ApiWorld, FollowupWorld, LiveBackend, add_people,
    Month, add_small_bureau, bureau_database, plant, ticket_row, unit_ids,
)
from tests.helpers import api_world as build_api_world
from tests.helpers import api_world_again as build_api_world_again
from tests.helpers import followup_world as build_followup_world
from tests.servers import CHROMIUM, CHROMIUM_ARGS, PlatformProcess, PostgresServer, RedisServer

REQUIRE_ENV = "MINSHENG_REQUIRE_REAL_SERVERS"
_REAL_SERVER_FIXTURES = frozenset({"postgres_server", "redis_server", "pg_url", "redis_url"})
# What a unit test may not ask for: a server, a browser, a platform process or an app.
_NOT_FOR_UNIT_TESTS = _REAL_SERVER_FIXTURES | {
    "database_url", "live_backend", "browser", "served_platform", "served_embedded_platform", "jinan_platform",
    "small_bureau_platform", "small_bureau_platform_each_db", "map_export_web", "followup_world_each_db", "api_world",
    "bulletin_world",
}
_UNIT_DIR = Path(__file__).resolve().parent / "unit"
_INSTALL_HINT = {
    "PostgreSQL": "apt-get install -y postgresql  (Debian/Ubuntu; or put pg_config/initdb on PATH)",
    "Redis": "apt-get install -y redis-server",
}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "real_servers: needs the real PostgreSQL/Redis servers (tests/servers.py)"
    )
    config.addinivalue_line(
        "markers", "slow: minutes, not seconds; skipped unless MINSHENG_SLOW=1 (make test sets it)"
    )
    config.addinivalue_line(
        "markers", "platform_settings(**values): settings for the in-process platform fixtures of a test"
    )
    config.addinivalue_line(
        "markers", "deploy_guide: follows docs/DEPLOY.md's commands (tests/integration/test_deploy_guide.py)"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        # Tag every test using a real-server fixture, directly or as the "real"/"postgresql"
        # run of an embedded-and-real fixture, so `-m "not real_servers"` works without each
        # test having to remember the marker.
        params = getattr(getattr(item, "callspec", None), "params", {})
        if _REAL_SERVER_FIXTURES & names or {"real", "postgresql"} & {str(v) for v in params.values()}:
            item.add_marker(pytest.mark.real_servers)
        # tests/unit stays fast and server-free: a test that needs more belongs in integration/ or e2e/.
        wrong = _NOT_FOR_UNIT_TESTS & names
        if wrong and _UNIT_DIR in Path(str(item.fspath)).parents:
            raise pytest.UsageError(f"{item.nodeid} is a unit test but uses {sorted(wrong)}: move it to "
                                    "tests/integration or tests/e2e")


def _missing(what: str) -> None:
    """Fail when real servers are required (make test / CI), skip otherwise."""
    msg = f"{what} server binaries not found; install them: {_INSTALL_HINT[what]}"
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{msg}  ({REQUIRE_ENV}=1, so this is not skipped)", pytrace=False)
    pytest.skip(msg)


def _marked_settings(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The values of the test's ``platform_settings`` marks (the closest mark wins)."""
    values: dict[str, Any] = {}
    for mark in reversed(list(request.node.iter_markers("platform_settings"))):
        values.update(mark.kwargs)
    return values


def _platform_settings(request: pytest.FixtureRequest, **defaults: Any) -> Any:
    """Settings for an in-process platform: ``defaults``, then the test's ``platform_settings`` marks."""
    import settings as settings_module

    return settings_module.load(environ={}, **{**defaults, **_marked_settings(request)})


# ================================================================ real servers
S = TypeVar("S", PostgresServer, RedisServer)


def _served(server: type[S], what: str) -> Iterator[S]:
    """A server for the session, if ``what`` is installed (``_missing`` else), stopped at its end."""
    if not server.available():
        _missing(what)
    with server() as started:
        yield started


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    yield from _served(PostgresServer, "PostgreSQL")


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    yield from _served(RedisServer, "Redis")


@pytest.fixture
def pg_url(postgres_server: PostgresServer) -> Iterator[str]:
    """SQLAlchemy URL (postgresql+psycopg://) of a fresh database, dropped after the test."""
    name = f"test_{uuid.uuid4().hex[:16]}"
    url = postgres_server.create_database(name)
    try:
        yield url
    finally:
        postgres_server.drop_database(name)  # terminates leftover connections first


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database, once a SQLite file and once a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def redis_url(redis_server: RedisServer) -> Iterator[str]:
    """URL of the shared Redis (db 0), emptied with FLUSHALL before the test."""
    import redis

    if not redis_server.running:  # a test may have stopped it; same port again
        redis_server.start()
    client = redis.Redis.from_url(redis_server.url)
    try:
        client.flushall()
    finally:
        client.close()
    yield redis_server.url


@pytest.fixture(params=["embedded", "real"])
def live_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LiveBackend]:
    """What the live path runs on, migrated and empty: a SQLite file and a private in-process
    Redis stand-in (so tests do not see each other's keys), or a fresh PostgreSQL and the
    flushed real Redis."""
    import settings as settings_module
    from tickets.bootstrap import session_factory
    from tickets.db import make_engine
    from tickets.schema import upgrade

    if request.param == "embedded":
        import fakeredis

        url = f"sqlite:///{tmp_path / 'live.db'}"
        client = fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True)
    else:
        from dashboard.redis_link import connect

        cfg = settings_module.load(environ={}, database_url=request.getfixturevalue("pg_url"),
                                   redis_url=request.getfixturevalue("redis_url"))
        url, client = cfg.database_url, connect(cfg)
    upgrade(url)
    engine = make_engine(url)
    yield LiveBackend(url, session_factory(engine), client)
    engine.dispose()


# ================================================================ browser
@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Headless Debian Chromium driven by Playwright (never `playwright install`)."""
    if not os.path.exists(CHROMIUM):
        msg = f"{CHROMIUM} not found; install it: apt-get install -y chromium fonts-noto-cjk"
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(msg, pytrace=False)
        pytest.skip(msg)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


# ================================================================ databases (no platform)
@pytest.fixture
def empty_session() -> Iterator[Session]:
    """A session on an empty SQLite database in memory (tables, no rows)."""
    from tickets.models import Base

    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as s:
        yield s
    engine.dispose()


@pytest.fixture
def jinan_session(empty_session: Session) -> Session:
    """``empty_session`` with the Jinan demo bureau (examples/jinan_bureau.yaml) committed."""
    from tickets.units import load_bureau

    load_bureau(empty_session, JINAN_BUREAU)  # also clears routing's unit caches
    empty_session.commit()
    return empty_session


@pytest.fixture
def empty_db() -> Iterator[sessionmaker[Session]]:
    """A session factory (units of work of the domain) on an empty SQLite database in memory
    (tables, no rows)."""
    from tickets.bootstrap import session_factory
    from tickets.db import make_engine
    from tickets.models import Base

    engine = make_engine("sqlite:///:memory:")
    Base.metadata.create_all(engine)
    yield session_factory(engine)
    engine.dispose()


@pytest.fixture
def jinan_db(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    """A session factory on a migrated SQLite file with the Jinan demo bureau."""
    factory = bureau_database(f"sqlite:///{tmp_path / 'jinan.db'}")
    yield factory
    factory.kw["bind"].dispose()


@pytest.fixture
def boston_db(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    """A session factory on a migrated SQLite file with the Boston bureau (examples/boston_bureau.yaml),
    the domain configured with New York's zone."""
    factory = bureau_database(f"sqlite:///{tmp_path / 'boston.db'}", "boston_bureau.yaml", tz=NEW_YORK)
    yield factory
    factory.kw["bind"].dispose()


@pytest.fixture
def small_bureau_db(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    """A session factory on a migrated SQLite file (``tmp_path/small.db``) with the small bureau
    of tests/helpers.add_small_bureau: the city, the platform office, 历下分局 and two stations."""
    from tickets.bootstrap import session_factory
    from tickets.schema import upgrade

    url = f"sqlite:///{tmp_path / 'small.db'}"
    upgrade(url)
    factory = session_factory(url)
    add_small_bureau(factory)
    yield factory
    factory.kw["bind"].dispose()


@pytest.fixture
def followup_world() -> Iterator[FollowupWorld]:
    """The follow-up world (tests/helpers.FollowupWorld) on SQLite in memory."""
    yield from build_followup_world(None)


@pytest.fixture(params=["embedded", "real"])
def followup_world_each_db(request: pytest.FixtureRequest) -> Iterator[FollowupWorld]:
    """The follow-up world on SQLite, and on a real PostgreSQL (the production database:
    column widths, SQL) with the migrations."""
    yield from build_followup_world(None if request.param == "embedded" else request.getfixturevalue("pg_url"))


# ================================================================ process-wide state
@pytest.fixture
def fresh_sla_state() -> Iterator[None]:
    """No loaded calendar years, no calendar warnings and the shipped SLA policy, before and after."""
    from tickets import sla

    sla.clear_calendar_overrides()
    sla.reset_policy()
    yield
    sla.clear_calendar_overrides()
    sla.reset_policy()


@pytest.fixture(autouse=True)
def no_rule_versions_left() -> Iterator[None]:
    """Versions of the deadline rules a test's platform stored and read into this process belong
    to that test's database: none is left for the next test (a check of one tuple)."""
    yield
    from tickets import sla

    sla.forget_rule_versions()


# ================================================================ the platform in-process
@pytest.fixture
def jinan_platform(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """The Flask app in-process (``create_platform(live=False)``) on a migrated SQLite file
    with the Jinan demo bureau; settings from the test's ``platform_settings`` marks."""
    from dashboard import create_platform
    from tickets.uow import unit_of_work
    from tickets.schema import upgrade
    from tickets.units import load_bureau

    cfg = _platform_settings(request, database_url=f"sqlite:///{tmp_path / 'jinan-platform.db'}")
    upgrade(cfg.database_url)
    platform = create_platform(cfg, live=False)
    with unit_of_work(platform.factory) as s:
        load_bureau(s, JINAN_BUREAU)
    yield platform
    platform.stop()


@pytest.fixture
def small_bureau_platform(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """The Flask app in-process on the small bureau with tests/helpers.add_people's units and
    users; ``platform.tokens[username]`` is an API token for each user, ``platform.test_factory``
    a session factory of the test's own. The 12345 push and the inbound SMS endpoint have their
    secrets (helpers.HOTLINE_SECRET, SMS_INBOUND_SECRET); settings from ``platform_settings`` marks."""
    yield from _small_bureau_platform(request, f"sqlite:///{tmp_path / 'small-platform.db'}")


@pytest.fixture
def small_bureau_platform_each_db(request: pytest.FixtureRequest, database_url: str) -> Iterator[Any]:
    """``small_bureau_platform`` on SQLite, then on the real PostgreSQL."""
    yield from _small_bureau_platform(request, database_url)


def _small_bureau_platform(request: pytest.FixtureRequest, url: str) -> Iterator[Any]:
    from dashboard import create_platform, intake_forms
    from tickets import accounts
    from tickets.bootstrap import session_factory
    from tickets.models import User
    from tickets.schema import upgrade
    from tickets.uow import unit_of_work

    upgrade(url)
    factory = session_factory(url)
    add_small_bureau(factory)
    add_people(factory)
    cfg = _platform_settings(request, database_url=url, hotline_secret=HOTLINE_SECRET,
                             sms_inbound_secret=SMS_INBOUND_SECRET, demo_accounts_file="none")
    platform = create_platform(cfg, live=False)
    with unit_of_work(factory) as s:
        platform.tokens = {u.username: accounts.issue_token(s, "api", u) for u in s.scalars(select(User))}
    platform.test_factory = factory
    intake_forms.limiter.reset()
    yield platform
    platform.stop()
    factory.kw["bind"].dispose()


@pytest.fixture
def api_world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ApiWorld]:
    """The Flask app in-process on a migrated SQLite file with the Jinan demo bureau, an API
    token for an admin, a duty officer, a viewer and a handler, and a kiosk token
    (tests/helpers.ApiWorld); settings from the test's ``platform_settings`` marks."""
    yield from build_api_world(tmp_path, **_marked_settings(request))


@pytest.fixture
def map_export_web(jinan_platform: Any) -> tuple[Any, str]:
    """``jinan_platform`` with 60 noise and theft tickets at 泉城路派出所 over the last 20 hours,
    and a kiosk token for it."""
    from tickets import accounts
    from tickets.uow import unit_of_work
    from tickets.models import utcnow

    now = utcnow()
    with unit_of_work(jinan_platform.factory) as s:
        kiosk = accounts.issue_token(s, "kiosk", label="wall")
        uid = unit_ids(s)["JN-LX-01"]
        plant(s, [ticket_row(now - timedelta(hours=i % 20), 36.664 + (i % 7) * 0.001, 117.023 + (i % 5) * 0.001,
                             "noise" if i % 3 else "theft", unit_id=uid) for i in range(60)])
    return jinan_platform, kiosk


# ================================================================ the platform as a process
@pytest.fixture(params=["embedded", "real"])
def served_platform(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[PlatformProcess]:
    """The platform as a server process (`python app.py run`), on the embedded
    default (SQLite + in-process Redis) and on real PostgreSQL + Redis."""
    if request.param == "embedded":
        proc = PlatformProcess(f"sqlite:///{tmp_path / 'platform.db'}")
    else:
        proc = PlatformProcess(request.getfixturevalue("pg_url"), request.getfixturevalue("redis_url"))
    proc.start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def served_embedded_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PlatformProcess]:
    """The platform as a server process on the embedded default (a SQLite file), one per test module."""
    proc = PlatformProcess(f"sqlite:///{tmp_path_factory.mktemp('served') / 'platform.db'}").start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def admin_platform(postgres_server: PostgresServer, redis_server: RedisServer) -> Iterator[PlatformProcess]:
    """``app.py run`` on a fresh PostgreSQL database and an emptied Redis with the demo accounts,
    one per test module: the /admin pages' browser tests share it (a start is ~10 s)."""
    import redis

    if not redis_server.running:
        redis_server.start()
    client = redis.Redis.from_url(redis_server.url)
    try:
        client.flushall()
    finally:
        client.close()
    name = f"admin_{uuid.uuid4().hex[:16]}"
    proc = PlatformProcess(postgres_server.create_database(name), redis_server.url,
                           env={"MINSHENG_HOTLINE_SECRET": "test-hotline-secret",
                                "MINSHENG_AUDIT_FULL_CHECK_SECONDS": "0"})  # an edited past row shows at once
    try:
        yield proc.start(timeout=120)
    finally:
        proc.stop()
        postgres_server.drop_database(name)


# What the played month's rows follow from: a change in any of these makes it be played again.
_MONTH_INPUTS = ("tickets", "dashboard", "migrations", "examples/jinan_bureau.yaml", "settings.py",
                 "tests/helpers.py", "tests/conftest.py")


def _fingerprint(relpaths: tuple[str, ...]) -> str:
    """A hash of the files at ``relpaths`` (folders: every file below them)."""
    h = hashlib.sha256()
    for rel in relpaths:
        top = ROOT / rel
        for path in sorted([top] if top.is_file() else (p for p in top.rglob("*") if p.is_file())):
            if "__pycache__" not in path.parts:
                h.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


@contextmanager
def _once_per_run(tmp_path_factory: pytest.TempPathFactory, name: str) -> Iterator[tuple[Path, bool]]:
    """A folder ``name`` that the test processes of this run share (pytest-xdist's workers have
    their temp dirs side by side), held under a lock: (the folder, whether it was there
    already). The first process to come makes it; the others wait, then find it made."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    with open(shared / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        folder = shared / name
        found = (folder / "done").exists()
        if not found:
            shutil.rmtree(folder, ignore_errors=True)  # a process that failed halfway left it
            folder.mkdir()
        yield folder, found
        (folder / "done").touch()


@pytest.fixture(scope="session")
def bulletin_month(postgres_server: PostgresServer,
                   tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    """A database with the Jinan bureau and a simulated month of tickets, copied for each test
    that needs it: (its name, the people's tokens). Played once a run (20 to 50 s): the first
    test process dumps it, the others restore the dump into their own server (about 2 s)."""
    name = f"month_{uuid.uuid4().hex[:16]}"
    with _once_per_run(tmp_path_factory, f"bulletin-month-{_fingerprint(_MONTH_INPUTS)}") as (folder, found):
        dump, people = folder / "month.dump", folder / "tokens.json"
        if found:
            postgres_server.restore_database(name, dump)
            tokens = json.loads(people.read_text())
        else:
            url = postgres_server.create_database(name)
            for world in build_api_world(tmp_path_factory.mktemp("month"), url):
                Month(world.platform.factory).play()
                world.add_person("lx_head", "leader", "JN-LX")  # 历下分局's head
                world.add_person("chief", "leader", "JN")
                tokens = dict(world.tokens)
            postgres_server.dump_database(name, dump)
            people.write_text(json.dumps(tokens))
    try:
        yield name, tokens
    finally:
        postgres_server.drop_database(name)


@pytest.fixture
def bulletin_world(postgres_server: PostgresServer, bulletin_month: tuple[str, dict[str, str]]) -> Iterator[ApiWorld]:
    """The platform on PostgreSQL with the Jinan bureau and a simulated month of tickets (a fresh
    copy of the played month: a test may change it)."""
    template, tokens = bulletin_month
    name = f"test_{uuid.uuid4().hex[:16]}"
    url = postgres_server.copy_database(name, template)
    try:
        yield from build_api_world_again(url, tokens)
    finally:
        postgres_server.drop_database(name)
