"""The figures API: definitions on a planted case, validation, scope and ranking rules."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.helpers import TZ, new_request
from tickets import accounts, lifecycle, services
from tickets.uow import unit_of_work

MONDAY = datetime(2026, 11, 23, 9, 0, tzinfo=TZ)

pytestmark = pytest.mark.platform_settings(ranking_min_tickets=2)  # so two tickets make a unit ranked


@pytest.fixture
def figures_api(jinan_platform: Any) -> tuple[Any, Any, dict[str, str], dict[str, str]]:
    """``jinan_platform``, its test client, and the headers of an admin and of a handler at JN-TQ-01."""
    platform = jinan_platform
    with unit_of_work(platform.factory) as s:
        admin = accounts.create_user(s, "fadmin", "李建国", "910001", "JN-PTB", "admin", "figures-api-2026")
        handler = accounts.create_user(s, "fhandler", "赵志强", "910002", "JN-TQ-01", "handler", "figures-api-2026")
        tokens = (accounts.issue_token(s, "api", admin), accounts.issue_token(s, "api", handler))
    return (platform, platform.server.test_client(), {"Authorization": f"Bearer {tokens[0]}"},
            {"Authorization": f"Bearer {tokens[1]}"})


def plant(platform: Any) -> None:
    """Four tickets at 泉城路 (历下): one on time, one late, one open past its deadline, one open in time."""
    with unit_of_work(platform.factory) as s:
        tickets = [services.receive_one(s, new_request(MONDAY + timedelta(minutes=i), lat=36.6616, lon=117.0200),
                                        now=MONDAY)
                   for i in range(4)]
        on_time, late, overdue, _fresh = tickets
        lifecycle.contact(s, on_time, MONDAY + timedelta(minutes=10))
        lifecycle.contact(s, late, MONDAY + timedelta(hours=2))  # contact 2 h after: late
        lifecycle.contact(s, overdue, MONDAY + timedelta(minutes=30))
        for step in (lifecycle.report, lifecycle.approve, lifecycle.reply):
            step(s, on_time, MONDAY + timedelta(hours=3))
            step(s, late, MONDAY + timedelta(days=2))
        lifecycle.close(s, on_time, MONDAY + timedelta(hours=3))
        lifecycle.close(s, late, MONDAY + timedelta(days=2))  # after its one-working-day deadline
    platform.test_now = MONDAY + timedelta(days=3)


def get(client: Any, headers: dict[str, str], query: str, now: datetime) -> Any:
    import dashboard.api.figures as api_figures

    real = api_figures.utcnow
    api_figures.utcnow = lambda: now
    try:
        return client.get(query, headers=headers)
    finally:
        api_figures.utcnow = real


def test_figures_follow_their_definitions(figures_api: Any) -> None:
    platform, client, admin, _ = figures_api
    plant(platform)
    r = get(client, admin, "/api/v1/figures?from=2026-11-23&to=2026-11-23&unit=JN-LX", platform.test_now)
    assert r.status_code == 200, r.json
    f = r.json
    assert f["received"] == 4 and f["intake_records"] == 4 and f["duplicate_rate"] == 0
    assert f["direct_dispatch_rate"] == 1.0
    # Contact deadlines have all passed; 2 of the 3 contacted were on time, one never contacted.
    assert f["response_rate"] == 2 / 4
    # All four are due three days later; two closed, one of them on time.
    assert f["completion_rate"] == 2 / 4 and f["on_time_rate"] == 1 / 4
    assert f["satisfaction_rate"] is None  # no follow-up answered: a rate without a denominator is null
    assert f["breaches_now"] == 2
    assert f["handling_hours_median"] is not None and f["handling_hours_mean"] > 0


def test_bad_requests_are_refused_with_the_reason(figures_api: Any) -> None:
    _platform, client, admin, _ = figures_api
    cases = {
        "/api/v1/figures?from=2026-13-01": (400, "invalid_date", "from"),
        "/api/v1/figures?from=0001-01-01": (400, "out_of_range", "from"),
        "/api/v1/figures?from=2026-11-23&to=2026-11-01": (400, "range_order", "to"),
        "/api/v1/figures?unit=NOPE": (404, "unknown_unit", None),
        "/api/v1/figures?from=2026-11-01&to=2026-11-02&source=live": (400, "live_today_only", "source"),
        "/api/v1/figures?source=csv": (400, "not_one_of", "source"),
        "/api/v1/figures/units?level=4": (400, "not_one_of", "level"),
    }
    for query, (status, code, field) in cases.items():
        r = client.get(query, headers=admin)
        error = r.json["error"]
        assert (r.status_code, error["status"], error["code"], error.get("field")) == (status, status, code, field), \
            (query, r.json)
    assert client.get("/api/v1/figures").status_code == 401


def test_a_handler_sees_only_their_own_unit(figures_api: Any) -> None:
    platform, client, _, handler = figures_api
    plant(platform)
    r = get(client, handler, "/api/v1/figures?from=2026-11-23&to=2026-11-23&unit=JN-LX", platform.test_now)
    assert r.status_code == 403 and r.json["error"]["code"] == "outside_scope"
    own = get(client, handler, "/api/v1/figures?from=2026-11-23&to=2026-11-23", platform.test_now).json
    assert own["unit"] == "JN-TQ-01" and own["received"] == 0
    ranking = get(client, handler, "/api/v1/figures/units?from=2026-11-23&to=2026-11-23", platform.test_now).json
    assert [u["unit"] for u in ranking["units"]] == ["JN-TQ-01"]


def test_units_below_the_minimum_are_listed_but_not_ranked(figures_api: Any) -> None:
    platform, client, admin, _ = figures_api
    plant(platform)
    with unit_of_work(platform.factory) as s:  # one lucky ticket at 泺口 (天桥), closed on time
        t = services.receive_one(s, new_request(MONDAY, lat=36.7005, lon=116.9950, district="天桥区"), now=MONDAY)
        lifecycle.contact(s, t, MONDAY + timedelta(minutes=5))
        for step in (lifecycle.report, lifecycle.approve, lifecycle.reply, lifecycle.close):
            step(s, t, MONDAY + timedelta(hours=1))
        lucky = t.unit.code
    body = get(client, admin, "/api/v1/figures/units?from=2026-11-23&to=2026-11-23", platform.test_now).json
    rows = {u["unit"]: u for u in body["units"]}
    assert rows[lucky]["received"] == 1 and rows[lucky]["rank"] is None
    assert "fewer than 2" in rows[lucky]["unranked_reason"]
    ranked = [u for u in body["units"] if u["rank"] is not None]
    assert [u["rank"] for u in ranked] == list(range(1, len(ranked) + 1))
    assert ranked and all(u["received"] >= 2 for u in ranked)
