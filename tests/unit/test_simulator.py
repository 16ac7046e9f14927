"""The simulated feed: deterministic, realistic in rhythm, mix, place and text,
and a runner that feeds the database live without losing or doubling work."""
from __future__ import annotations

import logging
import re
import statistics
import threading
from collections import Counter
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

import settings as settings_module
from feeds import texts
from feeds.simulator import KIND_WEIGHTS, SimulationRunner, Simulator, minute_index, plan_for, run
from geo.districts import district_at, load_districts
from tests.helpers import ROOT
from tickets.models import IntakeRecord, Ticket
from tickets.uow import unit_of_work
from tickets.units import load_bureau

TZ = ZoneInfo("Asia/Shanghai")
BUREAU = ROOT / "examples" / "jinan_bureau.yaml"
# Tuesday 2025-03-04 00:00 Beijing time: an ordinary working week follows.
TUESDAY = datetime(2025, 3, 4, tzinfo=TZ)


@pytest.fixture(scope="module")
def two_days() -> list:
    """A working day and a Saturday of requests (Fri 2025-03-07 and Sat 03-08)."""
    sim = Simulator(seed=11, rate_per_hour=300, tz=TZ)
    start = datetime(2025, 3, 7, tzinfo=TZ)
    return sim.requests_between(start, start + timedelta(days=2))


def _local_hour(r) -> int:
    return r.received_at.astimezone(TZ).hour


# --- determinism -------------------------------------------------------------------


def test_same_seed_same_requests_other_seed_others() -> None:
    start = TUESDAY + timedelta(hours=9)
    a = Simulator(seed=3, rate_per_hour=600, tz=TZ).requests_between(start, start + timedelta(hours=1))
    b = Simulator(seed=3, rate_per_hour=600, tz=TZ).requests_between(start, start + timedelta(hours=1))
    c = Simulator(seed=4, rate_per_hour=600, tz=TZ).requests_between(start, start + timedelta(hours=1))
    assert a and a == b
    assert [r.external_id for r in a] != [r.external_id for r in c]
    assert [r.content for r in a[:20]] != [r.content for r in c[:20]]


def test_chunking_does_not_change_the_requests() -> None:
    sim = Simulator(seed=5, rate_per_hour=900, tz=TZ)
    a, c = TUESDAY + timedelta(hours=10), TUESDAY + timedelta(hours=11)
    whole = sim.requests_between(a, c)
    for b in (a + timedelta(minutes=17), a + timedelta(minutes=33, seconds=29)):
        assert sim.requests_between(a, b) + sim.requests_between(b, c) == whole
    pieces = [r for m in range(60) for r in sim.requests_between(a + timedelta(minutes=m), a + timedelta(minutes=m + 1))]
    assert pieces == whole
    assert all(a <= r.received_at < c for r in whole)
    assert [r.received_at for r in whole] == sorted(r.received_at for r in whole)


def test_external_ids_are_stable_unique_and_name_seed_and_minute() -> None:
    sim = Simulator(seed=42, rate_per_hour=1200, tz=TZ)
    start = TUESDAY + timedelta(hours=10)
    reqs = sim.requests_between(start, start + timedelta(minutes=30))
    ids = [r.external_id for r in reqs]
    assert len(set(ids)) == len(ids)
    for r in reqs:
        m = re.fullmatch(r"SIM-42-(\d{12})-(\d+)", r.external_id)
        assert m, r.external_id
        assert m.group(1) == r.received_at.astimezone(timezone.utc).strftime("%Y%m%d%H%M")
    random_seeded = Simulator(seed=None, rate_per_hour=600, tz=TZ)
    assert isinstance(random_seeded.seed, int)
    assert random_seeded.requests_between(start, start + timedelta(minutes=5)) == \
        random_seeded.requests_between(start, start + timedelta(minutes=5))


# --- rhythm --------------------------------------------------------------------------


def test_rate_over_a_week_matches_the_target_and_nights_are_quiet() -> None:
    sim = Simulator(seed=9, rate_per_hour=600, tz=TZ)
    start = datetime(2025, 3, 3, tzinfo=TZ)  # Monday
    times = sim.arrival_times(start, start + timedelta(days=7))
    per_hour = len(times) / (7 * 24)
    assert 600 * 0.85 <= per_hour <= 600 * 1.15, per_hour
    by_hour = Counter(t.astimezone(TZ).hour for t in times)
    mean = len(times) / 24
    assert by_hour[4] / by_hour[10] < 0.2, (by_hour[4], by_hour[10])
    assert 0.08 <= by_hour[4] / mean <= 0.2
    assert by_hour[10] > mean and by_hour[20] > mean  # the two peaks
    # arrival_times and requests_between are the same process
    hour = start + timedelta(hours=10)
    assert len(sim.requests_between(hour, hour + timedelta(hours=1))) == len(sim.arrival_times(hour, hour + timedelta(hours=1)))


def test_weekend_rhythm_differs_from_a_working_day() -> None:
    sim = Simulator(seed=1, rate_per_hour=600, tz=TZ)
    friday_8 = datetime(2025, 3, 7, 8, 30, tzinfo=TZ)
    saturday_8 = datetime(2025, 3, 8, 8, 30, tzinfo=TZ)
    assert sim.rate_at(saturday_8) < sim.rate_at(friday_8) * 0.8  # rest days start later
    day_mean = statistics.fmean(sim.rate_at(datetime(2025, 3, 8, tzinfo=TZ) + timedelta(minutes=m)) for m in range(0, 1440, 5))
    assert abs(day_mean - 600) < 15


# --- mix -----------------------------------------------------------------------------


def test_channel_mix_12345_leads_and_windows_keep_office_hours(two_days: list) -> None:
    channels = Counter(r.channel for r in two_days)
    top, _ = channels.most_common(1)[0]
    assert top == "hotline_12345"
    share = channels["hotline_12345"] / len(two_days)
    assert 0.45 <= share <= 0.65, share
    assert set(channels) >= {"cad_110", "call", "service_window", "director_mailbox", "visit", "letter",
                             "discipline_hotline", "open311"}
    for r in two_days:
        if r.channel == "service_window":
            local = r.received_at.astimezone(TZ)
            assert local.weekday() < 5 and (8, 30) <= (local.hour, local.minute) < (17, 30), local


def test_noise_rises_at_night(two_days: list) -> None:
    def noise_share(hours: set[int]) -> float:
        sel = [r for r in two_days if _local_hour(r) in hours]
        return sum(r.topic == "noise" for r in sel) / len(sel)

    night, morning = noise_share({22, 23, 0, 1}), noise_share({10, 11})
    assert night > 2 * morning, (night, morning)


def test_kind_and_sla_class_follow_the_topic(two_days: list) -> None:
    for topic, kinds in KIND_WEIGHTS.items():
        assert set(kinds) == set(texts.TEMPLATES[topic]), topic  # every kind drawn has texts
    for r in two_days:
        if r.kind == "consultation":
            assert r.sla_class == "consultation"
        elif r.topic in ("theft", "fraud", "dispute"):
            assert r.sla_class == "enforcement"
        else:
            assert r.sla_class == "service"
    household = Counter(r.kind for r in two_days if r.topic == "household")
    assert household.most_common(1)[0][0] == "consultation"
    noise = Counter(r.kind for r in two_days if r.topic == "noise")
    assert noise.most_common(1)[0][0] == "complaint"
    assert {r.kind for r in two_days if r.topic == "conduct"} >= {"complaint", "praise"}


def test_every_point_lies_in_its_district_and_the_centre_is_busiest(two_days: list) -> None:
    sample = two_days[::5]
    for r in sample:
        assert district_at(r.lat, r.lon) == r.district, (r.lat, r.lon, r.district, r.address)
        assert r.address.startswith("济南市" + r.district)
    districts = Counter(r.district for r in two_days)
    assert len(districts) == 12
    central = sum(districts[d] for d, locale in texts.LOCALES.items() if locale.central)
    assert central and len([locale for locale in texts.LOCALES.values() if locale.central]) == 5
    assert central / len(two_days) > 0.55
    assert districts["历下区"] > 3 * districts["商河县"]


def test_the_simulator_places_requests_in_every_district_of_the_boundary_data() -> None:
    assert set(texts.LOCALES) == set(load_districts())


def test_texts_are_chinese_varied_and_personal_data_is_plausible(two_days: list) -> None:
    first = two_days[:1000]
    assert len({r.content for r in first}) > 900
    assert len({r.title for r in first}) > 300
    for r in first:
        assert re.search(r"[\u4e00-\u9fff]{8}", r.content), r.content
        assert 4 <= len(r.title) <= 30, r.title
        assert r.content.count("。") <= 4 and "{" not in r.content + r.title
        assert re.fullmatch(r"1(3\d|5[0-35-9]|8\d|9[135-9])\d{8}", r.citizen_phone), r.citizen_phone
        assert re.fullmatch(r"[\u4e00-\u9fff]{2,4}", r.citizen_name), r.citizen_name
    assert len({r.citizen_phone for r in first}) > 990


# --- handling plans --------------------------------------------------------------------


def test_handling_plans_breach_contact_about_six_percent() -> None:
    ids = [f"SIM-1-202503041000-{i}" for i in range(20_000)]
    plans = [plan_for(i, "service") for i in ids]
    late = sum(p.contact_after is None or p.contact_after > timedelta(hours=1) for p in plans) / len(plans)
    assert 0.045 <= late <= 0.075, late
    contacted = [p.contact_after for p in plans if p.contact_after is not None]
    within = sum(timedelta(minutes=5) <= c <= timedelta(minutes=50) for c in contacted) / len(contacted)
    assert within > 0.9
    overdue = sum(p.overdue_by is not None for p in plans) / len(plans)
    assert 0.06 <= overdue <= 0.10, overdue
    for p in plans:
        if p.close_after is not None:
            assert p.contact_after is not None and p.close_after > p.contact_after
            if p.overdue_by is None:
                assert p.close_after <= timedelta(hours=7)  # on time in working hours too
    consult = [plan_for(i, "consultation").close_after for i in ids[:5000]]
    service = [p.close_after for p in plans[:5000]]
    assert statistics.median(c for c in consult if c) < statistics.median(s for s in service if s)
    assert plan_for(ids[0], "service") == plan_for(ids[0], "service")


# --- the runner ---------------------------------------------------------------------------


def _load_units(empty_db: sessionmaker[Session]) -> None:
    with unit_of_work(empty_db) as s:
        load_bureau(s, BUREAU)


class FakeClock:
    """Advances ``step`` per call; the call after ``calls`` calls sets ``stop``
    (the runner does no more work once stop is set)."""

    def __init__(self, start: datetime, step: timedelta, calls: int, stop: threading.Event) -> None:
        self.now, self.step, self.left, self.stop = start, step, calls, stop

    def __call__(self) -> datetime:
        current = self.now
        self.now += self.step
        self.left -= 1
        if self.left < 0:
            self.stop.set()
        return current


def _counts(empty_db: sessionmaker[Session]) -> tuple[int, int, int, int]:
    with unit_of_work(empty_db) as s:
        return (
            s.scalar(select(func.count()).select_from(Ticket)),
            s.scalar(select(func.count()).select_from(IntakeRecord)),
            s.scalar(select(func.count()).select_from(Ticket).where(Ticket.contacted_at.is_not(None))),
            s.scalar(select(func.count()).select_from(Ticket).where(Ticket.closed_at.is_not(None))),
        )


def _merged(empty_db: sessionmaker[Session]) -> int:
    with unit_of_work(empty_db) as s:
        return s.scalar(select(func.count()).select_from(IntakeRecord).where(IntakeRecord.merged.is_(True))) or 0


def test_run_backfills_plays_plans_and_rerun_adds_no_duplicates(empty_db: sessionmaker[Session]) -> None:
    _load_units(empty_db)
    cfg = settings_module.load(environ={}, simulator_seed=21, simulator_rate_per_hour=120.0)
    t0 = TUESDAY + timedelta(hours=11, seconds=17)  # not on a minute: nothing before the start
    stop = threading.Event()
    clock = FakeClock(t0, timedelta(seconds=30), calls=41, stop=stop)
    run(empty_db, cfg, stop, clock=clock, backfill=timedelta(hours=2), tick_seconds=0)
    last_tick = t0 + timedelta(seconds=30 * 40)

    expected = Simulator(seed=21, rate_per_hour=120, tz=TZ).requests_between(t0 - timedelta(hours=2), last_tick + timedelta(seconds=1))
    tickets, records, contacted, closed = _counts(empty_db)
    # A certain duplicate (tickets.dedup) becomes a merged intake record of an open ticket.
    assert records == len(expected) > 200 and tickets == records - _merged(empty_db)
    assert 0 < closed < contacted < tickets
    with unit_of_work(empty_db) as s:
        rows = s.scalars(select(Ticket)).all()
        for t in rows:
            assert t.dispatched_at == t.received_at  # backfilled with its own past time
            if t.contacted_at:
                assert t.received_at + timedelta(minutes=5) <= t.contacted_at <= last_tick
            if t.closed_at:
                assert t.contacted_at is not None and t.contacted_at < t.closed_at <= last_tick
        ids = {r.external_id for r in s.scalars(select(IntakeRecord))}
    assert ids == {r.external_id for r in expected}

    stop2 = threading.Event()
    run(empty_db, cfg, stop2, clock=FakeClock(t0, timedelta(seconds=30), calls=41, stop=stop2),
        backfill=timedelta(hours=2), tick_seconds=0)
    again = _counts(empty_db)
    assert again[:2] == (tickets, records)
    assert again[2] >= contacted and again[3] >= closed


def test_requests_are_released_within_the_minute_not_at_its_end(empty_db: sessionmaker[Session]) -> None:
    _load_units(empty_db)
    sim = Simulator(seed=8, rate_per_hour=3000, tz=TZ)
    t0 = TUESDAY + timedelta(hours=10)
    runner = SimulationRunner(empty_db, TZ, start=t0, simulator=sim)
    minute = sim.minute_requests(minute_index(t0 + timedelta(minutes=1)))
    assert len(minute) >= 4
    first, second = minute[0], minute[-1]
    assert first.received_at < second.received_at
    runner.tick(first.received_at)
    with unit_of_work(empty_db) as s:
        got = set(s.scalars(select(IntakeRecord.external_id)))
    assert first.external_id in got and second.external_id not in got
    runner.tick(second.received_at)
    with unit_of_work(empty_db) as s:
        got = set(s.scalars(select(IntakeRecord.external_id)))
    assert second.external_id in got


def test_runner_survives_a_database_error_and_loses_nothing(
    empty_db: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    _load_units(empty_db)
    sim = Simulator(seed=2, rate_per_hour=600, tz=TZ)
    t0 = TUESDAY + timedelta(hours=10)
    failing = {"on": False}

    def flaky() -> Session:
        if failing["on"]:
            raise OperationalError("INSERT ...", {}, Exception("database is locked"))
        return empty_db()

    runner = SimulationRunner(flaky, TZ, start=t0, simulator=sim)
    runner.tick(t0 + timedelta(minutes=3))
    failing["on"] = True
    with caplog.at_level(logging.ERROR, logger="feeds.simulator"):
        for k in range(4, 8):
            runner.tick(t0 + timedelta(minutes=k))  # must not raise
    assert any("tick failed" in r.getMessage() for r in caplog.records)
    failing["on"] = False
    end = t0 + timedelta(minutes=9)
    runner.tick(end)
    expected = sim.requests_between(t0, end + timedelta(seconds=1))
    tickets, records = _counts(empty_db)[:2]
    assert records == len(expected) and tickets == records - _merged(empty_db)


def test_no_units_is_reported_once_and_retried(empty_db: sessionmaker[Session],
                                               caplog: pytest.LogCaptureFixture) -> None:
    sim = Simulator(seed=3, rate_per_hour=600, tz=TZ)
    t0 = TUESDAY + timedelta(hours=10)
    runner = SimulationRunner(empty_db, TZ, start=t0, simulator=sim)
    with caplog.at_level(logging.WARNING, logger="feeds.simulator"):
        for k in range(1, 6):
            runner.tick(t0 + timedelta(minutes=k))
    problems = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(problems) == 1 and "no units loaded" in problems[0].getMessage()
    assert _counts(empty_db)[0] == 0
    _load_units(empty_db)
    runner.tick(t0 + timedelta(minutes=6))
    assert _counts(empty_db)[0] == len(sim.requests_between(t0, t0 + timedelta(minutes=6, seconds=1))) > 0


def test_restart_replans_open_tickets_from_their_external_ids(empty_db: sessionmaker[Session]) -> None:
    _load_units(empty_db)
    t0 = TUESDAY + timedelta(hours=10)
    first = SimulationRunner(empty_db, TZ, start=t0, seed=6, rate_per_hour=300)
    first.tick(t0 + timedelta(minutes=10))
    tickets, _, contacted, closed = _counts(empty_db)
    assert tickets > 40 and first.pending_plans > 0

    # A new process: no backfill, no memory of the plans, and no seed given.
    second = SimulationRunner(empty_db, TZ, start=t0 + timedelta(minutes=10), seed=None, rate_per_hour=6)
    second.tick(t0 + timedelta(minutes=10))
    assert second.simulator is not None and second.simulator.seed == 6  # continues the same stream
    assert second.pending_plans >= tickets - closed - 5
    second.tick(t0 + timedelta(hours=8))
    with unit_of_work(empty_db) as s:
        old = s.scalars(select(Ticket).where(Ticket.received_at < t0 + timedelta(minutes=10))).all()
        # Done by the unit: replied (the citizen's answer, or a redo after 不满意, may still
        # be under way) or closed.
        done = sum(t.closed_at is not None or t.replied_at is not None for t in old)
    assert done / len(old) > 0.85


def test_a_real_ticket_a_simulated_record_was_merged_into_is_left_alone(empty_db: sessionmaker[Session]) -> None:
    from tickets import services
    from tickets.intake import NewRequest

    _load_units(empty_db)
    t0 = TUESDAY + timedelta(hours=10)
    real = NewRequest(
        channel="letter", external_id="L-2025-0001", received_at=t0, kind="complaint", topic="noise",
        sla_class="service", title="楼下烧烤店噪音扰民", content="泉城路附近烧烤店每晚营业到凌晨，噪音很大。",
        district="历下区", lat=36.664, lon=117.02,
    )
    with unit_of_work(empty_db) as s:
        ticket = services.receive_one(s, real, now=t0)
        s.add(IntakeRecord(channel="hotline_12345", external_id="SIM-6-202503040200-0", ticket=ticket,
                           merged=True, received_at=t0, payload={}))
        ticket_id = ticket.id
    runner = SimulationRunner(empty_db, TZ, start=t0, seed=6, rate_per_hour=0)
    runner.tick(t0 + timedelta(days=3))
    assert runner.pending_plans == 0
    with unit_of_work(empty_db) as s:
        assert s.get(Ticket, ticket_id).status == "dispatched"
