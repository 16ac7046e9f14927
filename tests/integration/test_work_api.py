"""The work through the REST API alone, with a token per role: the whole loop, every write
endpoint's refusals (enumerated from the OpenAPI document, so a new one cannot escape), and
no citizen's name or phone in anything but the audited reveal."""
from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import datetime
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from dashboard.read_models.ticket import page
from tests.helpers import ApiWorld, api_world, new_request
from tickets import services, sla
from tickets.config import SHANGHAI
from tickets.models import PersonalDataReveal, Ticket, TicketEvent, User, utcnow
from tickets.roles import actor_for
from tickets.uow import unit_of_work

SMS = "work-api-sms"
NAME, PHONE = "张三", "13812345678"  # new_request's citizen
# POSTs with an authentication of their own (a channel's signature, the gateway's secret): not a user's step.
NOT_A_USERS_STEP = {"/intake/hotline", "/intake/hotline/{source_name}", "/sms/inbound"}


@pytest.fixture
def world(tmp_path: Path, pg_url: str) -> Iterator[ApiWorld]:
    for w in api_world(tmp_path, database_url=pg_url, sms_inbound_secret=SMS):
        w.add_person("dispatcher", "dispatcher", "JN-PTB")
        w.add_person("other", "handler", "JN-LX-01")
        yield w


def ticket_at_station(world: ApiWorld) -> str:
    """A new ticket at the api world's handler's station (JN-TQ-01), as a source that routes would send it."""
    with unit_of_work(world.platform.factory) as s:
        request = replace(new_request(utcnow(), external_id=f"API-{utcnow().timestamp()}"), unit_code="JN-TQ-01")
        return services.receive_one(s, request, now=utcnow()).number


def act(world: ApiWorld, who: str, number: str, step: str, **body: Any) -> Any:
    response = world.post(f"/api/v1/tickets/{number}/{step}", who, json=body)
    assert response.status_code == 200, (step, who, response.get_json())
    return response.get_json()


def test_the_whole_loop_through_the_api(world: ApiWorld) -> None:
    number = ticket_at_station(world)
    ticket = act(world, "handler", number, "return", reason="不属于本所辖区，应由泺口所办理")
    assert ticket["status"] == "returned" and ticket["allowed_steps"] == []
    queue = world.get("/api/v1/queues/dispatch", "dispatcher").get_json()
    assert number in [r["number"] for r in queue["rows"]]
    act(world, "dispatcher", number, "dispatch", unit="JN-TQ-01", note="请办理")
    assert number in [r["number"] for r in world.get("/api/v1/queues/desk", "handler").get_json()["rows"]]
    assert number not in [r["number"] for r in world.get("/api/v1/queues/desk", "other").get_json()["rows"]]
    for step, body in (("accept", {}), ("contact", {"note": "已电话联系"}), ("report", {"result": "已处理"})):
        act(world, "handler", number, step, **body)
    act(world, "dispatcher", number, "send_back", reason="未说明整改措施")
    act(world, "handler", number, "report", result="已处理，并约定每晚巡查")
    act(world, "dispatcher", number, "approve")
    replied = act(world, "dispatcher", number, "reply", text="您反映的问题已处理。")
    assert replied["status"] == "replied"
    answer = world.platform.server.test_client().post(
        "/api/v1/sms/inbound", data={"phone": PHONE, "text": "1"}, headers={"X-Minsheng-Sms-Secret": SMS})
    assert answer.get_json()["status"] == "closed"
    events = world.get(f"/api/v1/tickets/{number}/events?limit=100", "handler").get_json()["items"]
    kinds = [e["kind"] for e in events if e["kind"] in ("received", "dispatched", "return", "accept", "contact",
                                                       "report", "send_back", "approve", "reply", "close")]
    assert kinds == ["received", "dispatched", "return", "dispatched", "accept", "contact", "report", "send_back",
                     "report", "approve", "reply", "close"]
    actors = {e["kind"]: e["actor"] for e in events}
    assert actors["return"] == "handler" and actors["send_back"] == "dispatcher" and actors["close"] == "system"
    # The ticket page's timeline has the SMS beside the steps: the follow-up out, the answer in.
    timeline = world.get(f"/api/v1/tickets/{number}", "handler").get_json()["timeline"]
    kinds = [e["kind"] for e in timeline]
    assert kinds.index("reply") < kinds.index("sms_out") < kinds.index("sms_in") <= kinds.index("close")
    assert PHONE not in json.dumps(timeline)  # the answer's sender is masked


def _operations(world: ApiWorld) -> list[tuple[str, dict[str, Any]]]:
    document = world.get("/api/v1/openapi.json", None).get_json()
    return [(path, spec["post"]) for path, spec in document["paths"].items()
            if "post" in spec and path not in NOT_A_USERS_STEP]


def _body(operation: dict[str, Any], **more: Any) -> dict[str, Any]:
    """A plausible body: each required field filled by its type."""
    schema = ((operation.get("requestBody") or {}).get("content", {}).get("application/json", {}).get("schema") or {})
    fill = {"string": "核实", "number": 2, "integer": 1, "boolean": True}
    body = {name: fill.get(prop.get("type"), "x") for name, prop in schema.get("properties", {}).items()
            if name in schema.get("required", [])}
    return {**body, **more}


def test_every_write_endpoint_refuses_the_wrong_people_a_stale_copy_and_a_repeat(world: ApiWorld) -> None:
    number = ticket_at_station(world)
    with unit_of_work(world.platform.factory) as s:
        order = services.issue_supervision_order(s, services.SYSTEM, number)
        order_number = order.number
    operations = _operations(world)
    assert len(operations) >= 20  # the steps, suggestions, orders, alerts, supervision, reveal
    ids = {"number": number, "order_number": order_number, "suggestion_id": "1", "alert_id": "1"}
    for path, operation in operations:
        url = "/api/v1" + re.sub(r"\{(\w+)\}", lambda m: ids[m.group(1)], path)
        body = _body(operation)
        for who in ("viewer", "kiosk"):
            refused = world.post(url, who, json=body)
            assert refused.status_code == 403, (path, who, refused.status_code)
        other = world.post(url, "other", json=body)
        assert other.status_code in (403, 404), (path, "other station", other.status_code)
        if "{number}" in path and "version" in json.dumps(operation.get("requestBody") or {}):
            stale = world.post(url, "admin", json=_body(operation, version=999))
            assert stale.status_code == 409 and stale.get_json()["error"]["code"] == "stale_version", path
            assert stale.get_json()["error"]["params"]["ticket"]["number"] == number
        with world.platform.factory() as s:
            before = s.scalar(select(func.count()).select_from(TicketEvent))
        key = {"Idempotency-Key": f"repeat-{path}"}
        first = world.post(url, "admin", json=body, headers=key)
        with world.platform.factory() as s:
            between = s.scalar(select(func.count()).select_from(TicketEvent))
        again = world.post(url, "admin", json=body, headers=key)
        with world.platform.factory() as s:
            after = s.scalar(select(func.count()).select_from(TicketEvent))
        assert (again.status_code, again.get_json()) == (first.status_code, first.get_json()), path
        assert after == between, f"{path}: the repeat changed something"
        assert first.status_code < 500 and before <= between


def test_no_name_or_phone_outside_the_audited_reveal(world: ApiWorld) -> None:
    number = ticket_at_station(world)
    act(world, "handler", number, "accept")
    seen = []
    for path, who in (("/api/v1/tickets", "admin"), ("/api/v1/queues/desk", "handler"),
                      ("/api/v1/queues/dispatch", "dispatcher"), (f"/api/v1/tickets/{number}", "handler"),
                      (f"/api/v1/tickets/{number}/events", "handler"), ("/api/v1/supervision/orders", "admin")):
        response = world.get(path, who)
        assert response.status_code == 200, path
        seen.append(json.dumps(response.get_json(), ensure_ascii=False))  # as the words, not \\u escapes
    text = "\n".join(seen)
    assert PHONE not in text and NAME not in text
    assert "张*" in text and "138****5678" in text  # masked, as the screens show it
    # The reveal: the handling unit's officer yes, audited; another station's no; a viewer no.
    revealed = world.post(f"/api/v1/tickets/{number}/reveal", "handler")
    assert revealed.status_code == 200 and revealed.get_json() == {"name": NAME, "phone": PHONE}
    assert revealed.headers["Cache-Control"] == "no-store"
    assert world.post(f"/api/v1/tickets/{number}/reveal", "other").status_code == 404
    assert world.post(f"/api/v1/tickets/{number}/reveal", "viewer").status_code == 403
    with world.platform.factory() as s:
        audit = s.scalars(select(PersonalDataReveal)).all()
    assert [(r.actor, r.remote_addr is not None) for r in audit] == [("handler", True)]
    listed = world.get(f"/api/v1/tickets/{number}/reveals", "admin").get_json()["items"]
    assert [r["actor"] for r in listed] == ["handler"]
    assert world.get(f"/api/v1/tickets/{number}/reveals", "handler").status_code == 403


def test_compression_for_a_client_that_asks(world: ApiWorld) -> None:
    """A desk's first page carries every row: a browser asking for gzip gets it, the same JSON
    inside; a client asking for nothing gets the body as is."""
    import gzip

    for _ in range(3):
        ticket_at_station(world)
    plain = world.get("/api/v1/queues/desk", "handler", **{"Accept-Encoding": "identity"})
    packed = world.get("/api/v1/queues/desk", "handler", **{"Accept-Encoding": "gzip"})
    assert plain.status_code == packed.status_code == 200
    assert "Content-Encoding" not in plain.headers
    assert packed.headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in packed.headers["Vary"]
    rows = json.loads(gzip.decompress(packed.data))["rows"]
    assert len(rows) == 3 and rows == plain.get_json()["rows"]
    assert len(packed.data) < len(plain.data)


def test_a_screen_row_is_the_api_row_without_the_instants(world: ApiWorld) -> None:
    """The desk's rows (read as plain columns, for speed) say what the API's ticket list says of
    the same tickets, less ``SCREEN_LEAVES_OUT``: the two readings cannot drift apart."""
    from dashboard.read_models.queues import SCREEN_LEAVES_OUT

    numbers = {ticket_at_station(world) for _ in range(3)}
    screen = {r["number"]: r for r in world.get("/api/v1/queues/desk", "handler").get_json()["rows"]}
    listed = {r["number"]: r for r in world.get("/api/v1/tickets?status=dispatched", "handler").get_json()["items"]}
    assert numbers <= set(screen) and numbers <= set(listed)
    for number in numbers:
        assert set(listed[number]) - set(screen[number]) == SCREEN_LEAVES_OUT
        assert screen[number] == {k: v for k, v in listed[number].items() if k not in SCREEN_LEAVES_OUT}


def test_the_ticket_page_says_when_the_resolve_clock_stands_still(world: ApiWorld) -> None:
    """Both clocks on the ticket page, each saying whether it counts now: the contact clock on
    the wall clock, the resolve clock in working time only (08:30–12:00, 13:30–17:30)."""
    number = ticket_at_station(world)
    with unit_of_work(world.platform.factory) as s:
        ticket = s.scalars(select(Ticket).where(Ticket.number == number)).one()
        actor = actor_for(s, s.scalars(select(User).where(User.username == "handler")).one())
        clocks = {}
        for label, at in (("working", datetime(2026, 12, 2, 10, 0, tzinfo=SHANGHAI)),
                          ("lunch", datetime(2026, 12, 2, 12, 30, tzinfo=SHANGHAI)),
                          ("night", datetime(2026, 12, 2, 23, 0, tzinfo=SHANGHAI)),
                          ("sunday", datetime(2026, 12, 6, 10, 0, tzinfo=SHANGHAI))):
            clocks[label] = {c["name"]: c for c in page(s, actor, ticket, at, SHANGHAI)["clocks"]}
    assert all(c["contact"]["running"] for c in clocks.values())  # day and night
    assert clocks["working"]["resolve"]["running"] and not clocks["working"]["resolve"]["off_hours"]
    for label in ("lunch", "night", "sunday"):
        assert clocks[label]["resolve"]["off_hours"] and not clocks[label]["resolve"]["running"], label
    document = world.get(f"/api/v1/tickets/{number}", "handler").get_json()
    assert {c["name"] for c in document["clocks"]} == {"contact", "resolve"}


def test_each_deadline_in_the_timeline_names_the_rules_that_set_it(world: ApiWorld) -> None:
    number = ticket_at_station(world)
    with unit_of_work(world.platform.factory) as s:
        ticket = s.scalars(select(Ticket).where(Ticket.number == number)).one()
        fingerprint = sla.policy_for(ticket.topic, ticket.channel).version
        version = f"v1 ({fingerprint})"  # the policy file is version 1 while no other is stored
        due = ticket.resolve_due_at
    dispatched = next(e for e in world.get(f"/api/v1/tickets/{number}", "handler").get_json()["timeline"]
                      if e["kind"] == "dispatched")
    deadlines = dispatched["data"]["deadlines"]
    assert deadlines["basis"] == "dispatch" and deadlines["policy"] == version and len(fingerprint) == 8
    assert datetime.fromisoformat(deadlines["resolve_due_at"]) == due
    # An approved extension moves the resolve deadline, and says by which rules.
    act(world, "handler", number, "request_extension", hours=4, reason="需调取监控")
    decided = world.post(f"/api/v1/tickets/{number}/decide_extension", "admin",
                         json={"approve": True})
    assert decided.status_code == 200, decided.get_json()
    moved = [e["data"]["deadlines"] for e in world.get(f"/api/v1/tickets/{number}", "handler").get_json()["timeline"]
             if e["kind"] == "extension_decided"]
    assert moved and moved[0]["basis"] == "extension" and moved[0]["policy"] == version
    assert datetime.fromisoformat(moved[0]["resolve_due_at"]) > due and "contact_due_at" not in moved[0]
