"""GET /api/v1/hotspots on planted tickets: counts per H3 cell, the top hotspots
with their trend and station, windows, scope, and what the SQL reads."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import h3
import pytest
from sqlalchemy import event

from dashboard import Platform
from tickets import points as ticket_points
from geo.jurisdictions import station_at
from tests.helpers import TZ, plant, ticket_row, unit_ids
from tickets import accounts
from tickets.uow import unit_of_work
from tickets.models import utcnow

QUANCHENG = (36.6640, 117.0230)  # 泉城路派出所, 历下区
LUOKOU = (36.7080, 116.9950)  # 泺口, 天桥区
YAOJIA = (36.6630, 117.0980)  # 姚家, 历下区


@pytest.fixture
def hotspots_web(jinan_platform: Platform) -> tuple[Platform, str, str]:
    """``jinan_platform``, a kiosk token, and an API token of a viewer at 历下分局 (JN-LX)."""
    with unit_of_work(jinan_platform.factory) as s:
        kiosk = accounts.issue_token(s, "kiosk", label="wall")
        accounts.create_user(s, "lixia", "历下民警", None, "JN-LX", "viewer", "pass-pass-1")
        api = accounts.issue_token(s, "api", user=accounts.find_user(s, "lixia"))
    return jinan_platform, kiosk, api


def near(lat: float, lon: float, i: int) -> tuple[float, float]:
    """Points within ~30 m of (lat, lon): one H3 resolution-8 cell."""
    return lat + (i % 5) * 0.00005, lon + (i // 5 % 5) * 0.00005


def _plant_city(platform: Platform, now: datetime) -> None:
    with unit_of_work(platform.factory) as s:
        ids = unit_ids(s)
        lx1, tq1 = ids["JN-LX-01"], ids["JN-TQ-01"]
        rows = []
        for i in range(12):  # the hotspot: 12 noise complaints in the last 24 h
            rows.append(ticket_row(now - timedelta(hours=1 + i), *near(*QUANCHENG, i), "noise", unit_id=lx1))
        for i in range(4):  # the same cell the day before: 4
            rows.append(ticket_row(now - timedelta(hours=30 + i), *near(*QUANCHENG, i), "noise", unit_id=lx1))
        for i in range(5):  # theft in 天桥区, another unit's
            rows.append(ticket_row(now - timedelta(hours=2 + i), *near(*LUOKOU, i), "theft", district="天桥区",
                                   unit_id=tq1))
        for i in range(3):  # noise at 姚家, new this window
            rows.append(ticket_row(now - timedelta(hours=3), *near(*YAOJIA, i), "noise", unit_id=ids["JN-LX-06"]))
        rows.append(ticket_row(now - timedelta(hours=5), *QUANCHENG, "noise", unit_id=lx1, status="merged"))
        rows.append(ticket_row(now - timedelta(hours=5), None, None, "noise", unit_id=lx1))  # no place
        rows += [ticket_row(now - timedelta(days=3), *QUANCHENG, "noise", unit_id=lx1) for _ in range(9)]  # too old
        plant(s, rows)


def get(platform: Platform, path: str, token: str | None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return platform.server.test_client().get(path, headers=headers)


def test_hotspots_counts_cells_and_top_with_trend_and_station(hotspots_web: Any) -> None:
    platform, kiosk, _api = hotspots_web
    _plant_city(platform, utcnow())
    response = get(platform, "/api/v1/hotspots?topic=noise&window=24h", kiosk)
    assert response.status_code == 200
    body = response.get_json()
    assert body["window"] == "24h" and body["topic"] == "noise" and body["resolution"] == 8
    assert body["total"] == 15 and body["aggregated"] is False  # merged, placeless and old ones left out
    assert sum(c["count"] for c in body["cells"]) == 15
    assert [c["count"] for c in body["cells"]] == [12, 3]
    hot = body["top"][0]
    assert hot["cell"] == h3.latlng_to_cell(*QUANCHENG, 8)
    assert (hot["count"], hot["previous"], hot["change"], hot["trend"]) == (12, 4, 8, "up")
    assert hot["unit_code"] == station_at(hot["lat"], hot["lon"]) is not None
    assert hot["unit_name"].endswith("派出所")
    assert body["top"][1]["trend"] == "new" and body["top"][1]["previous"] == 0
    assert body["previous"]["total"] == 4
    assert set(body["cells"][0]) >= {"cell", "lat", "lon", "count", "topics", "unit_code", "unit_name"}
    assert body["cells"][0]["topics"] == {"noise": 12}

    every = get(platform, "/api/v1/hotspots?window=24h&top=1", kiosk).get_json()
    assert every["topic"] is None and every["total"] == 20 and len(every["top"]) == 1
    assert {c["cell"]: c["topics"] for c in every["cells"]}[h3.latlng_to_cell(*LUOKOU, 8)] == {"theft": 5}


def test_hotspots_windows_and_ranges(hotspots_web: Any) -> None:
    platform, kiosk, _api = hotspots_web
    now = utcnow()
    _plant_city(platform, now)
    assert get(platform, "/api/v1/hotspots?topic=noise&window=1h", kiosk).get_json()["total"] <= 1
    week = get(platform, "/api/v1/hotspots?topic=noise&window=7d", kiosk).get_json()
    assert week["total"] == 12 + 4 + 3 + 9
    start = (now - timedelta(days=4)).astimezone(TZ)
    ranged = get(platform, f"/api/v1/hotspots?topic=noise&from={start.date().isoformat()}"
                           f"&to={start.date().isoformat()}", kiosk).get_json()
    assert ranged["window"] is None and ranged["total"] == 0
    iso = get(platform, "/api/v1/hotspots?topic=noise&from=" + (now - timedelta(hours=26)).isoformat().replace(
        "+00:00", "Z"), kiosk).get_json()
    assert iso["window"] is None and iso["total"] == 15  # the last 26 h: the day-before ones are 30–33 h old
    for bad in ("topic=weather", "window=2h", "window=24h&from=2026-01-01", "from=yesterday", "resolution=3",
                "to=2026-01-01", "from=2026-01-02&to=2026-01-01", "from=2026-01-01&to=2026-12-31"):
        assert get(platform, f"/api/v1/hotspots?{bad}", kiosk).status_code == 400, bad


def test_hotspots_need_an_actor_and_follow_its_scope(hotspots_web: Any) -> None:
    platform, kiosk, api = hotspots_web
    _plant_city(platform, utcnow())
    assert get(platform, "/api/v1/hotspots", None).status_code == 401
    city = get(platform, "/api/v1/hotspots?window=24h", kiosk).get_json()
    lixia = get(platform, "/api/v1/hotspots?window=24h", api).get_json()  # a viewer of 历下分局
    assert city["total"] == 20 and lixia["total"] == 15
    assert all(c["topics"].get("theft") is None for c in lixia["cells"])


def test_beyond_the_cap_the_database_aggregates_with_the_same_counts(hotspots_web: Any, monkeypatch: Any) -> None:
    platform, kiosk, _api = hotspots_web
    _plant_city(platform, utcnow())
    raw = get(platform, "/api/v1/hotspots?window=24h", kiosk).get_json()
    monkeypatch.setattr(ticket_points, "CAP", 5)
    grouped = get(platform, "/api/v1/hotspots?window=24h", kiosk).get_json()
    assert grouped["aggregated"] is True and raw["aggregated"] is False
    assert grouped["total"] == raw["total"] == 20
    assert [(c["cell"], c["count"]) for c in grouped["cells"]] == [(c["cell"], c["count"]) for c in raw["cells"]]
    assert [(h["cell"], h["count"], h["trend"]) for h in grouped["top"]] == [
        (h["cell"], h["count"], h["trend"]) for h in raw["top"]]


def test_the_sql_reads_only_the_point_columns(hotspots_web: Any, monkeypatch: Any) -> None:
    platform, kiosk, _api = hotspots_web
    _plant_city(platform, utcnow())
    seen: list[str] = []

    def capture(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    engine = platform.factory.kw["bind"]
    for cap in (ticket_points.CAP, 5):
        monkeypatch.setattr(ticket_points, "CAP", cap)
        event.listen(engine, "before_cursor_execute", capture)
        try:
            assert get(platform, "/api/v1/hotspots?window=7d", kiosk).status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", capture)
    point_queries = [q for q in seen if "FROM tickets" in q]
    assert len(point_queries) >= 4
    for q in point_queries:
        select_list = q.split("FROM tickets")[0]
        for column in ("content", "title", "citizen_name", "citizen_phone", "address"):
            assert f"tickets.{column}" not in select_list, q
    assert any("GROUP BY" in q for q in point_queries), "beyond the cap the database groups the points"
