"""Early warnings in the database: surges and recurring issues become alert rows
(one per episode, however often the detector runs), an ``alert`` outbox event
for the screens, a notification for the responsible unit, and GET /api/v1/alerts."""
from __future__ import annotations

import math
import random
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

import settings as settings_module
from dashboard import Platform
from geo.districts import load_districts, random_point_in
from tests.helpers import TZ, plant, poisson, ticket_row, unit_ids
from tickets import accounts
from tickets.alerts import AlertConfig, detect, poisson_tail
from tickets.dispatch import PLACE_KINDS
from tickets.models import Alert, Notification, OutboxMessage, Unit, User
from tickets.uow import unit_of_work

DISTRICTS = list(load_districts())  # Jinan's twelve, as the boundary data lists them
TOPIC_RATES = {"noise": (1, 12), "theft": (0.5, 6), "dispute": (2, 15), "traffic": (3, 20)}
START = date(2026, 10, 1)  # 28 baseline days, then the week under test
WEEK = [START + timedelta(days=28 + i) for i in range(7)]
BAR = (36.6612, 117.0305)  # a new bar in 历下区


def at_local(day: date, hour: float) -> datetime:
    return datetime.combine(day, datetime.min.time(), TZ) + timedelta(hours=hour)


def plant_background(p: Platform, seed: int, days: int = 35) -> None:
    """Ordinary days: Poisson per (topic, district), weekends a little busier, anywhere in the district."""
    rng = random.Random(seed)
    rates = {(t, d): rng.uniform(*r) for t, r in TOPIC_RATES.items() for d in DISTRICTS}
    rates[("noise", "历下区")] = 3.0
    with unit_of_work(p.factory) as s:
        branch = dict(s.execute(select(Unit.district, Unit.id).where(Unit.level == 2,
                                                                    Unit.kind.in_(PLACE_KINDS))).all())
        rows = []
        for i in range(days):
            day = START + timedelta(days=i)
            swing = 1.15 if day.weekday() >= 5 else 0.95
            for (topic, district), lam in rates.items():
                for _ in range(poisson(rng, lam * swing)):
                    lat, lon = random_point_in(district, rng)
                    rows.append(ticket_row(at_local(day, rng.uniform(0, 24)), lat, lon, topic, district=district,
                                           unit_id=branch[district]))
        plant(s, rows)


def plant_burst(p: Platform, day: date, n: int = 18) -> None:
    rng = random.Random(99)
    with unit_of_work(p.factory) as s:
        lx = unit_ids(s)["JN-LX-01"]
        plant(s, [ticket_row(at_local(day, 19 + rng.uniform(0, 4)), BAR[0] + rng.uniform(-3e-4, 3e-4),
                             BAR[1] + rng.uniform(-3e-4, 3e-4), "noise", unit_id=lx) for _ in range(n)])


def run_week(p: Platform, hours: tuple[float, ...] = (12.0, 23.9)) -> None:
    for day in WEEK:
        for hour in hours:
            with unit_of_work(p.factory) as s:
                detect(s, at_local(day, hour), TZ)


def alerts(p: Platform, kind: str | None = None) -> list[Alert]:
    with p.factory() as s:
        stmt = select(Alert).order_by(Alert.id)
        return list(s.scalars(stmt.where(Alert.kind == kind) if kind else stmt))


def test_a_burst_of_noise_complaints_gives_exactly_one_surge_alert(jinan_platform: Platform) -> None:
    plant_background(jinan_platform, seed=1)
    burst_day = WEEK[3]
    plant_burst(jinan_platform, burst_day)
    run_week(jinan_platform, hours=(12.0, 20.0, 23.5, 23.9))  # the detector runs again and again
    surges = alerts(jinan_platform, "surge")
    assert [(a.topic, a.area, a.day) for a in surges] == [("noise", "历下区", burst_day)]
    surge = surges[0]
    assert surge.count >= 18 and surge.count >= surge.threshold >= 10
    assert 1.5 < surge.baseline < 4.5 and surge.p_value < 0.001
    assert "噪音扰民" in surge.reason and "历下区" in surge.reason and f"{surge.count} 起" in surge.reason
    assert surge.status == "closed" and surge.closed_at is not None  # its day is over by the week's end
    with jinan_platform.factory() as s:
        assert surge.unit_id == unit_ids(s)["JN-LX"]  # 历下分局 answers for the district
        notes = s.scalars(select(Notification).where(Notification.kind == "alert")).all()
        assert [(n.unit_id, "历下区" in n.text) for n in notes if "突增" in n.text] == [(surge.unit_id, True)]
        events = [m.payload for m in s.scalars(select(OutboxMessage).where(OutboxMessage.topic == "alert"))]
    surge_events = [e for e in events if e["alert"]["kind"] == "surge"]
    assert [e["action"] for e in surge_events][0] == "raised"
    assert [e["action"] for e in surge_events].count("raised") == 1
    assert surge_events[-1]["action"] == "closed"
    assert all("ticket" not in e and "13812345678" not in str(e) for e in events)
    # The bar is also a recurring issue in its block (one or two H3 cells: ±30 m may straddle an edge).
    recurring = alerts(jinan_platform, "recurring")
    assert 1 <= len(recurring) <= 2 and {a.topic for a in recurring} == {"noise"}
    assert sum(a.count for a in recurring) >= 14
    assert all(abs(a.lat - BAR[0]) < 0.004 and abs(a.lon - BAR[1]) < 0.004 for a in recurring)


def test_a_normal_week_raises_no_surge(jinan_platform: Platform) -> None:
    plant_background(jinan_platform, seed=1)
    run_week(jinan_platform)
    assert alerts(jinan_platform, "surge") == []


def test_no_alert_before_there_is_a_baseline(jinan_platform: Platform) -> None:
    plant_background(jinan_platform, seed=2, days=3)
    with unit_of_work(jinan_platform.factory) as s:
        result = detect(s, at_local(START + timedelta(days=2), 23), TZ)
    assert result.raised == [] and any("day(s) with data" in why for why in result.skipped)
    assert alerts(jinan_platform) == []


def test_recurring_issue_in_a_quiet_block_is_one_alert_until_it_ends(jinan_platform: Platform) -> None:
    plant_background(jinan_platform, seed=3, days=28)
    quiet = (36.6000, 117.0600)  # a block in the hills south of the city
    with unit_of_work(jinan_platform.factory) as s:
        plant(s, [ticket_row(at_local(WEEK[0], 20 + i), quiet[0] + i * 1e-5, quiet[1], "noise",
                             unit_id=unit_ids(s)["JN-LX-05"]) for i in range(4)])
    for hour in (21.0, 23.5, 24.5, 30.0):
        with unit_of_work(jinan_platform.factory) as s:
            detect(s, at_local(WEEK[0], hour), TZ)
    found = [a for a in alerts(jinan_platform, "recurring") if a.count == 4]
    assert len(found) == 1
    alert = found[0]
    assert alert.status == "open" and alert.area_kind == "cell" and len(alert.ticket_ids) == 4
    assert alert.unit_id is not None and "派出所辖区" in alert.area_name and "重复诉求 4 起" in alert.reason
    with unit_of_work(jinan_platform.factory) as s:  # eight days later the window has moved past them
        detect(s, at_local(WEEK[0], 24 * 8 + 21), TZ)
    assert [a.status for a in alerts(jinan_platform, "recurring") if a.id == alert.id] == ["closed"]


def test_a_busy_corner_that_always_has_that_many_is_not_an_alert(jinan_platform: Platform) -> None:
    corner = (36.6700, 117.0000)
    with unit_of_work(jinan_platform.factory) as s:
        uid = unit_ids(s)["JN-LX-02"]
        rows = [ticket_row(at_local(START + timedelta(days=d), 10), corner[0], corner[1], "traffic", unit_id=uid)
                for d in range(35) for _ in range(1)]  # one a day, every day
        plant(s, rows)
    with unit_of_work(jinan_platform.factory) as s:
        detect(s, at_local(WEEK[-1], 23), TZ)
    assert alerts(jinan_platform, "recurring") == []  # 7 in 7 days is what it always has
    with unit_of_work(jinan_platform.factory) as s:  # the count rule alone would have fired
        from geo.surges import detect_recurring
        assert detect_recurring([(corner[0], corner[1], "traffic", at_local(WEEK[-1], 10) - timedelta(days=i))
                                 for i in range(7)], now=at_local(WEEK[-1], 23))


def test_poisson_tail() -> None:
    assert poisson_tail(0, 2.0) == 1.0
    assert abs(poisson_tail(3, 0.1) - (1 - math.exp(-0.1) * (1 + 0.1 + 0.005))) < 1e-12
    assert abs(poisson_tail(1, 3.0) - (1 - math.exp(-3.0))) < 1e-12


def test_alert_config_from_settings() -> None:
    cfg = AlertConfig.from_settings(settings_module.load(environ={}, extra={"alerts": {"recurring_min_count": 4}}))
    assert cfg.recurring_min_count == 4 and cfg.min_history_days == 7
    with pytest.raises(ValueError, match="unknown keys"):
        AlertConfig.from_settings(settings_module.load(environ={}, extra={"alerts": {"min_count": 4}}))


def test_alerts_api_lists_by_scope(jinan_platform: Platform) -> None:
    plant_background(jinan_platform, seed=1)
    plant_burst(jinan_platform, WEEK[3])
    with unit_of_work(jinan_platform.factory) as s:
        detect(s, at_local(WEEK[3], 23.9), TZ)
        kiosk = accounts.issue_token(s, "kiosk", label="wall")
        accounts.create_user(s, "tq", "天桥民警", None, "JN-TQ", "viewer", "pass-pass-1")
        accounts.create_user(s, "lx", "历下民警", None, "JN-LX", "viewer", "pass-pass-1")
        tq = accounts.issue_token(s, "api", user=accounts.find_user(s, "tq"))
        lx = accounts.issue_token(s, "api", user=accounts.find_user(s, "lx"))
    client = jinan_platform.server.test_client()

    def get(path: str, token: str | None) -> Any:
        return client.get(path, headers={"Authorization": f"Bearer {token}"} if token else {})

    assert get("/api/v1/alerts", None).status_code == 401
    wall = get("/api/v1/alerts", kiosk).get_json()
    n = len(alerts(jinan_platform))
    assert n in (2, 3) and wall["count"] == n and {a["kind"] for a in wall["items"]} == {"surge", "recurring"}
    surge = next(a for a in wall["items"] if a["kind"] == "surge")
    assert surge["unit_code"] == "JN-LX" and surge["topic_label"] == "噪音扰民" and surge["area"] == "历下区"
    assert surge["lat"] is not None and surge["status"] == "open" and surge["kind_label"] == "突增预警"
    assert get("/api/v1/alerts?kind=surge", kiosk).get_json()["count"] == 1
    assert get("/api/v1/alerts?topic=theft", kiosk).get_json()["count"] == 0
    assert get("/api/v1/alerts", lx).get_json()["count"] == n
    assert get("/api/v1/alerts", tq).get_json()["count"] == 0  # not 天桥's
    assert get("/api/v1/alerts?unit=JN-LX", tq).status_code == 404
    assert get("/api/v1/alerts?status=closed", kiosk).get_json()["count"] == 0
    assert get("/api/v1/alerts?status=maybe", kiosk).status_code == 400
    with jinan_platform.factory() as s:
        assert s.scalar(select(func.count()).select_from(Alert)) == n


def test_an_alert_goes_live_as_an_event_about_no_ticket(jinan_platform: Platform) -> None:
    import fakeredis

    from dashboard.live.aggregator import LiveAggregator
    from dashboard.live.relay import OutboxRelay

    plant_background(jinan_platform, seed=1)
    plant_burst(jinan_platform, WEEK[3])
    client = fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True)
    now = at_local(WEEK[3], 23.9)
    pushed: list[dict[str, Any]] = []
    relay = OutboxRelay(jinan_platform.factory, client, clock=lambda: now)
    aggregator = LiveAggregator(jinan_platform.factory, client, TZ, clock=lambda: now, publish=pushed.append,
                                heartbeat_seconds=1e9)
    aggregator.step(block_ms=10)  # the live state, from the database
    counters = aggregator.counters()
    with unit_of_work(jinan_platform.factory) as s:
        detect(s, now, TZ)
    while relay.run_once():
        pass
    aggregator.step(block_ms=10)
    events = [e for m in pushed for e in m["events"]]
    assert events and all(e["event"] == "alert" and e["ticket"] is None for e in events)
    assert [e["seq"] for e in events] == list(range(counters["seq"] + 1, counters["seq"] + 1 + len(events)))
    surge = next(e for e in events if e["alert"]["kind"] == "surge")
    assert surge["action"] == "raised" and surge["alert"]["area"] == "历下区" and surge["alert"]["unit_code"] == "JN-LX"
    after = aggregator.counters()
    assert {k: after[k] for k in ("received_today", "open_now")} == {k: counters[k] for k in ("received_today", "open_now")}
    aggregator.step(block_ms=10)  # applied once: nothing pushed again
    assert [e for m in pushed for e in m["events"]] == events


def test_an_alert_closed_by_a_person_stays_closed_unless_it_grows(jinan_platform: Platform) -> None:
    """关闭 with a note: the detector, which still sees the pattern, does not raise it again
    for the same count (no storm of the same warning); it does when the count grows."""
    from tickets import services
    from tickets.errors import Invalid
    from tickets.roles import actor_for

    plant_background(jinan_platform, seed=3, days=28)
    quiet = (36.6000, 117.0600)
    with unit_of_work(jinan_platform.factory) as s:
        plant(s, [ticket_row(at_local(WEEK[0], 20 + i), quiet[0] + i * 1e-5, quiet[1], "noise",
                             unit_id=unit_ids(s)["JN-LX-05"]) for i in range(4)])
        detect(s, at_local(WEEK[0], 23.5), TZ)
    alert, = [a for a in alerts(jinan_platform, "recurring") if a.count == 4]
    with unit_of_work(jinan_platform.factory) as s:
        accounts.create_user(s, "watch", "孙磊", "100694", "JN", "duty_officer", "minsheng-demo")
    with unit_of_work(jinan_platform.factory) as s:
        duty = actor_for(s, s.scalars(select(User).where(User.username == "watch")).one())
        with pytest.raises(Invalid):  # closing says why
            services.close_alert(s, duty, alert.id, "  ", at=at_local(WEEK[0], 23.6))
        services.close_alert(s, duty, alert.id, "已联系物业处置", at=at_local(WEEK[0], 23.6))
    with unit_of_work(jinan_platform.factory) as s:
        detect(s, at_local(WEEK[0], 24.0), TZ)  # the same four: it stays closed
    again, = [a for a in alerts(jinan_platform, "recurring") if a.id == alert.id]
    assert (again.status, again.closing_note, again.acknowledged_at is not None) == ("closed", "已联系物业处置", True)
    with unit_of_work(jinan_platform.factory) as s:  # a fifth complaint at the same spot: raised again
        plant(s, [ticket_row(at_local(WEEK[0], 24.1), quiet[0], quiet[1], "noise", unit_id=unit_ids(s)["JN-LX-05"])])
        detect(s, at_local(WEEK[0], 24.5), TZ)
    grown, = [a for a in alerts(jinan_platform, "recurring") if a.id == alert.id]
    assert (grown.status, grown.count, grown.closed_by_id) == ("open", 5, None)
