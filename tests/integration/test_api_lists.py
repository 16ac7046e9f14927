"""Every list of the API pages by cursor (keyset in SQL), and the resources the serializers describe."""
from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select

from dashboard.api import pagination
from tests.helpers import ApiWorld
from tests.helpers import api_world as build_api_world
from tests.helpers import TZ, new_request
from tickets import lifecycle, supervision
from tickets.uow import unit_of_work
from tickets import services
from tickets.models import Alert, ApiToken, Unit, utcnow


def walk(world: ApiWorld, path: str, who: str = "admin", limit: int = 2) -> list[list[dict[str, Any]]]:
    """Every page of a list, following next_cursor."""
    pages: list[list[dict[str, Any]]] = []
    cursor: str | None = None
    sep = "&" if "?" in path else "?"
    while True:
        query = f"{path}{sep}limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        body = world.get(query, who).get_json()
        assert set(body) >= {"items", "next_cursor"}, body
        pages.append(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 100, "the cursor does not move"


def add_alerts(world: ApiWorld, n: int, start: datetime, unit: str = "JN-LX") -> None:
    with unit_of_work(world.platform.factory) as s:
        unit_id = s.scalar(select(Unit.id).where(Unit.code == unit))
        for i in range(n):
            # Pairs share a last_seen_at: the id must break the tie without repeating or losing a row.
            at = start + timedelta(minutes=i // 2)
            s.add(Alert(key=f"test-{start.isoformat()}-{i}", kind="surge", topic="noise", area_kind="district",
                        area="历下区", area_name="历下区", unit_id=unit_id, count=10 + i, reason="test",
                        status="open", first_seen_at=at, last_seen_at=at))


def tickets_with_orders(world: ApiWorld, n: int) -> list[str]:
    numbers = []
    now = utcnow()
    for i in range(n):
        with unit_of_work(world.platform.factory) as s:
            numbers.append(services.receive_one(s, new_request(now - timedelta(hours=3, minutes=i)), now=now).number)
        made = world.post(f"/api/v1/tickets/{numbers[-1]}/supervision", "duty", json={"note": f"第{i}张"})
        assert made.status_code == 201, made.get_json()
    return numbers


# ------------------------------------------------------------ paging
def test_alerts_page_newest_first_without_repeats_or_gaps(api_world: ApiWorld) -> None:
    world = api_world
    add_alerts(world, 7, utcnow() - timedelta(hours=1))
    pages = walk(world, "/api/v1/alerts")
    assert [len(p) for p in pages] == [2, 2, 2, 1]
    ids = [a["id"] for p in pages for a in p]
    every = world.get("/api/v1/alerts?limit=500").get_json()
    assert ids == [a["id"] for a in every["items"]] and len(set(ids)) == 7 and every["next_cursor"] is None
    seen = [(a["last_seen_at"], a["id"]) for p in pages for a in p]
    assert seen == sorted(seen, reverse=True)
    assert world.get("/api/v1/alerts?limit=2").get_json()["count"] == 2


def test_pages_on_postgresql_agree_with_the_whole_list(tmp_path: Path, pg_url: str) -> None:
    for world in build_api_world(tmp_path, pg_url):
        add_alerts(world, 5, utcnow() - timedelta(hours=1))
        tickets_with_orders(world, 3)
        for path, who in (("/api/v1/alerts", "admin"), ("/api/v1/supervision/orders", "duty")):
            paged = [row for p in walk(world, path, who) for row in p]
            assert paged == world.get(f"{path}?limit=500", who).get_json()["items"] and len(paged) in (3, 5)


def test_a_row_added_between_pages_neither_repeats_nor_shifts_the_rest(api_world: ApiWorld) -> None:
    world = api_world
    add_alerts(world, 4, utcnow() - timedelta(hours=2))
    first = world.get("/api/v1/alerts?limit=2").get_json()
    add_alerts(world, 1, utcnow())  # newer than everything: belongs before page one
    rest = world.get(f"/api/v1/alerts?limit=2&cursor={first['next_cursor']}").get_json()
    ids = [a["id"] for a in first["items"] + rest["items"]]
    assert len(set(ids)) == 4 and rest["next_cursor"] is None  # with OFFSET, page two would repeat a row


def test_orders_and_users_and_tokens_page_in_their_order(api_world: ApiWorld) -> None:
    world = api_world
    numbers = tickets_with_orders(world, 5)
    pages = walk(world, "/api/v1/supervision/orders?status=open", "duty")
    orders = [o for p in pages for o in p]
    assert sorted(o["ticket_number"] for o in orders) == sorted(numbers)
    assert [o["due_at"] for o in orders] == sorted(o["due_at"] for o in orders)
    users = [u["username"] for p in walk(world, "/api/v1/users", limit=3) for u in p]
    assert users == ["admin", "duty", "viewer", "handler"]
    tokens = [t for p in walk(world, "/api/v1/tokens", limit=3) for t in p]
    assert [t["owner"] for t in tokens] == ["admin", "duty", "viewer", "handler", None]
    assert tokens[-1]["kind"] == "kiosk" and tokens[0]["label"] == "admin token"
    text = json.dumps(world.get("/api/v1/tokens").get_json())
    assert not any(secret in text for secret in world.tokens.values()) and "hash" not in text
    with world.platform.factory() as s:
        assert not any(h in text for h in s.scalars(select(ApiToken.token_hash)))


def test_pages_are_keyset_queries_not_offsets(api_world: ApiWorld) -> None:
    world = api_world
    add_alerts(world, 3, utcnow() - timedelta(hours=1))
    cursor = world.get("/api/v1/alerts?limit=1").get_json()["next_cursor"]
    statements: list[tuple[str, Any]] = []
    engine = world.platform.factory.kw["bind"]

    def record(conn: Any, cur: Any, statement: str, parameters: Any, *args: Any) -> None:
        statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        assert len(world.get(f"/api/v1/alerts?limit=1&cursor={cursor}").get_json()["items"]) == 1
    finally:
        event.remove(engine, "before_cursor_execute", record)
    [(listing, parameters)] = [(s, p) for s, p in statements if "FROM alerts" in s]
    assert "alerts.last_seen_at <" in listing and "alerts.id <" in listing and "LIMIT" in listing
    assert "OFFSET" not in listing or listing.endswith("LIMIT ? OFFSET ?") and parameters[-1] == 0  # SQLite's form


@pytest.mark.parametrize("query, code", [
    ("limit=0", "out_of_range"), ("limit=501", "out_of_range"), ("limit=ten", "not_integer"),
])
def test_a_bad_limit_is_a_400_naming_it(api_world: ApiWorld, query: str, code: str) -> None:
    world = api_world
    error = world.get(f"/api/v1/users?{query}").get_json()["error"]
    assert (error["status"], error["code"], error["field"]) == (400, code, "limit")


def _cursor(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


@pytest.mark.parametrize("cursor", [
    "not-a-cursor!", "%00", _cursor({"id": 1}), _cursor([1]), _cursor(["2026-01-01T00:00:00+00:00"]),
    _cursor(["2026-01-01T00:00:00", 3]),  # a time without its zone
    _cursor(["0001-01-01T00:00:00+08:00", 3]),  # before the start of time once in UTC
    _cursor(["2026-01-01T00:00:00+00:00", 2**70]),  # beyond the database's integers
    _cursor(["2026-01-01T00:00:00+00:00", True]), _cursor(["2026-01-01T00:00:00+00:00", "3"]),
    base64.urlsafe_b64encode(b"\xff\xfe").decode(),
])
def test_a_tampered_cursor_is_a_400_not_a_500(api_world: ApiWorld, cursor: str) -> None:
    world = api_world
    response = world.get(f"/api/v1/alerts?cursor={cursor}")
    assert response.status_code == 400, response.get_json()
    assert response.get_json()["error"]["code"] == "invalid_cursor"
    assert response.get_json()["error"]["field"] == "cursor"


def test_a_cursor_is_opaque_url_safe_text() -> None:
    keys = (pagination.Key(Alert.last_seen_at, descending=True), pagination.Key(Alert.id, descending=True))
    at = datetime(2026, 11, 23, 9, 30, tzinfo=TZ)
    cursor = pagination.encode([at, 42])
    assert set(cursor) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert pagination.decode(cursor, keys) == [at, 42]


# ----------------------------------------------------------- tickets
def test_a_ticket_and_its_timeline_never_name_the_citizen(api_world: ApiWorld) -> None:
    world = api_world
    now = utcnow()
    with unit_of_work(world.platform.factory) as s:
        ticket = services.receive_one(s, new_request(now - timedelta(hours=1), phone="13912345678"), now=now - timedelta(hours=1))
        lifecycle.contact(s, ticket, now - timedelta(minutes=30), note="已电话联系")
        number, unit = ticket.number, ticket.unit.code
    body = world.get(f"/api/v1/tickets/{number}", "viewer").get_json()
    assert body["number"] == number and body["unit_code"] == unit and body["status"] == "contacted"
    timeline = walk(world, f"/api/v1/tickets/{number}/events", "viewer", limit=1)
    kinds = [e["kind"] for p in timeline for e in p]
    assert kinds[-1] == "contact" and len(kinds) >= 3
    assert [e["at"] for p in timeline for e in p] == sorted(e["at"] for p in timeline for e in p)
    for path in (f"/api/v1/tickets/{number}", f"/api/v1/tickets/{number}/events?limit=500"):
        text = world.get(path, "admin").get_data(as_text=True)
        assert "13912345678" not in text and "张三" not in text
    # Outside the caller's units it does not exist; kiosks do not read tickets here.
    assert world.get(f"/api/v1/tickets/{number}", "handler").get_json()["error"]["code"] == "unknown_ticket"
    assert world.get(f"/api/v1/tickets/{number}/events", "handler").status_code == 404
    assert world.get(f"/api/v1/tickets/{number}", "kiosk").status_code == 403
    assert world.get("/api/v1/tickets/" + "M" * 40, "admin").status_code == 404


def test_reminder_letters_list_in_scope_newest_first(api_world: ApiWorld) -> None:
    world = api_world
    now = utcnow()
    with unit_of_work(world.platform.factory) as s:
        lx = s.scalar(select(Unit).where(Unit.code == "JN-LX-01"))
        tq = s.scalar(select(Unit).where(Unit.code == "JN-TQ-01"))
        for i, (unit, reason) in enumerate([(lx, "unsatisfied"), (tq, "repeated"), (lx, "leader_instruction")]):
            supervision.issue_reminder_letter(s, unit, now - timedelta(hours=3 - i), reason=reason, text=f"提醒{i}")
    every = [letter for p in walk(world, "/api/v1/supervision/letters", "duty", limit=2) for letter in p]
    assert [letter["text"] for letter in every] == ["提醒2", "提醒1", "提醒0"]
    assert every[0]["reason_label"] == "领导批示" and every[0]["ticket_number"] is None
    lixia = world.get("/api/v1/supervision/letters", "viewer").get_json()  # 历下分局: its stations only
    assert [letter["unit_code"] for letter in lixia["items"]] == ["JN-LX-01", "JN-LX-01"]
    assert world.get("/api/v1/supervision/letters?reason=repeated", "duty").get_json()["count"] == 1
    assert world.get("/api/v1/supervision/letters?unit=JN-TQ-01", "viewer").status_code == 404
