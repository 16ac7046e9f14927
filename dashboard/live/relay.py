"""The outbox relay: committed outbox rows → the Redis event stream.

A row is marked relayed only after Redis accepted it, so a crash or a Redis
outage loses nothing; at worst a row is sent twice, and the aggregator
ignores an event id it has already applied. On PostgreSQL, rows are taken
with ``FOR UPDATE SKIP LOCKED`` so two relays never send the same batch.
"""
from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from datetime import datetime

import redis
from sqlalchemy import Text, cast, func, select, text, update
from sqlalchemy.orm import sessionmaker

from dashboard.live.keys import EVENTS_STREAM, STREAM_MAXLEN
from tickets.uow import UnitOfWork
from tickets.db import json_list, on_outbox_commit, remove_outbox_listener
from tickets.models import OutboxMessage, utcnow

log = logging.getLogger(__name__)

REDIS_DOWN = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
# At most this much payload per round (at least one message, whatever its size).
RELAY_BYTES = 8_000_000


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

    def run_once(self) -> int:
        """Send one batch of pending rows; return how many were sent."""
        with self.factory() as session, session.begin():
            dialect = session.get_bind().dialect.name
            # The pending rows' sizes first: a bulk write's message holds its whole batch (up to
            # ~2 MB), and a backlog after a Redis outage must not be read into memory at once.
            pending = session.execute(
                select(OutboxMessage.id, func.length(cast(OutboxMessage.payload, Text)).label("size"))
                .where(OutboxMessage.relayed_at.is_(None))
                .order_by(OutboxMessage.id)
                .limit(self.batch)
                .with_for_update(skip_locked=True)
            ).all()
            ids: list[int] = []
            total = 0
            for row in pending:
                if ids and total + row.size > RELAY_BYTES:
                    break
                ids.append(row.id)
                total += row.size
            self.more = len(ids) < len(pending) or len(pending) == self.batch
            if not ids:
                return 0
            in_ids = OutboxMessage.id.in_(text(json_list(dialect, "ids", "bigint")))
            given = {"ids": json.dumps(ids)}  # one parameter: an IN list of 500 is rendered anew each time
            # The payload as the JSON text it is stored as: passed on, not decoded and encoded again.
            rows = session.execute(
                select(OutboxMessage.id, OutboxMessage.topic, cast(OutboxMessage.payload, Text).label("payload"))
                .where(in_ids).order_by(OutboxMessage.id), given).all()
            pipe = self.redis.pipeline(transaction=False)
            for row in rows:
                pipe.xadd(
                    EVENTS_STREAM,
                    {"id": row.id, "topic": row.topic, "payload": row.payload},
                    maxlen=STREAM_MAXLEN,
                    approximate=True,
                )
            pipe.execute()
            session.execute(update(OutboxMessage).where(in_ids).values(relayed_at=self.clock()), given)
        self.relayed += len(rows)
        return len(rows)

    def run(self, stop: threading.Event, is_leader: Callable[[], bool] = lambda: True) -> None:
        on_outbox_commit(self.wake.set)
        down_since: datetime | None = None
        try:
            while not stop.is_set():
                if not is_leader():
                    stop.wait(1.0)
                    continue
                try:
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
                except Exception:  # a database hiccup must not kill the relay
                    log.exception("outbox relay failed; retrying")
                    stop.wait(1.0)
                    continue
                if not (sent and self.more):
                    self.wake.wait(self.poll_seconds)
                    self.wake.clear()
        finally:
            remove_outbox_listener(self.wake.set)
