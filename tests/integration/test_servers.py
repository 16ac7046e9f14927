"""Prove the real-server fixtures are real (not sqlite / fakeredis) and isolated."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
import sqlalchemy as sa
from redis.backoff import ConstantBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.retry import Retry

from tests.servers import PostgresServer, RedisServer

pytestmark = pytest.mark.real_servers


def _scalar(url: str, query: str) -> object:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(query)).scalar_one()
    finally:
        engine.dispose()


# --------------------------------------------------------------------------- PostgreSQL


def test_pg_url_is_real_postgresql(pg_url: str, postgres_server: PostgresServer) -> None:
    assert pg_url.startswith(f"postgresql+psycopg://postgres@127.0.0.1:{postgres_server.port}/")
    version = str(_scalar(pg_url, "SELECT version()"))
    assert version.startswith("PostgreSQL "), version
    # durability settings really applied (they are what makes it fast)
    assert _scalar(pg_url, "SHOW fsync") == "off"
    assert _scalar(pg_url, "SHOW listen_addresses") == "127.0.0.1"


@pytest.fixture
def second_pg_url(postgres_server: PostgresServer) -> Iterator[str]:
    url = postgres_server.create_database("test_second_db")
    yield url
    postgres_server.drop_database("test_second_db")


def test_pg_urls_are_distinct_databases(pg_url: str, second_pg_url: str) -> None:
    assert pg_url != second_pg_url
    assert _scalar(pg_url, "SELECT current_database()") != _scalar(second_pg_url, "SELECT current_database()")

    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE only_here (id int)"))
    # Left open on purpose: drop_database must terminate it.
    leaked = engine.connect()
    leaked.execute(sa.text("SELECT 1"))

    assert _scalar(second_pg_url, "SELECT to_regclass('only_here') IS NULL") is True


def test_drop_database_removes_it(postgres_server: PostgresServer) -> None:
    url = postgres_server.create_database("test_drop_me")
    assert _scalar(url, "SELECT 1") == 1
    postgres_server.drop_database("test_drop_me")
    admin = postgres_server.url()
    assert _scalar(admin, "SELECT count(*) FROM pg_database WHERE datname = 'test_drop_me'") == 0


# --------------------------------------------------------------------------- Redis


def test_redis_url_is_real_redis(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    try:
        assert not type(client.connection_pool).__module__.startswith("fakeredis")
        info = client.info("server")
        assert info["redis_version"]
        assert info["tcp_port"] == int(redis_url.rsplit(":", 1)[1].split("/")[0])
        assert "fakeredis" not in str(info).lower()
        assert client.dbsize() == 0  # flushed by the fixture
        client.set("left-over", "1")  # the next test must not see it
    finally:
        client.close()


def test_redis_url_is_flushed_between_tests(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    try:
        assert client.get("left-over") is None
        assert client.dbsize() == 0
    finally:
        client.close()


def test_restart_keeps_url_and_drops_data(redis_server: RedisServer) -> None:
    # redis_server only for its skip/fail-if-missing policy; restart a private
    # server so the shared one is not disturbed.
    with RedisServer() as server:
        url_before = server.url
        pid_before = server.proc.pid if server.proc else None
        # Created before the outage; must recover on its own via retries.
        client = redis.Redis.from_url(
            url_before,
            retry=Retry(ConstantBackoff(0.1), 20),
            retry_on_error=[RedisConnectionError],
            socket_connect_timeout=1,
        )
        try:
            client.set("k", "v")
            assert client.get("k") == b"v"

            server.restart()

            assert server.url == url_before
            assert server.proc is not None and server.proc.pid != pid_before
            assert client.get("k") is None  # no persistence: empty after restart
            assert client.ping() is True
            client.set("k", "again")
            assert client.get("k") == b"again"
        finally:
            client.close()
    assert not server.running


def test_start_times_are_reasonable(postgres_server: PostgresServer, redis_server: RedisServer) -> None:
    # Generous bounds (slow CI); typical is ~1-2 s for PostgreSQL, well under 1 s for Redis.
    assert postgres_server.startup_seconds is not None and postgres_server.startup_seconds < 30
    assert redis_server.startup_seconds is not None and redis_server.startup_seconds < 10
