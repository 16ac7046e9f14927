"""The live path, piece by piece: outbox → relay → stream → aggregator → push.

Runs twice: on the embedded default (SQLite + the in-process Redis stand-in)
and on a real PostgreSQL + real Redis, which is what production runs.
"""
from __future__ import annotations

import time

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
import redis
from sqlalchemy import func, select

from dashboard.live import keys as K
from dashboard.live.aggregator import LiveAggregator
from dashboard.live.clock import ClockWatch
from dashboard.live.relay import OutboxRelay
from tests.helpers import (LiveBackend, MONDAY_9, TZ, Clock, add_small_bureau, new_request, outbox_events, submit,
                           wait_until)
from tickets import lifecycle
from tickets.uow import unit_of_work
from tickets.models import OutboxMessage, Ticket

@dataclass
class World:
    factory: Any
    redis: redis.Redis
    relay: OutboxRelay
    aggregator: LiveAggregator
    clock: Clock
    pushed: list[dict[str, Any]] = field(default_factory=list)

    def pump(self, rounds: int = 3) -> list[dict[str, Any]]:
        """Relay everything committed and let the aggregator apply it; return pushed events."""
        before = len(self.pushed)
        for _ in range(rounds):
            while self.relay.run_once():
                pass
            self.aggregator.step(block_ms=10)
        return [e for m in self.pushed[before:] for e in m["events"]]


@pytest.fixture
def live_world(live_backend: LiveBackend) -> World:
    """The small bureau on ``live_backend``, with a relay and an aggregator on one settable clock."""
    client, factory = live_backend.redis, live_backend.factory
    add_small_bureau(factory)
    clock = Clock(MONDAY_9)
    w = World(factory, client, OutboxRelay(factory, client, clock=clock), None, clock)  # type: ignore[arg-type]
    w.aggregator = LiveAggregator(factory, client, TZ, clock=clock, publish=w.pushed.append, heartbeat_seconds=1e9)
    return w


def test_ticket_and_its_events_commit_together_or_not_at_all(live_world: World) -> None:
    with pytest.raises(RuntimeError):
        with unit_of_work(live_world.factory) as s:
            from tickets import services

            services.receive_one(s, new_request(MONDAY_9), now=MONDAY_9)
            raise RuntimeError("crash before commit")
    with live_world.factory() as s:
        assert s.scalar(select(func.count()).select_from(Ticket)) == 0
        assert s.scalar(select(func.count()).select_from(OutboxMessage)) == 0
    submit(live_world.factory, new_request(MONDAY_9))
    with live_world.factory() as s:
        kinds = [e["event"] for e in outbox_events(s)]
    assert kinds == ["received", "dispatched"]


def test_outbox_payload_carries_no_personal_data(live_world: World) -> None:
    submit(live_world.factory, new_request(MONDAY_9))
    with live_world.factory() as s:
        for message in s.scalars(select(OutboxMessage)):
            text = json.dumps(message.payload, ensure_ascii=False)
            assert "张三" not in text and "13812345678" not in text


def test_counters_follow_the_lifecycle(live_world: World) -> None:
    tickets = [submit(live_world.factory, new_request(MONDAY_9)) for _ in range(3)]
    events = live_world.pump()
    counters = live_world.aggregator.counters()
    # The first step rebuilt from the database (which already held all three).
    assert (counters["received_today"], counters["open_now"], counters["closed_today"]) == (3, 3, 0)
    with unit_of_work(live_world.factory) as s:
        t = s.get(Ticket, tickets[0].id)
        lifecycle.contact(s, t, MONDAY_9 + timedelta(minutes=10))
        for step in (lifecycle.report, lifecycle.approve, lifecycle.reply, lifecycle.close):
            step(s, t, MONDAY_9 + timedelta(minutes=30))
    live_world.clock.advance(minutes=30)
    events = live_world.pump()
    assert [e["event"] for e in events] == ["contact", "report", "approve", "reply", "close"]
    counters = live_world.aggregator.counters()
    assert (counters["received_today"], counters["open_now"], counters["closed_today"]) == (3, 2, 1)
    assert [e["seq"] for e in events] == list(range(events[0]["seq"], events[0]["seq"] + 5))


def test_the_frames_counters_are_the_live_states_after_each_step(live_world: World) -> None:
    """A frame's counters are read in the transaction that applied its events (one round trip
    fewer a step): merged frame by frame, they are what the live state says, also after a
    deadline fired between two chunks."""
    live_world.aggregator.listening = lambda: True
    live_world.pump()
    tickets = [submit(live_world.factory, new_request(MONDAY_9, phone=f"1390000011{n}")) for n in range(3)]
    live_world.pump()
    live_world.clock.advance(hours=2)  # past the contact deadline: breaches fire
    with unit_of_work(live_world.factory) as s:
        lifecycle.contact(s, s.get(Ticket, tickets[0].id), live_world.clock.now)
    live_world.pump()
    shown: dict[str, Any] = {}
    for message in live_world.pushed:
        shown.update(message["counters"])
    assert shown == live_world.aggregator.counters()
    assert (shown["received_today"], shown["breaches_now"]) == (3, 2)


def test_the_frame_a_rebuild_pushes_carries_the_rebuilt_counters(live_world: World) -> None:
    """Counters read with a chunk's events and not pushed yet (its frame held) are not the
    frame of a rebuild that comes first (a clock step, a Redis failover)."""
    from dashboard.live.aggregator import stream_entries

    live_world.aggregator.listening = lambda: True
    live_world.pump()
    submit(live_world.factory, new_request(MONDAY_9))
    live_world.relay.run_once()
    cursor = live_world.redis.get(K.CURSOR) or "0-0"
    live_world.aggregator.apply_many(stream_entries(live_world.redis.xread({K.EVENTS_STREAM: cursor})))
    epoch = live_world.aggregator.rebuild()
    assert live_world.pushed[-1]["counters"]["epoch"] == epoch


def test_a_frame_after_a_rebuild_elsewhere_says_everything_again(live_world: World) -> None:
    """A rebuild by another process (``app.py live rebuild``) between two frames: the next frame
    carries every counter, not only those that differ from the frame before, which described
    the state before the rebuild."""
    live_world.aggregator.listening = lambda: True
    live_world.pump()
    live_world.aggregator.push([])
    live_world.redis.set(K.EPOCH, "rebuilt-elsewhere")
    live_world.aggregator.push([])
    last = live_world.pushed[-1]
    assert last["counters"]["epoch"] == "rebuilt-elsewhere"
    assert set(last["counters"]) == set(live_world.aggregator.counters()) and "units" in last


def test_a_burst_rides_in_one_frame_at_most_every_min_frame_seconds(
        live_world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """Beyond its burst, a frame with events goes at most every ``min_frame_seconds``: events
    closer together wait for it and go out in one frame, in order and each once; events further
    apart go out at once."""
    from dashboard.live import aggregator as aggregator_module

    now = [1000.0]
    monkeypatch.setattr(aggregator_module.time, "monotonic", lambda: now[0])
    aggregator = live_world.aggregator
    aggregator.min_frame_seconds, aggregator.frame_burst, aggregator._tokens, aggregator._tokens_at = 0.1, 1, 1.0, now[0]
    live_world.pump()  # rebuild
    submit(live_world.factory, new_request(MONDAY_9))
    first = live_world.pump(rounds=1)
    assert [e["event"] for e in first] == ["received", "dispatched"]  # at once: no frame before it
    frames = len(live_world.pushed)
    numbers = [submit(live_world.factory, new_request(MONDAY_9, phone=f"1390000002{n}")).number for n in range(2)]
    now[0] += 0.04
    assert live_world.pump(rounds=1) == [] and len(live_world.pushed) == frames  # held
    assert 50 <= live_world.aggregator._block_ms(None) <= 60  # it waits only for the pause's end
    numbers.append(submit(live_world.factory, new_request(MONDAY_9, phone="13900000029")).number)
    now[0] += 0.03
    assert live_world.pump(rounds=1) == []  # still inside the pause: held with the others
    now[0] += 0.04
    burst = live_world.pump(rounds=1)
    assert len(live_world.pushed) == frames + 1  # one frame for the three tickets
    # (the third complaint in a row from one place also brings a reminder letter)
    assert [e["event"] for e in burst if e["event"] != "reminder_letter"] == ["received", "dispatched"] * 3
    assert [e["ticket"]["number"] for e in burst if e["event"] == "received"] == numbers
    assert [e["seq"] for e in burst] == list(range(burst[0]["seq"], burst[0]["seq"] + len(burst)))
    now[0] += 1.0
    submit(live_world.factory, new_request(MONDAY_9, phone="13900000030"))
    assert "received" in [e["event"] for e in live_world.pump(rounds=1)]  # a pause long over: at once


def test_a_steady_rate_below_the_frame_rate_never_waits_and_a_burst_beyond_it_does(
        live_world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """The frames are a token bucket (``frame_burst`` at once, one per ``min_frame_seconds`` after):
    tickets 0.1 s apart at 0.1 s a frame go out each at once, however long it lasts (a fixed
    spacing made each wait for the frame before it); a burst of frames beyond the bucket waits."""
    from dashboard.live import aggregator as aggregator_module

    now = [1000.0]
    monkeypatch.setattr(aggregator_module.time, "monotonic", lambda: now[0])
    aggregator = live_world.aggregator
    aggregator.min_frame_seconds, aggregator.frame_burst, aggregator._tokens, aggregator._tokens_at = 0.1, 3, 3.0, now[0]
    live_world.pump()  # rebuild
    for n in range(12):  # steady: a ticket every 0.1 s
        now[0] += 0.1
        submit(live_world.factory, new_request(MONDAY_9, phone=f"1390000010{n:02d}", lat=36.60 + 0.01 * n))
        assert "received" in [e["event"] for e in live_world.pump(rounds=1)], n
    frames = len(live_world.pushed)
    now[0] += 1.0  # a quiet second: the bucket is full again
    for n in range(4):  # a burst: four frames' worth at one instant, three go, the fourth waits
        submit(live_world.factory, new_request(MONDAY_9, phone=f"1390000020{n:02d}", lat=36.70 + 0.01 * n))
        live_world.pump(rounds=1)
    assert len(live_world.pushed) == frames + 3
    now[0] += 0.1
    assert "received" in [e["event"] for e in live_world.pump(rounds=1)]
    assert len(live_world.pushed) == frames + 4


def test_each_event_is_applied_once_even_if_relayed_twice(live_world: World) -> None:
    live_world.pump()  # rebuild on an empty database
    submit(live_world.factory, new_request(MONDAY_9))
    live_world.relay.run_once()
    # A relay that crashed after XADD but before marking the rows sends them again.
    with unit_of_work(live_world.factory) as s:
        for row in s.scalars(select(OutboxMessage)):
            row.relayed_at = None
    live_world.relay.run_once()
    assert live_world.redis.xlen(K.EVENTS_STREAM) == 2  # the intake's one message, twice
    events = live_world.pump()
    assert [e["event"] for e in events] == ["received", "dispatched"]
    assert live_world.aggregator.counters()["received_today"] == 1


def test_a_leader_whose_lease_ran_out_writes_nothing(live_world: World) -> None:
    live_world.pump()
    submit(live_world.factory, new_request(MONDAY_9))
    live_world.relay.run_once()
    seq, cursor = live_world.redis.get(K.SEQ), live_world.redis.get(K.CURSOR)
    live_world.aggregator.fence = lambda: False  # the lease ran out while it waited for entries
    assert live_world.aggregator.step(block_ms=10) == 0
    assert (live_world.redis.get(K.SEQ), live_world.redis.get(K.CURSOR)) == (seq, cursor)
    assert live_world.aggregator.counters()["received_today"] == 0
    live_world.aggregator.fence = lambda: True  # the next leader: it reads the same entries
    assert [e["event"] for e in live_world.pump()] == ["received", "dispatched"]
    assert live_world.aggregator.counters()["received_today"] == 1


def test_a_live_state_written_on_another_redis_server_is_rebuilt(live_world: World) -> None:
    if live_world.aggregator._redis_server() is None:
        pytest.skip("the in-process stand-in has no INFO (and no failover)")
    live_world.pump()
    epoch = live_world.redis.get(K.EPOCH)
    live_world.aggregator.check_server()  # the server it was rebuilt on: nothing to do
    assert live_world.redis.get(K.EPOCH) == epoch
    live_world.redis.set(K.SERVER, "the-old-primary")  # as a promoted replica holds it after a failover
    live_world.aggregator.check_server()
    assert live_world.redis.get(K.EPOCH) != epoch
    assert live_world.redis.get(K.SERVER) == live_world.aggregator._redis_server()


def test_a_rebuild_keeps_the_web_processes_listener_counts(live_world: World) -> None:
    """A screen that connected just before a rebuild still gets frames: the counts of who
    listens are the web processes', not the live state's (the rebuild deleted them: no frame
    was built until each process counted again, up to 5 s later)."""
    live_world.pump()
    live_world.redis.hset(K.LISTENERS, "web-1", f"1:{time.time():.0f}")
    live_world.aggregator.rebuild()
    assert live_world.redis.hget(K.LISTENERS, "web-1") is not None
    assert live_world.redis.get(K.EPOCH) is not None


def test_rebuild_does_not_double_count_events_still_in_flight(live_world: World) -> None:
    live_world.pump()
    for _ in range(2):
        submit(live_world.factory, new_request(MONDAY_9))
    live_world.relay.run_once()  # on the stream, not yet applied ...
    submit(live_world.factory, new_request(MONDAY_9))  # ... and one not even relayed
    live_world.aggregator.rebuild()  # e.g. Redis restarted empty: the snapshot holds all three
    events = live_world.pump()
    assert events == []
    counters = live_world.aggregator.counters()
    assert (counters["received_today"], counters["open_now"]) == (3, 3)
    submit(live_world.factory, new_request(MONDAY_9))
    assert [e["event"] for e in live_world.pump()] == ["received", "dispatched"]
    assert live_world.aggregator.counters()["received_today"] == 4


def test_a_ticket_committed_while_the_rebuild_reads_is_counted_once(live_world: World) -> None:
    """The rebuild's reads are one snapshot on both databases: a ticket committed between its
    count and its list of unsettled outbox rows was marked applied on SQLite (whose driver
    begins no transaction for a SELECT) and never counted (the wall said 29 of 30)."""
    from sqlalchemy import event

    live_world.pump()
    engine = live_world.factory.kw["bind"]
    committed: list[Any] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _commit_in_between(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "FROM outbox" in statement and "relayed_at IS NULL" in statement and not committed:
            committed.append(submit(live_world.factory, new_request(MONDAY_9)))

    try:
        live_world.aggregator.rebuild()
    finally:
        event.remove(engine, "before_cursor_execute", _commit_in_between)
    assert committed, "the rebuild read no outbox rows"
    live_world.pump()
    assert live_world.aggregator.counters()["received_today"] == 1
    submit(live_world.factory, new_request(MONDAY_9))
    live_world.pump()
    assert live_world.aggregator.counters()["received_today"] == 2


def test_amber_and_breach_fire_when_due_and_clear_on_contact(live_world: World) -> None:
    live_world.pump()
    ticket = submit(live_world.factory, new_request(MONDAY_9))
    live_world.pump()
    live_world.clock.advance(minutes=44, seconds=59)
    assert [e for e in live_world.pump() if e["event"] in ("amber", "breach")] == []
    live_world.clock.advance(seconds=1)  # 45 min = 75% of the 1-hour contact deadline
    fired = [(e["event"], e["which"]) for e in live_world.pump() if e["event"] in ("amber", "breach")]
    assert fired == [("amber", "contact")]
    assert live_world.aggregator.counters()["amber_now"] == 1
    live_world.clock.advance(minutes=15)
    fired = [(e["event"], e["which"]) for e in live_world.pump() if e["event"] in ("amber", "breach")]
    assert fired == [("breach", "contact")]
    c = live_world.aggregator.counters()
    assert (c["contact_overdue"], c["breaches_now"], c["amber_now"]) == (1, 1, 0)
    with unit_of_work(live_world.factory) as s:
        lifecycle.contact(s, s.get(Ticket, ticket.id), live_world.clock.now)
    live_world.pump()
    assert live_world.aggregator.counters()["breaches_now"] == 0


def test_breaches_are_rebuilt_from_the_database_after_a_restart(live_world: World) -> None:
    live_world.pump()
    submit(live_world.factory, new_request(MONDAY_9))
    live_world.pump()
    live_world.clock.advance(hours=2)
    live_world.aggregator.rebuild()  # a restart: no timer state survives, the database does
    c = live_world.aggregator.counters()
    assert (c["contact_overdue"], c["resolve_overdue"], c["breaches_now"]) == (1, 0, 1)
    # The resolve deadline (one working day) is still ahead and still armed.
    live_world.clock.advance(days=1)
    fired = [(e["event"], e["which"]) for e in live_world.pump() if e["event"] == "breach"]
    assert fired == [("breach", "resolve")]


def test_counters_start_again_at_local_midnight(live_world: World) -> None:
    submit(live_world.factory, new_request(MONDAY_9))
    live_world.pump()
    assert live_world.aggregator.counters()["received_today"] == 1
    live_world.clock.now = datetime(2026, 11, 24, 0, 0, 1, tzinfo=TZ)
    live_world.pump()
    c = live_world.aggregator.counters()
    assert (c["day"], c["received_today"], c["open_now"]) == ("2026-11-24", 0, 1)


class SteppedClock:
    """A process clock that an operator (or a bad NTP server) sets by hand: ``wall`` jumps,
    ``mono`` (the monotonic clock, never set) only runs on."""

    def __init__(self, clock: Clock) -> None:
        self.clock, self.mono_at = clock, 0.0

    def wall(self) -> float:
        return self.clock.now.timestamp()

    def mono(self) -> float:
        return self.mono_at

    def run(self, seconds: float) -> None:
        self.clock.advance(seconds=seconds)
        self.mono_at += seconds


def test_a_clock_stepped_back_across_midnight_rebuilds_instead_of_zeroing(live_world: World) -> None:
    """Issue 17: a backward step across midnight used to zero the day's counters until
    ``app.py live rebuild``. Now the step is noticed and the live state rebuilt at once."""
    stepped = SteppedClock(live_world.clock)
    live_world.clock.now = datetime(2026, 11, 24, 0, 5, tzinfo=TZ)
    live_world.aggregator = LiveAggregator(
        live_world.factory, live_world.redis, TZ, clock=live_world.clock, publish=live_world.pushed.append,
        heartbeat_seconds=1e9,
        clock_watch=ClockWatch(live_world.factory, wall=stepped.wall, mono=stepped.mono,
                               database=lambda: live_world.clock.now))
    for minute in (1, 2):
        submit(live_world.factory, new_request(datetime(2026, 11, 24, 0, minute, tzinfo=TZ)))
    live_world.pump()
    assert live_world.aggregator.counters()["received_today"] == 2
    epoch = live_world.aggregator.position()["epoch"]
    stepped.clock.now = datetime(2026, 11, 23, 23, 58, tzinfo=TZ)  # seven minutes back: yesterday
    live_world.pump()
    assert live_world.aggregator.position()["epoch"] != epoch, "rebuilt: a new epoch, screens reload"
    stepped.clock.now = datetime(2026, 11, 24, 0, 6, tzinfo=TZ)  # and forward again (the fix of the step)
    live_world.pump()
    counters = live_world.aggregator.counters()
    assert (counters["day"], counters["received_today"]) == ("2026-11-24", 2), "not zeroed: counted again"


def test_the_live_day_follows_the_databases_clock(live_world: World) -> None:
    """A process whose clock is an hour slow, just before midnight by its clock: the database
    says it is past midnight, so the day has turned."""
    database = datetime(2026, 11, 24, 0, 30, tzinfo=TZ)
    live_world.clock.now = database - timedelta(hours=1)
    stepped = SteppedClock(live_world.clock)
    live_world.aggregator = LiveAggregator(
        live_world.factory, live_world.redis, TZ, clock=live_world.clock, publish=live_world.pushed.append,
        heartbeat_seconds=1e9, clock_watch=ClockWatch(live_world.factory, wall=stepped.wall, mono=stepped.mono,
                                                       database=lambda: database))
    live_world.pump()
    assert live_world.aggregator.counters()["day"] == "2026-11-24"


def test_database_now_reads_the_servers_clock(live_world: World) -> None:
    from dashboard.live.clock import database_now

    assert abs((database_now(live_world.factory) - datetime.now(TZ)).total_seconds()) < 60


def test_snapshot_is_consistent_with_its_seq(live_world: World) -> None:
    live_world.pump()
    for minute in (0, 0, 1):
        submit(live_world.factory, new_request(MONDAY_9 + timedelta(minutes=minute)))
    live_world.clock.advance(minutes=2)
    live_world.pump()
    snap = live_world.aggregator.snapshot()
    assert snap["counters"]["seq"] == int(live_world.redis.get(K.SEQ))
    flow = {f["minute"]: f["counts"] for f in snap["flow"] if f["counts"]}
    assert flow == {"09:00": {"hotline_12345": 2}, "09:01": {"hotline_12345": 1}}
    assert len(snap["flow"]) == K.FLOW_MINUTES
    assert [t["number"] for t in snap["ticker"]][:1] == ["MS20261123000003"]
    assert snap["ticker"][0]["unit_name"] in ("泉城路派出所", "甸柳新村派出所")


def test_relay_keeps_events_while_redis_is_down(live_world: World) -> None:
    live_world.pump()

    class Down:
        def pipeline(self, *a: Any, **k: Any) -> Any:
            raise redis.exceptions.ConnectionError("down")

    up = live_world.relay.redis
    live_world.relay.redis = Down()  # type: ignore[assignment]
    submit(live_world.factory, new_request(MONDAY_9))
    with pytest.raises(redis.exceptions.ConnectionError):
        live_world.relay.run_once()
    with live_world.factory() as s:
        assert s.scalar(select(func.count()).where(OutboxMessage.relayed_at.is_(None))) == 1  # received + dispatched
    live_world.relay.redis = up
    assert [e["event"] for e in live_world.pump()] == ["received", "dispatched"]


def test_a_chunk_transaction_leaves_what_its_commands_one_by_one_leave() -> None:
    """The aggregator's chunk transaction writes only the net effect of its commands: the
    keys end as they would after every command in order, whatever the interleaving."""
    import random

    import fakeredis

    from dashboard.live.aggregator import _Transaction

    rng = random.Random(3)
    members = ["a", "b", "c", "d"]
    ops: list[tuple[Any, ...]] = []
    for _ in range(300):
        m = rng.choice(members)
        ops.append(rng.choice([
            ("hset", "h", m, str(rng.randint(0, 9))), ("hdel", "h", m), ("hincrby", "n", m, rng.randint(-2, 3)),
            ("sadd", "s", m), ("srem", "s", m), ("zadd", "z", {m: rng.randint(0, 99)}), ("zrem", "z", m),
            ("lpush", "l", m + str(rng.randint(0, 9))), ("expire", "s", 100),
        ]))
        if ops[-1][0] == "lpush":
            ops.append(("ltrim", "l", 0, 4))  # as the ticker: every push is trimmed

    def state(client: Any) -> Any:
        return (client.hgetall("h"), client.hgetall("n"), client.smembers("s"),
                client.zrange("z", 0, -1, withscores=True), client.lrange("l", 0, -1), client.get(K.SEQ))

    one_by_one = fakeredis.FakeRedis(decode_responses=True)
    for op in ops:
        getattr(one_by_one, op[0])(*op[1:])
    one_by_one.incrby(K.SEQ, 7)
    chunked = fakeredis.FakeRedis(decode_responses=True)
    transaction = _Transaction(chunked.pipeline(transaction=True))
    for op in ops:
        getattr(transaction, op[0])(*op[1:])
    assert transaction.execute(seq_increment=7, read=lambda pipe: pipe.get(K.SEQ)) == (7, ["7"])
    assert state(chunked) == state(one_by_one)
    assert chunked.ttl("s") > 0


def test_a_pushed_batch_travels_as_one_message_and_big_backlogs_in_chunks(
        live_world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch taken in together leaves as one outbox message; the aggregator applies its
    events in order, each with its own seq, and a backlog larger than a chunk over several steps."""
    from dashboard.live import aggregator as aggregator_module
    from tickets import services

    live_world.pump()  # rebuild on an empty database
    monkeypatch.setattr(aggregator_module, "CHUNK_BYTES", 1)  # one message per step
    for n in range(3):
        with unit_of_work(live_world.factory) as s:
            services.receive(s, [new_request(MONDAY_9 + timedelta(minutes=n), phone=f"1390000000{2 * n + k}",
                                             lat=36.60 + 0.01 * (2 * n + k), topic=("noise", "traffic")[k])
                                 for k in range(2)], now=MONDAY_9 + timedelta(minutes=n))
    with live_world.factory() as s:
        assert s.scalar(select(func.count()).select_from(OutboxMessage)) == 3
        ids = [e["ticket"]["ticket_id"] for e in outbox_events(s)]
    events = live_world.pump(rounds=1)
    assert len(events) == 4  # one message (two tickets, received + dispatched) per step
    events += live_world.pump(rounds=2)
    assert [e["ticket"]["ticket_id"] for e in events] == ids and len(ids) == 12
    assert [e["seq"] for e in events] == list(range(events[0]["seq"], events[0]["seq"] + 12))
    assert live_world.aggregator.counters()["open_now"] == 6


@pytest.mark.parametrize("inline_bytes", [0, 16_000], ids=["read-by-size", "inline"])
def test_the_relay_takes_a_backlog_of_big_messages_a_slice_at_a_time(
        live_world: World, monkeypatch: pytest.MonkeyPatch, inline_bytes: int) -> None:
    """A backlog of bulk writes' messages (each a whole batch) is relayed a few megabytes a
    round, not read into memory at once; nothing is lost or sent twice; a payload too big to come
    with the first query (``inline_bytes``) is read by itself and sent the same."""
    from dashboard.live import relay as relay_module
    from tickets import services

    live_world.pump()
    monkeypatch.setattr(relay_module, "RELAY_BYTES", 1)  # one message per round
    monkeypatch.setattr(live_world.relay, "inline_bytes", inline_bytes)
    for n in range(3):
        with unit_of_work(live_world.factory) as s:
            services.receive(s, [new_request(MONDAY_9, phone=f"1390000001{n}", lat=36.60 + 0.01 * n)],
                             now=MONDAY_9)
    assert [live_world.relay.run_once() for _ in range(4)] == [1, 1, 1, 0]
    assert live_world.redis.xlen(K.EVENTS_STREAM) == 3
    assert [e["event"] for e in live_world.pump()] == ["received", "dispatched"] * 3



# ------------------------------------------------------------------ frames
def test_a_frame_carries_what_changed_not_whole_views(live_world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """After the first frame, a frame names the epoch and seq and carries only the counters
    that changed; the warnings and the unit table ride only when they changed; a ticket's
    step carries the fields a shared screen draws of that step, not the ticket's whole view."""
    from dashboard import push
    from dashboard.live import aggregator as aggregator_module

    monkeypatch.setattr(aggregator_module, "KEYFRAME_SECONDS", 1e9)
    monkeypatch.setattr(aggregator_module, "UNITS_PUSH_SECONDS", 0.0)  # look at the table every frame
    live_world.pump()  # rebuild: the first frame says it all
    first = live_world.pushed[-1]
    assert set(first["counters"]) >= {"epoch", "seq", "received_today", "open_now", "closed_today"}
    assert "units" in first and "warnings" in first

    submit(live_world.factory, new_request(MONDAY_9))
    live_world.pump(rounds=1)
    frame = live_world.pushed[-1]
    assert [e["event"] for e in frame["events"]] == ["received", "dispatched"]
    assert frame["counters"] == {"epoch": first["counters"]["epoch"], "seq": frame["events"][-1]["seq"],
                                 "received_today": 1, "open_now": 1}
    # The table changed: the frame carries its changed rows (by unit code), not the whole table.
    assert "units" not in frame
    assert [u["received"] for u in frame["unit_rows"] if u["unit_code"] == "JN-LX"] == [1]
    assert len(frame["unit_rows"]) < len(first["units"])

    live_world.aggregator.push([])  # nothing happened since
    quiet = live_world.pushed[-1]
    assert quiet["counters"] == {"epoch": first["counters"]["epoch"], "seq": frame["counters"]["seq"]}
    assert not {"units", "unit_rows", "unit_order", "warnings"} & set(quiet)

    wire = push.wall_frame(frame)
    received, dispatched = wire["events"]
    assert set(received["ticket"]) == set(push.WALL_FIELDS["received"])
    assert set(dispatched["ticket"]) == set(push.WALL_FIELDS["dispatched"])
    assert len(json.dumps(wire["events"], ensure_ascii=False)) < len(json.dumps(frame["events"], ensure_ascii=False)) / 2
    assert "张三" not in json.dumps(wire, ensure_ascii=False)
    with unit_of_work(live_world.factory) as s:
        lifecycle.contact(s, s.scalars(select(Ticket)).one(), MONDAY_9 + timedelta(minutes=5))
    contact = push.wall_frame({"events": live_world.pump(rounds=1)})["events"]
    assert [(e["event"], set(e["ticket"])) for e in contact] == [("contact", set(push.NAMED_ONLY))]


def test_no_frame_is_built_while_no_screen_listens(live_world: World) -> None:
    """With no screen connected the aggregator still applies every event (the snapshot is
    current) but builds and sends no frame; the first frame afterwards carries everything."""
    listening = [False]
    live_world.aggregator.listening = lambda: listening[0]
    live_world.pump()
    submit(live_world.factory, new_request(MONDAY_9))
    unheard: list[Any] = []
    live_world.aggregator.unheard = unheard.extend
    live_world.pump()
    assert live_world.pushed == []
    assert [e["event"] for e in unheard] == ["received", "dispatched"]  # the rooms' prev moves on
    assert live_world.aggregator.counters()["received_today"] == 1
    listening[0] = True
    live_world.aggregator.push([])
    (frame,) = live_world.pushed
    assert frame["counters"]["received_today"] == 1 and "units" in frame and "warnings" in frame


def test_a_frame_carries_the_unit_rows_that_changed_and_a_new_order() -> None:
    """The unit table in frames: whole with nothing to compare with; else the changed rows by
    unit code and, when the ranking moved a row, every code in order (what wall.js patches)."""
    from dashboard.live.aggregator import unit_changes

    def row(code: str, received: int, rank: int | None) -> dict[str, Any]:
        return {"unit_code": code, "unit": code, "received": received, "rank": rank}

    def patched(units: list[dict[str, Any]], change: dict[str, Any]) -> list[dict[str, Any]]:
        if "units" in change:
            return change["units"]
        by_code = {u["unit_code"]: u for u in units} | {u["unit_code"]: u for u in change.get("unit_rows", [])}
        return [by_code[c] for c in change.get("unit_order", [u["unit_code"] for u in units])]

    before = [row("A", 12, 1), row("B", 11, 2), row("C", 3, None)]
    assert unit_changes(None, before) == {"units": before}
    assert unit_changes(before, before) == {}
    more = [row("A", 12, 1), row("B", 11, 2), row("C", 4, None)]
    assert unit_changes(before, more) == {"unit_rows": [row("C", 4, None)]}
    swapped = [row("B", 13, 1), row("A", 12, 2), row("C", 4, None)]
    change = unit_changes(more, swapped)
    assert change == {"unit_rows": [row("B", 13, 1), row("A", 12, 2)], "unit_order": ["B", "A", "C"]}
    assert patched(more, change) == swapped


# ------------------------------------------------------------------ waking the relay
def test_the_relay_sleeps_until_a_commit_in_any_process_wakes_it(
        live_world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """PostgreSQL: a transaction that wrote outbox rows NOTIFYs at its commit (not at a
    rollback), and a relay LISTENs, so a commit in another process (here: a bare psycopg
    connection, which this process's commit listeners do not hear) is relayed at once, with
    the relay's own poll a minute away. SQLite: the relay polls, slower while nothing comes,
    and a commit in this process still wakes it at once."""
    import threading

    import psycopg
    from sqlalchemy import text

    from dashboard.live import relay as relay_module

    monkeypatch.setattr(relay_module, "LISTEN_FALLBACK_SECONDS", 60.0)
    monkeypatch.setattr(relay_module, "IDLE_POLL_SECONDS", 60.0)
    relay = OutboxRelay(live_world.factory, live_world.redis, poll_seconds=60.0)
    stop = threading.Event()
    thread = threading.Thread(target=relay.run, args=(stop,), daemon=True)
    thread.start()
    postgres = live_world.factory.kw["bind"].dialect.name == "postgresql"
    try:
        if postgres:
            wait_until(lambda: relay.listener is not None and relay.listener.listening, what="the LISTEN")
            url = live_world.factory.kw["bind"].url.set(drivername="postgresql").render_as_string(hide_password=False)
            with psycopg.connect(url, autocommit=False) as other:  # another process's commit, as far as we know
                other.execute("INSERT INTO outbox (topic, payload, created_at) VALUES ('alert', "
                              "'{\"event\": \"alert\", \"at\": \"2026-01-05T09:00:00+08:00\"}', now())")
                other.execute("NOTIFY ms_outbox")
                other.commit()
            wait_until(lambda: relay.relayed == 1, timeout=5, what="the other process's row relayed")
            heard = relay.listener.heard
            with live_world.factory() as s:  # a rollback sends nothing
                s.execute(text("SELECT 1"))
                s.info["wrote_outbox"] = True
                s.rollback()
            submit(live_world.factory, new_request(MONDAY_9))  # and a commit here NOTIFYs
            wait_until(lambda: relay.listener.heard == heard + 1, timeout=5, what="the NOTIFY of a commit")
            wait_until(lambda: relay.relayed == 2, timeout=5, what="this process's row relayed")
        else:
            assert relay.listener is None
            submit(live_world.factory, new_request(MONDAY_9))
            wait_until(lambda: relay.relayed == 1, timeout=5, what="the commit here relayed at once")
        assert relay.pause(0.1) == (60.0 if postgres else 0.1)
    finally:
        stop.set()
        relay.wake.set()
        thread.join(5)
