"""Shared pytest fixtures.

Real-server fixtures: one throwaway PostgreSQL and one Redis per test session
(see tests/servers.py); each test gets its own fresh database / a flushed Redis.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

try:  # `python -m pytest` puts the repo root on sys.path ...
    from tests.servers import PostgresServer, RedisServer
except ImportError:  # ... the bare `pytest` script only puts tests/ there (no __init__.py)
    from servers import PostgresServer, RedisServer  # type: ignore[no-redef]

REQUIRE_ENV = "MINSHENG_REQUIRE_REAL_SERVERS"
_REAL_SERVER_FIXTURES = frozenset({"postgres_server", "redis_server", "pg_url", "redis_url"})
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


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Tag every test using a real-server fixture, so `-m "not real_servers"` works
    # without each test having to remember the marker.
    for item in items:
        if _REAL_SERVER_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.real_servers)


def _missing(what: str) -> None:
    """Fail when real servers are required (make test / CI), skip otherwise."""
    msg = f"{what} server binaries not found; install them: {_INSTALL_HINT[what]}"
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{msg}  ({REQUIRE_ENV}=1, so this is not skipped)", pytrace=False)
    pytest.skip(msg)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    if not PostgresServer.available():
        _missing("PostgreSQL")
    server = PostgresServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    if not RedisServer.available():
        _missing("Redis")
    server = RedisServer().start()
    try:
        yield server
    finally:
        server.stop()


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
def database_url(request: pytest.FixtureRequest, tmp_path: Any) -> str:
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


# ---------------------------------------------------------------- browser
CHROMIUM = os.environ.get("MINSHENG_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
]


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


# ---------------------------------------------------------------- platform
@pytest.fixture(params=["embedded", "real"])
def platform(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Any]:
    """The platform as a server process (`python app.py run`), on the embedded
    default (SQLite + in-process Redis) and on real PostgreSQL + Redis."""
    try:
        from tests.platform_process import PlatformProcess
    except ImportError:  # the bare `pytest` script
        from platform_process import PlatformProcess  # type: ignore[no-redef]

    if request.param == "embedded":
        proc = PlatformProcess(f"sqlite:///{tmp_path / 'platform.db'}")
    else:
        proc = PlatformProcess(request.getfixturevalue("pg_url"), request.getfixturevalue("redis_url"))
    proc.start()
    yield proc
    proc.stop()
