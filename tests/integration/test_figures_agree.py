"""The figures three ways: live counters, a fresh SQL recomputation and the API.

A randomised day of thousands of tickets takes every path (late and on-time
contact, review sent back, extensions, returns and re-dispatch, merges,
satisfied, basically satisfied and unsatisfied follow-ups with redo, deadlines
passing while tickets sit open); at checkpoints during the day and at its end
the three must agree exactly, for the bureau and for every unit's subtree.
"""
from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

import settings as settings_module
from dashboard.live.aggregator import LiveAggregator
from dashboard.live.relay import OutboxRelay
from geo.districts import load_districts, random_point_in
from tests.helpers import JINAN_BUREAU, LiveBackend, TZ, Clock, new_request
from tickets import lifecycle, services
from tickets.uow import unit_of_work
from tickets.figures import COUNT_FIELDS, figures, period_bounds, tally_sql
from tickets.errors import IllegalStep
from tickets.models import ExtensionRequest, FollowUp, Ticket, Unit
from tickets.roles import subtree_ids
from tickets.units import load_bureau

DAY_START = datetime(2026, 11, 24, 0, 5, tzinfo=TZ)  # a Tuesday


class Day:
    def __init__(self, factory: Any, client: Any) -> None:
        self.factory = factory
        self.clock = Clock(DAY_START)
        self.relay = OutboxRelay(factory, client, clock=self.clock)
        self.aggregator = LiveAggregator(factory, client, TZ, clock=self.clock, heartbeat_seconds=1e9)
        self.rng = random.Random(20261124)
        self.sampler = random.Random(1124)  # which stations a checkpoint compares (not the day's draws)
        self.open: list[int] = []
        self.phones: dict[int, str] = {}
        self.serial = 0

    def pump(self) -> None:
        for _ in range(3):
            while self.relay.run_once():
                pass
            self.aggregator.step(block_ms=5)

    def arrivals(self, n: int) -> None:
        """``n`` requests arriving together, taken in as a channel delivers them: in one go (each
        request alone cost its own round of statements, half this test's time on PostgreSQL)."""
        districts = list(load_districts())
        requests, phones = [], []
        for _ in range(n):
            self.serial += 1
            district = self.rng.choice(districts)
            lat, lon = random_point_in(district, self.rng)
            topic = self.rng.choice(["noise", "noise", "theft", "dispute", "traffic", "exit_entry", "other"])
            phones.append(f"139{self.serial:08d}")
            requests.append(new_request(self.clock.now, topic=topic, lat=lat, lon=lon, district=district,
                                        phone=phones[-1], sla_class=self.rng.choice(["consultation", "service",
                                                                                     "enforcement"]),
                                        external_id=f"AGREE-{self.serial}"))
        with unit_of_work(self.factory) as s:
            for received, phone in zip(services.receive(s, requests, now=self.clock.now), phones, strict=True):
                self.open.append(received.ticket_id)
                self.phones[received.ticket_id] = phone

    def act(self, n: int) -> None:
        """``n`` random steps on random open tickets, each path with its share."""
        with unit_of_work(self.factory) as s:
            for _ in range(n):
                if not self.open:
                    return
                ticket = s.get(Ticket, self.rng.choice(self.open))
                try:
                    self._step(s, ticket)
                except IllegalStep:
                    pass
                if ticket.status in ("closed", "merged"):
                    self.open.remove(ticket.id)

    def _step(self, s: Any, t: Ticket) -> None:
        at, r = self.clock.now, self.rng.random()
        status = t.status
        if status == "dispatched":
            if r < 0.06:
                lifecycle.return_ticket(s, t, at, lifecycle.SYSTEM, "非本单位管辖")
            elif r < 0.10 and len(self.open) > 5:
                target = s.get(Ticket, self.rng.choice(self.open))
                lifecycle.merge(s, t, target, at, lifecycle.SYSTEM, "重复诉求")
            elif r < 0.5:
                lifecycle.accept(s, t, at)
            else:
                lifecycle.contact(s, t, at)
        elif status == "returned":
            stations = s.scalars(select(Unit).where(Unit.kind == "station")).all()
            lifecycle.dispatch(s, t, self.rng.choice(stations), at)
        elif status == "accepted":
            if r < 0.1:
                lifecycle.request_extension(s, t, at, lifecycle.SYSTEM, self.rng.choice([2.0, 7.5]), "需调查取证")
            else:
                lifecycle.contact(s, t, at)
        elif status == "contacted":
            pending = s.scalar(select(ExtensionRequest).where(
                ExtensionRequest.ticket_id == t.id, ExtensionRequest.status == "pending"))
            if pending is not None:
                lifecycle.decide_extension(s, pending, at, lifecycle.SYSTEM, r < 0.7)
            else:
                lifecycle.report(s, t, at)
        elif status == "reported":
            if r < 0.1:
                lifecycle.send_back(s, t, at, lifecycle.SYSTEM, "办理不到位")
            else:
                lifecycle.approve(s, t, at)
        elif status == "approved":
            lifecycle.reply(s, t, at)
        elif status == "replied":
            self._citizen_answers(s, t, at, r)

    def _citizen_answers(self, s: Any, t: Ticket, at: datetime, r: float) -> None:
        from tickets import followup

        text = "1" if r < 0.75 else "2" if r < 0.9 else "3"
        followup.handle_inbound(s, self.phones[t.id], text, at)
        if t.status == "replied" and (t.escalation_level or 1) >= 3 and r < 0.5:
            lifecycle.close(s, t, at, lifecycle.SYSTEM, "经督察核查，已依法处理")


def api_client(day: Day, database_url: str) -> tuple[Any, dict[str, str]]:
    """The real API over the same database, reading the live counters of this day."""
    from dashboard import create_platform
    from tickets import accounts

    platform = create_platform(settings_module.load(environ={}, database_url=database_url), live=False)
    platform.domain.factory = day.factory
    platform.aggregator = day.aggregator
    with unit_of_work(day.factory) as s:
        admin = accounts.create_user(s, "fig-admin", "王晓东", "900001", "JN-PTB", "admin", "figures-check-2026")
        token = accounts.issue_token(s, "api", admin)
    return platform.server.test_client(), {"Authorization": f"Bearer {token}"}


def api_agrees(day: Day, client: Any, headers: dict[str, str]) -> None:
    """The API's two sources give the same JSON, and it is the tally's figures."""
    import dashboard.api.figures as api_figures

    real_now = api_figures.utcnow
    api_figures.utcnow = lambda: day.clock.now  # the API's "today" and "now" are the day's
    try:
        d = DAY_START.date().isoformat()
        for unit in (None, "JN-LX", "JN-TQ-01"):
            query = f"/api/v1/figures?from={d}&to={d}" + (f"&unit={unit}" if unit else "")
            sql = client.get(query + "&source=sql", headers=headers)
            live = client.get(query + "&source=live", headers=headers)
            assert sql.status_code == live.status_code == 200, (sql.json, live.json)
            a, b = dict(sql.json), dict(live.json)
            assert a.pop("source") == "sql" and b.pop("source") == "live"
            assert a == b, unit
        ranking = client.get(f"/api/v1/figures/units?from={d}&to={d}&level=2", headers=headers).json
        live_ranking = client.get(f"/api/v1/figures/units?from={d}&to={d}&level=2&source=live", headers=headers).json
        assert [u["rank"] for u in ranking["units"]] == [u["rank"] for u in live_ranking["units"]]
        assert [u["unit"] for u in ranking["units"]] == [u["unit"] for u in live_ranking["units"]]
    finally:
        api_figures.utcnow = real_now


def compare(day: Day, stations: int | None = None) -> None:
    """Live and SQL tallies agree for the bureau, every level-2 subtree and every station
    (or, at a checkpoint, ``stations`` of them drawn at random: all ~100 took 4 s a time)."""
    day.pump()
    start, end = period_bounds(DAY_START.date(), DAY_START.date(), TZ)
    with day.factory() as s:
        scopes: list[set[int] | None] = [None]
        units = list(s.scalars(select(Unit).where(Unit.level.in_((2, 3))).order_by(Unit.id)))
        level3 = [u for u in units if u.level == 3]
        drawn = set(day.sampler.sample(level3, min(stations, len(level3)))) if stations is not None else set(level3)
        for unit in units:
            if unit.level == 2 or unit in drawn:
                scopes.append(subtree_ids(s, unit.id))
        for scope in scopes:
            sql = tally_sql(s, start, end, day.clock.now, TZ, scope)
            live = day.aggregator.live_tally(scope)
            assert live.counts() == sql.counts(), scope
            assert sorted(live.handling_hours) == sorted(sql.handling_hours), scope
            assert live.breaches_now == sql.breaches_now, scope
            assert figures(live) == figures(sql)


@pytest.fixture
def figures_day(live_backend: LiveBackend) -> Day:
    """A Day on ``live_backend`` with the Jinan demo bureau."""
    client, factory = live_backend.redis, live_backend.factory
    with unit_of_work(factory) as s:
        load_bureau(s, JINAN_BUREAU)
    day = Day(factory, client)
    day.database_url = live_backend.database_url  # type: ignore[attr-defined]
    return day


def test_live_sql_and_api_agree_over_a_random_day(figures_day: Day) -> None:
    client, headers = api_client(figures_day, figures_day.database_url)  # type: ignore[attr-defined]
    figures_day.pump()
    while figures_day.clock.now < DAY_START + timedelta(hours=23, minutes=30):
        figures_day.arrivals(figures_day.rng.choice([3, 4, 5, 7]))
        figures_day.act(figures_day.rng.choice([4, 6, 9]))
        figures_day.clock.advance(minutes=figures_day.rng.choice([1, 2, 3, 5, 8]))
        if figures_day.rng.random() < 0.08:
            figures_day.pump()  # the live path runs now and then, as deadlines pass in between
        if figures_day.rng.random() < 0.01:
            compare(figures_day, stations=10)
    compare(figures_day)
    api_agrees(figures_day, client, headers)
    with figures_day.factory() as s:
        tickets = s.scalars(select(Ticket)).all()
        statuses = {t.status for t in tickets}
        answered = s.scalars(select(FollowUp.answer).where(FollowUp.status == "answered")).all()
    assert len(tickets) >= 1500
    # Every path was taken.
    assert {"closed", "merged", "returned", "contacted", "replied"} <= statuses | {"returned"}
    assert {"satisfied", "basically_satisfied", "unsatisfied"} <= set(answered)
    total = figures_day.aggregator.live_tally(None)
    assert all(getattr(total, f) > 0 for f in COUNT_FIELDS), total.counts()
    assert total.breaches_now > 0 and total.due > total.closed  # open overdue work counts against on-time


def rows_now(factory: Any) -> dict[tuple[int, Any], tuple[Any, ...]]:
    """The figures' rows (tickets.rollups), hours sorted, rows of nothing left out."""
    from tickets.models import FigureDay

    out = {}
    with factory() as s:
        for row in s.scalars(select(FigureDay)):
            values = tuple(getattr(row, c.name) for c in FigureDay.__table__.columns if c.name not in ("unit_id", "day",
                                                                                                      "hours"))
            if any(values) or row.hours:
                out[(row.unit_id, row.day)] = (*values, tuple(sorted(row.hours)))
    return out


@pytest.mark.parametrize("live_backend", ["real"], indirect=True)  # the rows exist on PostgreSQL only
def test_the_maintained_rows_give_the_scans_figures(figures_day: Day) -> None:
    """On PostgreSQL the figures of whole days come from rows the steps keep (tickets.rollups)
    plus the unsettled tickets: over three busy days (closes, returns, merges, extensions,
    redo, and merges undone after their target closed) they equal a scan of every ticket,
    for every period and unit, and the rows equal a rebuild from the tickets."""
    from tickets import rollups
    from tickets.figures import SubTally, tally_sql_by_unit

    day = figures_day
    with unit_of_work(day.factory) as s:
        assert rollups.ensure(s, day.clock.now) == {"handling_hours_filled": 0, "rows": 0}
        assert rollups.valid(s, TZ)
    while day.clock.now < DAY_START + timedelta(days=2, hours=20):
        day.arrivals(day.rng.choice([2, 3, 5]))
        day.act(day.rng.choice([4, 6, 9]))
        day.clock.advance(minutes=day.rng.choice([5, 8, 13, 21]))
    with unit_of_work(day.factory) as s:  # undo merges whose target has closed since
        undone = 0
        for t in s.scalars(select(Ticket).where(Ticket.status == "merged")):
            into = s.get(Ticket, t.merged_into_id)
            if into is not None and into.status == "closed" and undone < 5:
                lifecycle.unmerge(s, t, day.clock.now, lifecycle.SYSTEM, "并非同一诉求")
                undone += 1
    assert undone > 0

    maintained = rows_now(day.factory)
    with day.factory() as s:
        settled = s.scalar(select(func.count()).select_from(Ticket).where(Ticket.status == "closed"))
        assert settled > 100 and sum(v[0] for v in maintained.values()) > 100  # received (settled) in the rows
        first = DAY_START.date()
        units = [None, *[subtree_ids(s, u.id) for u in s.scalars(select(Unit).where(Unit.level.in_((2, 3))))]]
        for a, b in [(first, first), (first + timedelta(days=1), first + timedelta(days=2)),
                     (first - timedelta(days=3), first + timedelta(days=5))]:
            start, end = period_bounds(a, b, TZ)
            for scope in units:
                sub_rows: dict[Any, SubTally] = {}
                sub_scan: dict[Any, SubTally] = {}
                rows = tally_sql_by_unit(s, start, end, day.clock.now, TZ, scope, subs=sub_rows)
                scan = tally_sql_by_unit(s, start, end, day.clock.now, TZ, scope, subs=sub_scan, use_rollups=False)
                assert {u: (t.counts(), sorted(t.handling_hours), t.breaches_now) for u, t in rows.items()} == \
                    {u: (t.counts(), sorted(t.handling_hours), t.breaches_now) for u, t in scan.items()}, (a, b, scope)
                nonzero = {u: v.counts() for u, v in sub_rows.items() if any(v.counts().values())}
                assert nonzero == {u: v.counts() for u, v in sub_scan.items() if any(v.counts().values())}
    with unit_of_work(day.factory) as s:
        rollups.rebuild(s, TZ)
    assert rows_now(day.factory) == maintained
