"""The live aggregator: ticket events → today's counters, deadlines and pushes.

It is the only writer of the ``ms:live:*`` keys. Each event is applied once:
its outbox id goes into an "applied" set in the same Redis transaction as its
effect, so an event relayed twice, or one already contained in a rebuild, is
skipped. Every applied change gets the next ``seq``; screens use it to drop
what they already have and to notice a gap (then they reload the snapshot).

When the live keys are missing (first start, Redis restarted empty, or an
explicit reset), the state is rebuilt from the database, which is the truth.
Deadlines sit in a sorted set; the aggregator's loop turns the ones that come
due into amber and breach events the moment they happen.
"""
from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta, timezone
from typing import Any

import redis
from sqlalchemy import func, or_, select
from sqlalchemy.orm import selectinload, sessionmaker

from dashboard.live import keys as K
from dashboard.live.clock import ClockWatch
from dashboard.live.leader import STANDBY_LOOK_SECONDS
from dashboard.live.figures import LiveFigures
from tickets import jsontext
from tickets.db import read_snapshot
from tickets.uow import UnitOfWork
from tickets.events import TICKET_TOPIC, TICKETS_TOPIC, event_payloads, public_view
from tickets import bulletin
from tickets.figures import RankingPolicy, Tally, rank, subtree_tally
from tickets.models import OutboxMessage, SupervisionOrder, Ticket, Unit, utcnow
from tickets.roles import subtree_of
from tickets.units import UNITS_TOPIC

log = logging.getLogger(__name__)

REDIS_DOWN = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
Message = dict[str, Any]
UNITS_PUSH_SECONDS = 1.0
# The longest a step waits for new events with nothing else due (the relay wakes it at once
# when some come: XREAD returns as soon as an entry is added).
IDLE_BLOCK_SECONDS = 2.0
# Every this often a frame carries the whole state (every counter, the warnings, the unit
# table) instead of what changed: whatever a screen missed without noticing heals within it.
KEYFRAME_SECONDS = 30.0


def stream_entries(response: Any) -> list[tuple[str, dict[str, str]]]:
    """XREAD's answer as a list of (id, fields), whether RESP2 (list) or RESP3 (dict)."""
    if not response:
        return []
    if isinstance(response, dict):
        return [tuple(e) for entries in response.values() for e in entries[0] if e]
    return [tuple(e) for _stream, entries in response for e in entries]


class _Transaction:
    """A chunk's Redis transaction, written as its net effect.

    A chunk of events mostly touches the same keys again and again (the open-ticket
    hash, the deadline sets, the applied bucket, each key's expiry): the last write
    of a hash field or set member wins, increments add up, pushes go in one LPUSH, and
    each expiry is set once, so a chunk of hundreds of events costs a few dozen
    commands. Commands without a buffer here pass straight to the pipeline; they must
    not touch a key a buffered command touches (the aggregator's never do).
    """

    def __init__(self, pipe: Any) -> None:
        self.pipe = pipe
        self.expiries: dict[str, int] = {}
        # The last write of each field or member: its value (a set: True), or _GONE (HDEL, SREM, ZREM).
        self.hashes: dict[str, dict[str, Any]] = {}
        self.sets: dict[str, dict[str, Any]] = {}
        self.zsets: dict[str, dict[str, Any]] = {}
        self.increments: dict[str, dict[str, int]] = {}  # HINCRBY
        self.pushes: dict[str, list[str]] = {}  # LPUSH, in order
        self.trims: dict[str, tuple[int, int]] = {}

    def expire(self, key: str, seconds: int) -> None:
        self.expiries[key] = seconds

    def hset(self, key: str, field: str, value: Any) -> None:
        self.hashes.setdefault(key, {})[field] = value

    def hdel(self, key: str, *fields: str) -> None:
        for f in fields:
            self.hashes.setdefault(key, {})[f] = _GONE

    def hincrby(self, key: str, field: str, amount: int = 1) -> None:
        counts = self.increments.setdefault(key, {})
        counts[field] = counts.get(field, 0) + amount

    def sadd(self, key: str, *members: Any) -> None:
        self.sets.setdefault(key, {}).update(dict.fromkeys((str(m) for m in members), True))

    def srem(self, key: str, *members: Any) -> None:
        self.sets.setdefault(key, {}).update(dict.fromkeys((str(m) for m in members), _GONE))

    def zadd(self, key: str, mapping: dict[Any, float]) -> None:
        self.zsets.setdefault(key, {}).update({str(m): score for m, score in mapping.items()})

    def zrem(self, key: str, *members: Any) -> None:
        self.zsets.setdefault(key, {}).update(dict.fromkeys((str(m) for m in members), _GONE))

    def lpush(self, key: str, *values: str) -> None:
        self.pushes.setdefault(key, []).extend(values)

    def ltrim(self, key: str, start: int, end: int) -> None:
        self.trims[key] = (start, end)  # after the pushes: the newest stay, as one by one

    def execute(self, seq_increment: int = 0, read: Callable[[Any], None] | None = None) -> tuple[int, list[Any]]:
        """Write the net effect; then INCRBY the seq by ``seq_increment``; then the reads ``read``
        queues, in the same transaction: returns the new seq and what the reads answered."""
        pipe = self.pipe
        for changed, remove, add in ((self.hashes, pipe.hdel, lambda key, kept: pipe.hset(key, mapping=kept)),
                                     (self.sets, pipe.srem, lambda key, kept: pipe.sadd(key, *kept)),
                                     (self.zsets, pipe.zrem, pipe.zadd)):
            for key, changes in changed.items():
                gone = [m for m, v in changes.items() if v is _GONE]
                kept = {m: v for m, v in changes.items() if v is not _GONE}
                if gone:
                    remove(key, *gone)
                if kept:
                    add(key, kept)
        for key, counts in self.increments.items():
            for field, amount in counts.items():
                if amount:
                    pipe.hincrby(key, field, amount)
        for key, values in self.pushes.items():
            pipe.lpush(key, *values)
        for key, (start, end) in self.trims.items():
            pipe.ltrim(key, start, end)
        seq_at = len(pipe)
        pipe.incrby(K.SEQ, seq_increment)
        for key, seconds in self.expiries.items():
            pipe.expire(key, seconds)
        reads_at = len(pipe)
        if read is not None:
            read(pipe)
        results = pipe.execute()
        return int(results[seq_at]), results[reads_at:]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.pipe, name)


_GONE = object()
# The rates the wall's unit table shows, each with its interval.
WALL_RATES = ("response_rate", "on_time_rate", "satisfaction_rate")


class LiveAggregator:
    def __init__(
        self,
        factory: sessionmaker[UnitOfWork],
        client: redis.Redis,
        tz: Any,
        *,
        clock: Callable[[], datetime] = utcnow,
        publish: Callable[[Message], None] = lambda message: None,
        heartbeat_seconds: float = 5.0,
        listening: Callable[[], bool] = lambda: True,
        unheard: Callable[[list[Message]], None] = lambda events: None,
        fence: Callable[[], bool] = lambda: True,
        clock_watch: ClockWatch | None = None,
        min_frame_seconds: float = 0.0,
        frame_burst: int = 10,
    ) -> None:
        self.factory = factory
        self.redis = client
        self.tz = tz
        self.clock = clock
        # Steps of the real clock and its distance from the database's (a simulated clock, as in
        # the tests and the replays, jumps on purpose: not watched unless a watch is given).
        self.clock_watch = clock_watch if clock_watch is not None else (
            ClockWatch(factory) if clock is utcnow else None)
        self.publish = publish
        self.heartbeat_seconds = heartbeat_seconds
        self.listening = listening
        self.unheard = unheard  # told the events of a frame not built (nobody listening)
        # Whether this process still holds the leadership lease (Leadership.holds): asked after
        # the wait for entries and before writing, so a leader whose lease ran out meanwhile
        # writes nothing (its successor reads the same entries from the cursor).
        self.fence = fence
        self._last_push = 0.0
        # Frames with events: one per ``min_frame_seconds`` on average, ``frame_burst`` at once
        # (a token bucket). Every frame costs each connected screen a send and a render, so under
        # a sustained burst (20 tickets a second) the screens' cost follows the frame rate, not
        # the intake rate, and the events of ~0.1 s ride in one frame (docs/PERFORMANCE.md, 500
        # screens). Below that rate a frame never waits: a fixed spacing instead made every
        # ticket of a steady 10 a second wait up to 0.1 s for the frame before it.
        self.min_frame_seconds = min_frame_seconds
        self.frame_burst = frame_burst
        self._tokens = float(frame_burst)
        self._tokens_at = time.monotonic()
        self._held: list[Message] = []  # applied, not yet pushed: the next frame's
        # What the last frame said: the next one carries only what differs (None: say it all).
        self._sent: dict[str, Any] | None = None
        self._keyframe_at = float("-inf")  # time.monotonic()
        self.figures = LiveFigures(client, tz)
        self.ranking = RankingPolicy()
        self._units_pushed = False
        self._units_dirty = False  # events applied since the unit table was last pushed
        # The counters as the last entries' transaction left them (read in it): the frame's, unless
        # something changed them since (a new day, a deadline fired). None: read them.
        self._fresh_counters: dict[str, Any] | None = None
        self._units_at = 0.0  # time.monotonic(): pacing, not the (maybe simulated) clock
        # (id, code, name, level, parent_id, kind) of every unit, for per-unit tables.
        self.units: list[tuple[int, str, str, int, int | None, str]] = []

    # ----------------------------------------------------------- local time
    def _now(self) -> datetime:
        """The clock as the database has it (the watch's offset; none for a simulated clock)."""
        now = self.clock()
        return now + self.clock_watch.offset if self.clock_watch is not None else now

    def _local_day(self, at: datetime) -> str:
        return at.astimezone(self.tz).strftime("%Y-%m-%d")

    def _today_start(self, now: datetime) -> datetime:
        return datetime.combine(now.astimezone(self.tz).date(), datetime.min.time(), self.tz)

    def _minute_key(self, at: datetime) -> str:
        return K.FLOW + at.astimezone(self.tz).strftime("%Y%m%d%H%M")

    # -------------------------------------------------------------- rebuild
    def ready(self) -> bool:
        return bool(self.redis.exists(K.EPOCH))

    def rebuild(self) -> str:
        """Replace the live state with one computed from the database; return the new epoch."""
        # The stream position is taken BEFORE the database snapshot: every
        # entry up to it was committed before the snapshot, so it is in it.
        last = self.redis.xrevrange(K.EVENTS_STREAM, count=1)
        cursor = str(last[0][0]) if last else "0-0"
        now = self._now()
        today_start = datetime.combine(now.astimezone(self.tz).date(), datetime.min.time(), self.tz)
        flow_start = now - timedelta(minutes=K.FLOW_MINUTES + 1)
        with self.factory() as session:
            # One consistent read: counts, open tickets and outbox ids from the same snapshot.
            read_snapshot(session)
            received_today = session.scalar(
                select(func.count()).where(Ticket.received_at >= today_start, Ticket.status != "merged")
            )
            closed_today = session.scalar(select(func.count()).where(Ticket.closed_at >= today_start))
            orders_open = session.scalar(select(func.count()).where(SupervisionOrder.status != "closed"))
            open_tickets = session.scalars(
                select(Ticket).where(Ticket.status.not_in(("closed", "merged"))).options(selectinload(Ticket.unit))
            ).all()
            flow_rows = session.execute(
                select(Ticket.received_at, Ticket.channel).where(Ticket.received_at >= flow_start)
            ).all()
            recent = session.scalars(
                select(Ticket).order_by(Ticket.received_at.desc(), Ticket.id.desc())
                .limit(K.TICKER_LENGTH).options(selectinload(Ticket.unit))
            ).all()
            # Outbox rows that may still arrive on the stream: not yet relayed, or just relayed.
            unsettled = session.scalars(
                select(OutboxMessage.id).where(
                    or_(OutboxMessage.relayed_at.is_(None), OutboxMessage.relayed_at >= now - timedelta(minutes=10))
                )
            ).all()
            open_views = [(t, public_view(t, t.unit)) for t in open_tickets]
            facts = self.figures.collect(session, today_start, now)
            self.units = [tuple(row) for row in session.execute(  # type: ignore[misc]
                select(Unit.id, Unit.code, Unit.name, Unit.level, Unit.parent_id, Unit.kind).order_by(Unit.id))]
            ticker = [self._ticker_item(public_view(t, t.unit), "dispatched", t.received_at) for t in recent]
            # Leaving the block closes the session: the read transaction ends, objects stay loaded.

        epoch = uuid.uuid4().hex[:12]
        self._fresh_counters = None  # read before the state they describe was replaced
        pipe = self.redis.pipeline(transaction=True)
        for key in self.redis.scan_iter(match=K.LIVE + "*", count=1000):
            # (Deleting the listener counts left the leader thinking nobody watched, pushing
            # nothing to a screen that had just connected until its process counted again.)
            if key not in (K.LEADER, K.LISTENERS, K.LISTENER_ROOMS):
                pipe.delete(key)
        pipe.hset(K.COUNTERS, mapping={
            "day": self._local_day(now), "received_today": received_today or 0, "closed_today": closed_today or 0,
            "orders_open": orders_open or 0,
        })
        for ticket, view in open_views:
            pipe.hset(K.OPEN, str(ticket.id), jsontext.dumps(view))
            self._queue_deadlines(pipe, ticket.id, view, now)
        for received_at, channel in flow_rows:
            key = self._minute_key(received_at)
            pipe.hincrby(key, channel, 1)
            pipe.expire(key, (K.FLOW_MINUTES + 60) * 60)
        for item in reversed(ticker):
            pipe.lpush(K.TICKER, jsontext.dumps(item))
        self.figures.rebuild(pipe, self._local_day(now), facts, now)
        for outbox_id in unsettled:
            key = K.APPLIED + str(outbox_id // K.APPLIED_BUCKET)
            pipe.sadd(key, outbox_id)
            pipe.expire(key, 3 * 86400)
        pipe.set(K.SEQ, 0)
        pipe.set(K.CURSOR, cursor)
        pipe.set(K.EPOCH, epoch)
        server = self._redis_server()
        if server is not None:
            pipe.set(K.SERVER, server)
        pipe.execute()
        log.info(
            "live state rebuilt from the database: epoch %s, %d received today, %d open, %d unsettled events",
            epoch, received_today, len(open_views), len(unsettled),
        )
        self.push([])
        return epoch

    def _queue_deadlines(self, pipe: Any, ticket_id: int, view: dict[str, Any], now: datetime) -> None:
        """Place a ticket's deadlines from its view: already breached, already amber, or still ahead."""
        if view.get("status") in ("closed", "merged"):
            return
        plan = []
        if view.get("resolve_due_at"):
            plan.append(("resolve", view["resolve_due_at"], view.get("resolve_warn_at"), K.BREACHED_RESOLVE))
        if view.get("contacted_at") is None and view.get("contact_due_at"):
            plan.append(("contact", view["contact_due_at"], view.get("contact_warn_at"), K.BREACHED_CONTACT))
        for which, due_iso, warn_iso, breached_key in plan:
            member = f"{which}:{ticket_id}"
            due = datetime.fromisoformat(due_iso)
            if due <= now:
                pipe.sadd(breached_key, ticket_id)
                continue
            pipe.zadd(K.DEADLINES, {member: due.timestamp()})
            warn = datetime.fromisoformat(warn_iso) if warn_iso else due
            if warn <= now:
                pipe.sadd(K.WARNED, member)
            else:
                pipe.zadd(K.AMBER, {member: warn.timestamp()})

    def _redis_server(self) -> str | None:
        """The Redis server's run id (None where INFO does not say: the in-process stand-in)."""
        try:
            return str(self.redis.info("server")["run_id"])
        except (KeyError, redis.exceptions.ResponseError):
            return None

    def check_server(self) -> None:
        """On taking the lead and after Redis was away: a live state written on another Redis
        server than this one is rebuilt from the database (a new epoch: every screen reloads its
        snapshot). After a Sentinel failover the promoted replica holds what replication had
        copied, which may lack the old primary's last writes (an applied event, a stream entry
        the relay had already marked sent): the database has them all."""
        server = self._redis_server()
        if server is None or not self.ready():
            return  # the stand-in; or no live state yet, which the next step rebuilds anyway
        written_on = self.redis.get(K.SERVER)
        if written_on != server:
            log.warning("the live state was written on another Redis server (%s, now %s: a failover?): "
                        "rebuilding it from the database", written_on, server)
            self.rebuild()

    # --------------------------------------------------------------- apply
    @staticmethod
    def _ticker_item(view: dict[str, Any], event: str, at: datetime) -> dict[str, Any]:
        keep = ("ticket_id", "number", "channel", "topic", "kind", "district", "unit_name", "received_at", "status")
        return {**{k: view.get(k) for k in keep}, "event": event, "at": at.isoformat()}

    def apply_many(self, entries: list[tuple[str, dict[str, str]]]) -> list[Message]:
        """Apply stream entries in one Redis transaction; return the events to push, in order.

        An entry whose outbox id was applied before (a relay redelivery, or an event
        already in a rebuild's snapshot) changes nothing. One round trip asks which were
        applied, one reads the figures state of the tickets concerned, one writes it all:
        per-event round trips made the aggregator the bottleneck of a busy intake.
        """
        if not entries:
            return []
        now = self.clock()
        today = self._local_day(now)
        # Read first, in one round trip: which entries were applied before, and the figures state
        # of every ticket the entries concern (of an applied one too: a redelivery is rare).
        parsed: list[tuple[int, str, Any]] = []
        buckets: dict[str, list[int]] = {}
        for _eid, fields in entries:
            outbox_id = int(fields["id"])
            topic = fields.get("topic", TICKET_TOPIC)
            parsed.append((outbox_id, topic, jsontext.loads(fields["payload"])))
            buckets.setdefault(K.APPLIED + str(outbox_id // K.APPLIED_BUCKET), []).append(outbox_id)
        events_of = {outbox_id: event_payloads(topic, payload) for outbox_id, topic, payload in parsed
                     if topic in (TICKET_TOPIC, TICKETS_TOPIC)}
        ticket_ids = sorted({event["ticket"]["ticket_id"] for events in events_of.values() for event in events})
        check = self.redis.pipeline(transaction=False)
        for bucket, ids in buckets.items():
            check.smismember(bucket, ids)
        if ticket_ids:
            self.figures.read(check, today, ticket_ids)
        answers = check.execute()
        figures_state = answers[len(buckets)] if ticket_ids else []
        applied = {i for (_b, ids), flags in zip(buckets.items(), answers) for i, f in zip(ids, flags) if f}
        todo: list[tuple[int, dict[str, Any], str]] = []
        seen: set[int] = set()
        for outbox_id, topic, payload in parsed:
            if outbox_id in applied or outbox_id in seen:
                continue
            seen.add(outbox_id)
            if topic == UNITS_TOPIC:  # an admin changed the tree: the wall's rows follow it
                self.reload_units()
                continue
            if outbox_id in events_of:
                todo.extend((outbox_id, event, TICKET_TOPIC) for event in events_of[outbox_id])
            else:
                todo.append((outbox_id, payload, topic))
        pipe = _Transaction(self.redis.pipeline(transaction=True))
        messages: list[Message] = []
        with self.figures.batch(today, ticket_ids, figures_state):
            for outbox_id, payload, topic in todo:
                if topic != TICKET_TOPIC:
                    messages.append(self._other_message(topic, payload))
                else:
                    messages.append(self._apply_ticket_event(pipe, payload, now, today))
                bucket = K.APPLIED + str(outbox_id // K.APPLIED_BUCKET)
                pipe.sadd(bucket, outbox_id)
                pipe.expire(bucket, 3 * 86400)
        pipe.set(K.CURSOR, entries[-1][0])
        # Each event gets the next seq, in order; the counters as they stand after, for the frame.
        seq, answers = pipe.execute(seq_increment=len(messages), read=self._read_counters)
        self._fresh_counters = self._counters_of(answers)
        first = seq - len(messages) + 1
        return [{"seq": first + i, **message} for i, message in enumerate(messages)]

    def _apply_ticket_event(self, pipe: Any, payload: dict[str, Any], now: datetime, today: str) -> Message:
        kind: str = payload["event"]
        at = datetime.fromisoformat(payload["at"])
        view: dict[str, Any] = payload["ticket"]
        tid = view["ticket_id"]
        if kind == "received":
            if self._local_day(datetime.fromisoformat(view["received_at"])) == today:
                pipe.hincrby(K.COUNTERS, "received_today", 1)
            pipe.hset(K.OPEN, str(tid), jsontext.dumps(view))
            minute = self._minute_key(datetime.fromisoformat(view["received_at"]))
            pipe.hincrby(minute, view["channel"], 1)
            pipe.expire(minute, (K.FLOW_MINUTES + 60) * 60)
        else:
            # Any other step: re-place the ticket's deadlines from its current view, so
            # contact, redo, an approved extension or a re-dispatch all land the same way.
            # (The first dispatch has none placed yet: receipt places none.)
            if not (kind == "dispatched" and (payload.get("data") or {}).get("first")):
                self._forget(pipe, tid, ("contact", "resolve"))
            if view.get("status") in ("closed", "merged"):
                pipe.hdel(K.OPEN, str(tid))
                if kind == "close" and self._local_day(at) == today:
                    pipe.hincrby(K.COUNTERS, "closed_today", 1)
                if kind == "merge" and self._local_day(datetime.fromisoformat(view["received_at"])) == today:
                    pipe.hincrby(K.COUNTERS, "received_today", -1)  # after de-duplication it is not a ticket
            else:
                if kind == "unmerge" and self._local_day(datetime.fromisoformat(view["received_at"])) == today:
                    pipe.hincrby(K.COUNTERS, "received_today", 1)  # a merge undone: a ticket of its own again
                pipe.hset(K.OPEN, str(tid), jsontext.dumps(view))
                self._queue_deadlines(pipe, tid, view, now)
            if kind == "dispatched" and (payload.get("data") or {}).get("first", True):
                # The ticker shows a ticket once it has its unit (dispatch follows receipt at once).
                pipe.lpush(K.TICKER, jsontext.dumps(self._ticker_item(view, kind, at)))
                pipe.ltrim(K.TICKER, 0, K.TICKER_LENGTH - 1)
        if kind == "supervision_order":  # 督办中: orders issued and not yet closed
            action = (payload.get("data") or {}).get("action")
            if action in ("issued", "closed"):
                pipe.hincrby(K.COUNTERS, "orders_open", 1 if action == "issued" else -1)
        self.figures.on_event(pipe, today, kind, view, payload.get("data") or {}, self._today_start(now), now)
        return {"event": kind, "at": at.isoformat(), "ticket": view}

    @staticmethod
    def _other_message(topic: str, payload: dict[str, Any]) -> Message:
        """An event about no ticket (e.g. an alert, tickets/alerts.py): passed on to the
        screens with its own seq, once; it changes no counter."""
        extra = {k: v for k, v in payload.items() if k not in ("event", "at")}
        return {"event": payload.get("event", topic), "at": payload.get("at"), "ticket": None, **extra}

    @staticmethod
    def _forget(pipe: Any, tid: int, which: tuple[str, ...]) -> None:
        members = [f"{w}:{tid}" for w in which]
        pipe.zrem(K.DEADLINES, *members)
        pipe.zrem(K.AMBER, *members)
        pipe.srem(K.WARNED, *members)
        for w in which:
            pipe.srem(K.BREACHED_CONTACT if w == "contact" else K.BREACHED_RESOLVE, tid)

    def fire_due(self) -> list[Message]:
        """Turn deadlines and 75% warnings that have come due into events."""
        now_ts = self.clock().timestamp()
        fired: list[Message] = []
        for zkey, kind in ((K.AMBER, "amber"), (K.DEADLINES, "breach")):
            members: list[str] = self.redis.zrangebyscore(zkey, "-inf", now_ts)  # type: ignore[assignment]  # decoded
            for member in members:
                which, tid = member.split(":", 1)
                raw = self.redis.hget(K.OPEN, tid)
                pipe = self.redis.pipeline(transaction=True)
                pipe.zrem(zkey, member)
                if kind == "amber":
                    pipe.sadd(K.WARNED, member)
                else:
                    pipe.zrem(K.AMBER, member)
                    pipe.srem(K.WARNED, member)
                    pipe.sadd(K.BREACHED_CONTACT if which == "contact" else K.BREACHED_RESOLVE, tid)
                    # A deadline passing changes the response/completion denominators.
                    self.figures.recheck(pipe, self._local_day(self.clock()), int(tid), self.clock())
                pipe.incr(K.SEQ)
                seq = pipe.execute()[-1]
                view = jsontext.loads(raw) if raw else {"ticket_id": int(tid)}
                fired.append({
                    "seq": seq, "event": kind, "which": which,
                    "at": datetime.fromtimestamp(now_ts, timezone.utc).isoformat(), "ticket": view,
                    # The wall's row that breach belongs to (it flashes); the ticket itself stays off the wall.
                    "unit_row": self.level2_code(view.get("unit_id")),
                })
        return fired

    def roll_day(self, stored_day: str | None) -> list[Message]:
        """At local midnight today's counters start again from zero (``stored_day``: theirs).

        The day is the database's (``ClockWatch``). After a step of the clock, or a day earlier
        than the counters' (a step back across midnight), the counters are not trusted: the live
        state is rebuilt from the database (a new epoch: every screen reloads its snapshot)."""
        now = self.clock()
        stepped = self.clock_watch.stepped() if self.clock_watch is not None else None
        if self.clock_watch is not None:
            now = self.clock_watch.now(now)
        today = self._local_day(now)
        if stepped is not None or (stored_day is not None and today < stored_day):
            log.warning("clock step (%s s; counters' day %s, now %s): rebuilding the live state from the database",
                        f"{stepped:+.0f}" if stepped is not None else "?", stored_day, today)
            self.rebuild()
            return []
        if stored_day == today:
            return []
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(K.COUNTERS, mapping={"day": today, "received_today": 0, "closed_today": 0})
        pipe.incr(K.SEQ)
        seq = pipe.execute()[-1]
        return [{"seq": seq, "event": "new_day", "at": self.clock().isoformat(), "ticket": None}]

    # -------------------------------------------------------------- reading
    def position(self) -> dict[str, Any]:
        """The live state's (epoch, seq): a screen that reads this before its rows misses no event."""
        epoch, seq = self.redis.mget(K.EPOCH, K.SEQ)
        return {"epoch": epoch, "seq": int(seq or 0)}

    def counters(self) -> dict[str, Any]:
        pipe = self.redis.pipeline(transaction=True)
        self._read_counters(pipe)
        return self._counters_of(pipe.execute())

    @staticmethod
    def _read_counters(pipe: Any) -> None:
        pipe.hgetall(K.COUNTERS)
        pipe.hlen(K.OPEN)
        pipe.smembers(K.BREACHED_CONTACT)
        pipe.smembers(K.BREACHED_RESOLVE)
        pipe.scard(K.WARNED)
        pipe.get(K.SEQ)
        pipe.get(K.EPOCH)

    @staticmethod
    def _counters_of(answers: list[Any]) -> dict[str, Any]:
        base, open_now, contact, resolve, amber, seq, epoch = answers
        return {
            "epoch": epoch,
            "seq": int(seq or 0),
            "day": base.get("day"),
            "received_today": int(base.get("received_today", 0)),
            "closed_today": int(base.get("closed_today", 0)),
            "open_now": open_now,
            "orders_open": int(base.get("orders_open", 0)),
            "contact_overdue": len(contact),
            "resolve_overdue": len(resolve),
            "breaches_now": len(set(contact) | set(resolve)),
            "amber_now": amber,
        }

    def breached_units(self) -> list[int | None]:
        """The unit of each ticket breached now (a ticket counts once)."""
        ids = sorted(set(self.redis.smembers(K.BREACHED_CONTACT)) | set(self.redis.smembers(K.BREACHED_RESOLVE)))
        if not ids:
            return []
        views = self.redis.hmget(K.OPEN, ids)
        return [jsontext.loads(v).get("unit_id") if v else None for v in views]

    def reload_units(self) -> None:
        with self.factory() as session:
            self.units = [tuple(row) for row in session.execute(  # type: ignore[misc]
                select(Unit.id, Unit.code, Unit.name, Unit.level, Unit.parent_id, Unit.kind).order_by(Unit.id))]
        self._units_dirty = True

    def subtree(self, unit_id: int) -> set[int]:
        return subtree_of(((uid, parent) for uid, _code, _name, _level, parent, _kind in self.units), unit_id)

    def live_tally(self, unit_ids: set[int] | None = None) -> Tally:
        """Today's tally for a set of units (None: the whole bureau), from the live counters."""
        day = self._local_day(self.clock())
        return self.figures.tally(day, unit_ids, self.breached_units())

    def live_unit_tallies(self) -> dict[int | None, Tally]:
        """Today's tally of every unit on its own (not its subtree), from the live counters."""
        return self.figures.unit_tallies(self._local_day(self.clock()), self.breached_units())

    def unit_table(self, policy: Any = None) -> list[dict[str, Any]]:
        """Today's figures for every level-2 unit's subtree: the city wall's unit table."""
        return self.ranked_table(((code, name, kind, self.subtree(uid))
                                  for uid, code, name, level, _parent, kind in self.units if level == 2), policy)

    def ranked_table(self, units: Iterable[tuple[str, str, str, set[int]]],
                     policy: Any = None) -> list[dict[str, Any]]:
        """Today's figures of each (code, name, kind, subtree), ranked as the bulletin ranks
        (``tickets.figures.rank``: best composite first, units under the minimum volume unranked
        after them), each shown rate with its Wilson 95% interval: a wall's unit table (the
        city's level-2 units, or a branch's children)."""
        from tickets.figures import figures as figures_of

        policy = policy or self.ranking
        tallies = self.live_unit_tallies()
        rows = []
        for code, name, kind, subtree in units:
            row = figures_of(subtree_tally(tallies, subtree), policy)
            rows.append({"unit": code, "unit_code": code, "unit_name": name, "kind": kind,
                         "intervals": bulletin.intervals(row["counts"], WALL_RATES),
                         **{k: v for k, v in row.items() if k != "counts"}})
        for row in rank(rows, policy):
            row.pop("unranked_reason", None)  # English prose: the wall greys the row and says why itself
        return rows

    def level2_code(self, unit_id: int | None) -> str | None:
        """The code of the level-2 unit (a row of the wall's table) ``unit_id`` lies under."""
        parents = {uid: (parent, level, code) for uid, code, _name, level, parent, _kind in self.units}
        while unit_id is not None and unit_id in parents:
            parent, level, code = parents[unit_id]
            if level == 2:
                return code
            unit_id = parent
        return None

    def snapshot(self) -> dict[str, Any]:
        """Everything a screen needs to start, consistent with one ``seq``."""
        now = self.clock()
        minutes = [now - timedelta(minutes=i) for i in range(K.FLOW_MINUTES - 1, -1, -1)]
        for _attempt in range(5):
            counters = self.counters()
            pipe = self.redis.pipeline(transaction=True)
            for m in minutes:
                pipe.hgetall(self._minute_key(m))
            pipe.lrange(K.TICKER, 0, K.TICKER_LENGTH - 1)
            pipe.get(K.SEQ)
            *flows, ticker, seq = pipe.execute()
            if int(seq or 0) == counters["seq"]:  # nothing was applied in between
                break
        from tickets.sla import calendar_warnings

        return {
            "counters": counters,
            "warnings": calendar_warnings(now.astimezone(self.tz).date()),
            "units": self.unit_table(),
            "flow": [
                {
                    "minute": m.astimezone(self.tz).strftime("%H:%M"),
                    "at": m.replace(second=0, microsecond=0).isoformat(),
                    "counts": {k: int(v) for k, v in f.items()},
                }
                for m, f in zip(minutes, flows)
            ],
            "ticker": [jsontext.loads(item) for item in ticker],
            "server_time": now.isoformat(),
        }

    # ----------------------------------------------------------------- loop
    def push(self, events: list[Message]) -> None:
        """Publish a frame: the events, then what changed since the frame before.

        A frame always names the live state's epoch and seq; besides them it carries only the
        counters that changed, the warnings when they changed, and the unit table's rows that
        changed (looked at most once per ``UNITS_PUSH_SECONDS``; see :func:`unit_changes`). Counters change only with
        a seq or an epoch, so a screen that missed a frame sees the gap and reloads the
        snapshot; every ``KEYFRAME_SECONDS`` a frame carries everything anyway. With no
        screen connected (``listening``) nothing is built or sent.
        """
        now = self.clock()
        self._last_push = now.timestamp()
        self._units_dirty = self._units_dirty or bool(events)
        if not self.listening():
            self._sent = None  # the next screen's first frame says it all (the unit table too)
            self._units_dirty = False
            if events:
                self.unheard(events)
            return
        from tickets.sla import calendar_warnings

        counters = self._fresh_counters if self._fresh_counters is not None else self.counters()
        self._fresh_counters = None
        # A new epoch (a rebuild, in this process or by `app.py live rebuild`) says it all again.
        keyframe = (self._sent is None or time.monotonic() - self._keyframe_at >= KEYFRAME_SECONDS
                    or self._sent["counters"].get("epoch") != counters["epoch"])
        sent = {} if keyframe or self._sent is None else self._sent
        message: Message = {
            "events": events, "server_time": now.isoformat(),
            "counters": {k: v for k, v in counters.items()
                         if k in ("epoch", "seq") or sent.get("counters", {}).get(k) != v},
        }
        warnings = calendar_warnings(now.astimezone(self.tz).date())
        if "warnings" not in sent or sent["warnings"] != warnings:
            message["warnings"] = warnings
        units = sent.get("units")
        if keyframe or not self._units_pushed or self._units_due():
            units = self.unit_table()
            self._units_pushed, self._units_dirty, self._units_at = True, False, time.monotonic()
            message.update(unit_changes(sent.get("units"), units))
        self._sent = {"counters": counters, "warnings": warnings, "units": units}
        if keyframe:
            self._keyframe_at = time.monotonic()
        self.publish(message)

    def _units_due(self) -> bool:
        """The unit table is looked at with the events, at most once per ``UNITS_PUSH_SECONDS``:
        under a burst of intake, reading every unit's tallies per chunk cost more than
        applying the chunk, and a wall cannot show a ranking changing faster anyway."""
        return self._units_dirty and time.monotonic() - self._units_at >= UNITS_PUSH_SECONDS

    def step(self, block_ms: int | None = None) -> int:
        """One round: rebuild if needed, apply new entries, fire due deadlines, push.
        ``block_ms``: how long to wait for new entries; None: until the next thing to do
        (:meth:`_block_ms`)."""
        self._fresh_counters = None
        ready, cursor, day, due = self._position()
        if not ready:
            if not self.fence():
                return 0
            self.rebuild()
            ready, cursor, day, due = self._position()
        if block_ms is None:
            block_ms = self._block_ms(due)
        entries = stream_entries(self.redis.xread({K.EVENTS_STREAM: cursor or "0-0"}, count=500, block=block_ms))
        if not self.fence():
            return 0
        events = self._held + self.apply_many(_chunk(entries))
        more = self.roll_day(day)
        if due is not None and due <= self.clock().timestamp():
            # Only when the earliest deadline or warning has come: two round trips a step
            # (a step a ticket) for nothing, nearly always. One placed already due by the
            # entries just applied fires at the next step, which comes at once (_block_ms).
            more += self.fire_due()
        if more:  # counters changed since the entries' transaction read them
            self._fresh_counters = None
        events += more
        self._held = []
        if events and self._frame_wait() > 0:
            self._held = events  # the next step pushes them, when a frame is due (_block_ms)
            return 0
        if events or self._units_due() or self.clock().timestamp() - self._last_push >= self.heartbeat_seconds:
            self.push(events)
        if events and self.min_frame_seconds > 0:
            self._tokens -= 1
        return len(events)

    def _frame_wait(self) -> float:
        """Seconds until a frame with events may go (0: now), the bucket refilled meanwhile."""
        if self.min_frame_seconds <= 0:
            return 0.0
        now = time.monotonic()
        self._tokens = min(float(self.frame_burst), self._tokens + max(0.0, now - self._tokens_at) / self.min_frame_seconds)
        self._tokens_at = now
        return max(0.0, (1 - self._tokens) * self.min_frame_seconds)

    def _position(self) -> tuple[bool, str | None, str | None, float | None]:
        """(live state present, stream cursor, the counters' day, when the next deadline or
        warning comes due as a timestamp), in one round trip."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.exists(K.EPOCH)
        pipe.get(K.CURSOR)
        pipe.hget(K.COUNTERS, "day")
        pipe.zrange(K.DEADLINES, 0, 0, withscores=True)
        pipe.zrange(K.AMBER, 0, 0, withscores=True)
        ready, cursor, day, deadline, amber = pipe.execute()
        due = min((score for _member, score in deadline + amber), default=None)
        return bool(ready), cursor, day, due

    def _block_ms(self, due: float | None) -> int:
        """How long a step may wait for new entries: until the next deadline or warning comes
        due, the unit table is due, a heartbeat is due or local midnight, at most
        ``IDLE_BLOCK_SECONDS`` (a step every 500 ms whatever happened was most of the live
        path's idle CPU after the relay's polling)."""
        now = self.clock()
        wait = IDLE_BLOCK_SECONDS
        if self._held:
            wait = min(wait, self._frame_wait())
        if due is not None:
            wait = min(wait, due - now.timestamp())
        if self._units_dirty:
            wait = min(wait, UNITS_PUSH_SECONDS - (time.monotonic() - self._units_at))
        wait = min(wait, self.heartbeat_seconds - (now.timestamp() - self._last_push))
        midnight = self._today_start(now) + timedelta(days=1)
        wait = min(wait, (midnight - now).total_seconds())
        return max(1, int(wait * 1000))  # 0 would block for ever

    def run(self, stop: threading.Event, is_leader: Callable[[], bool] = lambda: True) -> None:
        down = False
        check = True  # whether the live state is on this Redis server: on taking the lead, after an outage
        while not stop.is_set():
            if not is_leader():
                check = True
                stop.wait(STANDBY_LOOK_SECONDS)
                continue
            try:
                if check:
                    self.check_server()
                    check = False
                self.step()
                if down:
                    log.warning("Redis is back: live state resumes")
                    down = False
            except REDIS_DOWN as exc:
                check = True
                if not down:
                    log.error("Redis unreachable (%s): screens keep their last state until it returns", exc)
                    down = True
                stop.wait(0.5)
            except Exception:
                log.exception("live aggregator step failed; retrying")
                stop.wait(1.0)


def unit_changes(before: list[dict[str, Any]] | None, units: list[dict[str, Any]]) -> Message:
    """What a frame says of the unit table: ``units``, the whole table, when there is nothing to
    compare with (a keyframe, the first frame); otherwise ``unit_rows``, the rows that differ
    from the table the frame before said (by unit code), and ``unit_order``, every row's code in
    order, when the order changed (a new ranking). Nothing when nothing changed. At 10 tickets
    a second the whole table went out every second: ~5 KB of a client's 13 KB/s without deflate."""
    if before is None:
        return {"units": units}
    if units == before:
        return {}
    old = {row["unit_code"]: row for row in before}
    out: Message = {}
    rows = [row for row in units if old.get(row["unit_code"]) != row]
    if rows:
        out["unit_rows"] = rows
    order = [row["unit_code"] for row in units]
    if order != [row["unit_code"] for row in before]:
        out["unit_order"] = order
    return out


# At most this much payload per step: an entry of a bulk write carries a whole batch's events
# (up to 2,000), and one Redis transaction for hundreds of such entries would stall the wall.
CHUNK_BYTES = 4_000_000


def _chunk(entries: list[tuple[str, dict[str, str]]]) -> list[tuple[str, dict[str, str]]]:
    """The first entries up to ``CHUNK_BYTES`` of payload (at least one); the rest is read again
    next step, from the cursor the applied ones leave."""
    size = 0
    for n, (_eid, fields) in enumerate(entries):
        size += len(fields.get("payload", ""))
        if size > CHUNK_BYTES and n > 0:
            return entries[:n]
    return entries
