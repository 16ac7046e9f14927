"""The outbox relay: committed outbox rows → the Redis event stream.

A row is marked relayed only after Redis accepted it, so a crash or a Redis
outage loses nothing; at worst a row is sent twice, and the aggregator
ignores an event id it has already applied. On PostgreSQL, rows are taken
with ``FOR UPDATE SKIP LOCKED`` so two relays never send the same batch.

When to look: a commit in this process that wrote outbox rows wakes the relay
(``tickets.db.on_outbox_commit``). On PostgreSQL a thread LISTENs on
``tickets.db.OUTBOX_CHANNEL`` (every such transaction NOTIFYs), so commits in
other processes wake it too, and the relay polls only every
``LISTEN_FALLBACK_SECONDS``, to be safe. Elsewhere (SQLite) it polls every
``poll_seconds`` while rows keep coming, doubling the pause while none do, up
to ``IDLE_POLL_SECONDS``: polling every 50 ms was most of the live path's CPU
with no screen connected (docs/PERFORMANCE.md).
"""
from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

import redis
from sqlalchemy import Connection, Dialect, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import sessionmaker

from dashboard.live.leader import STANDBY_LOOK_SECONDS
from dashboard.live.keys import EVENTS_STREAM, STREAM_MAXLEN
from tickets.uow import UnitOfWork
from tickets.db import OUTBOX_CHANNEL, json_list, on_outbox_commit, remove_outbox_listener, stored_form
from tickets.models import OutboxMessage, utcnow

log = logging.getLogger(__name__)

REDIS_DOWN = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
# At most this much payload per round (at least one message, whatever its size).
RELAY_BYTES = 8_000_000
# The slowest poll: on PostgreSQL while LISTENing (a lost notification costs at most this), and
# the longest idle pause elsewhere (a commit in another process waits at most this).
LISTEN_FALLBACK_SECONDS = 1.0
IDLE_POLL_SECONDS = 0.5


def _driver_sql(dialect: Dialect, sql: str) -> str:
    """``sql`` with its ``:name`` parameters in the driver's own style (psycopg: ``%(name)s``)."""
    if dialect.paramstyle == "pyformat":
        return re.sub(r"(?<!:):(\w+)", r"%(\1)s", sql)
    return sql


class OutboxListener:
    """PostgreSQL only: LISTEN on the outbox channel in a thread of its own and set ``wake`` on
    each notification. ``listening`` is true while the LISTEN stands; after losing its
    connection it connects again (and wakes the relay: commits meanwhile were not heard)."""

    def __init__(self, url: str, wake: threading.Event) -> None:
        self.url = url
        self.wake = wake
        self.listening = False
        self.heard = 0

    @classmethod
    def of(cls, factory: sessionmaker[UnitOfWork], wake: threading.Event) -> OutboxListener | None:
        bind = factory.kw.get("bind")
        if bind is None or bind.dialect.name != "postgresql":
            return None
        return cls(bind.url.set(drivername="postgresql").render_as_string(hide_password=False), wake)

    def run(self, stop: threading.Event) -> None:
        import select

        import psycopg

        while not stop.is_set():
            try:
                with psycopg.connect(self.url, autocommit=True, connect_timeout=10) as conn:
                    conn.execute(f"LISTEN {OUTBOX_CHANNEL}")
                    self.listening = True
                    self.wake.set()
                    pgconn = conn.pgconn
                    # The socket itself, not Connection.notifies(): that wakes every 100 ms to look
                    # for a Ctrl-C, ten times a second for a process that has nothing to do.
                    while not stop.is_set():
                        readable, _w, _x = select.select([pgconn.socket], [], [], LISTEN_FALLBACK_SECONDS)
                        if not readable:
                            continue
                        pgconn.consume_input()  # a closed connection raises: connect again
                        while pgconn.notifies() is not None:
                            self.heard += 1
                            self.wake.set()
            except Exception as exc:  # the database restarting: poll meanwhile, listen again
                if self.listening:
                    log.warning("outbox LISTEN lost (%s): polling until it is back", exc)
                self.listening = False
                self.wake.set()
                stop.wait(2.0)
        self.listening = False

    def start(self, stop: threading.Event) -> threading.Thread:
        thread = threading.Thread(target=self.run, args=(stop,), name="outbox-listen", daemon=True)
        thread.start()
        return thread


class OutboxRelay:
    def __init__(
        self,
        factory: sessionmaker[UnitOfWork],
        client: redis.Redis,
        *,
        batch: int = 500,
        poll_seconds: float = 0.2,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.factory = factory
        self.redis = client
        self.batch = batch
        self.poll_seconds = poll_seconds
        self.clock = clock
        self.wake = threading.Event()
        self.relayed = 0
        self.more = False  # the last round left pending rows behind: go again at once
        self.listener: OutboxListener | None = None  # PostgreSQL: started by run()
        # A payload up to this size comes with the first query: a full batch of them stays
        # within RELAY_BYTES, as the payloads read by size do.
        self.inline_bytes = RELAY_BYTES // batch
        self.engine: Engine = factory.kw["bind"]
        self._conn: Connection | None = None  # held while run() runs; run_once() alone checks one out
        dialect = self.engine.dialect
        # Rows are marked relayed in the transaction that read them, after Redis took them. On
        # PostgreSQL they are locked as they are read and a second relay skips them; the ids go
        # as one JSON parameter (an IN list of 500 is rendered anew each time). The SQL goes to
        # the driver as it is: SQLAlchemy's statement handling cost more than the round trip.
        lock = " FOR UPDATE SKIP LOCKED" if dialect.name == "postgresql" else ""
        ids = json_list(dialect.name, "ids", "bigint")
        self._pending = _driver_sql(dialect, (
            "SELECT id, topic, length(CAST(payload AS TEXT)) AS size, CASE WHEN length(CAST(payload AS TEXT)) <= :inline"
            " THEN CAST(payload AS TEXT) END AS payload FROM outbox WHERE relayed_at IS NULL ORDER BY id LIMIT :batch"
            + lock))
        self._payloads = _driver_sql(dialect, f"SELECT id, CAST(payload AS TEXT) FROM outbox WHERE id IN ({ids})")
        self._mark = _driver_sql(dialect, f"UPDATE outbox SET relayed_at = :at WHERE id IN ({ids})")
        self._stored_at = stored_form(OutboxMessage.__table__.c.relayed_at.type, dialect) or (lambda v: v)

    def run_once(self) -> int:
        """Send one batch of pending rows; return how many were sent."""
        if self._conn is not None:
            return self._send(self._conn)
        with self.engine.connect() as conn:
            return self._send(conn)

    def _send(self, conn: Connection) -> int:
        # On a Core connection with the SQL written once: through the ORM session, with a pool
        # checkout (and its ping) each round, the relay was half the worker's Python time at
        # 10 tickets/s, for a round trip or two of actual work (docs/PERFORMANCE.md).
        with conn.begin():
            cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            try:
                # One query for the pending rows: their sizes, and the payload itself (the JSON text it
                # is stored as: passed on, not decoded and encoded again) when it is small, which is
                # nearly always. A bulk write's message holds its whole batch (up to ~2 MB): it is read
                # after the sizes are known, so a backlog after a Redis outage is never read at once.
                cursor.execute(self._pending, {"inline": self.inline_bytes, "batch": self.batch})
                pending = cursor.fetchall()  # (id, topic, size, payload or None)
                rows: list[tuple[int, str, int, str | None]] = []
                total = 0
                for row in pending:
                    if rows and total + row[2] > RELAY_BYTES:
                        break
                    rows.append(row)
                    total += row[2]
                self.more = len(rows) < len(pending) or len(pending) == self.batch
                if not rows:
                    return 0
                large = [row[0] for row in rows if row[3] is None]
                payloads: dict[int, str] = {}
                if large:
                    cursor.execute(self._payloads, {"ids": json.dumps(large)})
                    payloads = dict(cursor.fetchall())
                pipe = self.redis.pipeline(transaction=False)
                for id_, topic, _size, payload in rows:
                    pipe.xadd(
                        EVENTS_STREAM,
                        {"id": id_, "topic": topic, "payload": payload if payload is not None else payloads[id_]},
                        maxlen=STREAM_MAXLEN,
                        approximate=True,
                    )
                pipe.execute()
                cursor.execute(self._mark, {"ids": json.dumps([row[0] for row in rows]),
                                            "at": self._stored_at(self.clock())})
            finally:
                cursor.close()
        self.relayed += len(rows)
        return len(rows)

    def pause(self, idle: float) -> float:
        """How long to wait for a wake-up before looking again."""
        if self.listener is not None and self.listener.listening:
            return LISTEN_FALLBACK_SECONDS
        return idle

    def run(self, stop: threading.Event, is_leader: Callable[[], bool] = lambda: True) -> None:
        on_outbox_commit(self.wake.set)
        self.listener = OutboxListener.of(self.factory, self.wake)
        if self.listener is not None:
            self.listener.start(stop)
        down_since: datetime | None = None
        idle = self.poll_seconds
        try:
            while not stop.is_set():
                if not is_leader():
                    self._release()
                    stop.wait(STANDBY_LOOK_SECONDS)
                    continue
                try:
                    if self._conn is None:
                        self._conn = self.engine.connect()
                    sent = self.run_once()
                    if down_since is not None:
                        log.warning("Redis is back after %s; relaying the backlog", self.clock() - down_since)
                        down_since = None
                except REDIS_DOWN as exc:
                    if down_since is None:
                        down_since = self.clock()
                        log.error("Redis unreachable (%s): events stay in the outbox until it returns", exc)
                    stop.wait(0.5)
                    continue
                except Exception as exc:  # a database hiccup must not kill the relay
                    self._release()  # a new connection next round
                    if isinstance(exc, DBAPIError) and exc.connection_invalidated:  # a restart, a failover
                        log.warning("outbox relay lost its database connection (%s); connecting again", exc.orig)
                    else:
                        log.exception("outbox relay failed; retrying")
                    stop.wait(1.0)
                    continue
                if sent and self.more:
                    continue
                # Rows came: look again soon; none: wait longer each time (until woken).
                idle = self.poll_seconds if sent else min(max(idle, self.poll_seconds) * 2, IDLE_POLL_SECONDS)
                if self.wake.wait(self.pause(idle)):
                    idle = self.poll_seconds
                self.wake.clear()
        finally:
            self._release()
            remove_outbox_listener(self.wake.set)

    def _release(self) -> None:
        """Give back the connection ``run`` holds (standing by, after a failure, on stopping)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # noqa: BLE001 - a broken connection: the pool discards it
                log.debug("closing the relay's connection failed", exc_info=True)
