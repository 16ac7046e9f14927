"""三级回访 (tickets/followup.py): SMS out, reply in, escalation to the right people, phone tasks.

SQLite in memory, the small bureau of tests/helpers.py plus the supervision
units (督察、法制、信访) and one user per role that matters here (helpers.add_people);
on PostgreSQL too: tests/integration/test_followup_each_db.py.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

import settings as settings_module
from tests.helpers import MONDAY_9, PHONE, FollowupWorld, handled, inbound, recipients, reply
from tickets import followup, lifecycle, sms
from tickets.errors import IllegalStep
from tickets.followup import parse_answer
from tickets.models import FollowUp, Notification, SmsMessage, Ticket
from tickets.uow import unit_of_work


# ----------------------------------------------------------------- the three levels
def test_satisfied_closes_and_findings_are_only_for_level_three(followup_world: FollowupWorld) -> None:
    world = followup_world
    tid = handled(world, MONDAY_9)
    reply(world, tid, MONDAY_9 + timedelta(hours=2))
    with unit_of_work(world.factory) as s:
        with pytest.raises(IllegalStep) as refused:
            followup.close_with_findings(s, s.get(Ticket, tid), MONDAY_9 + timedelta(hours=3),
                                         world.actor(s, "inspector"), "结论")
        assert refused.value.code == "findings_level" and refused.value.params["level"] == 1
    assert inbound(world, "基本满意", MONDAY_9 + timedelta(hours=3)) == "closed"
    with world.factory() as s:
        ticket = s.get(Ticket, tid)
        assert (ticket.status, ticket.satisfaction, ticket.escalation_level) == ("closed", "basically_satisfied", 1)
        assert s.scalar(select(func.count()).select_from(Notification)) == 0
    # A second answer finds nothing open: recorded and otherwise ignored.
    assert inbound(world, "3", MONDAY_9 + timedelta(hours=4)) == "no_follow_up"


# ------------------------------------------------------------------- parsing
@pytest.mark.parametrize("text, answer", [
    ("1", "satisfied"), ("２", "basically_satisfied"), ("3", "unsatisfied"), (" 1 ", "satisfied"),
    ("１。", "satisfied"), ("满意", "satisfied"), ("基本满意", "basically_satisfied"), ("不满意", "unsatisfied"),
    ("不满意！", "unsatisfied"), ("非常满意", "satisfied"), ("不太满意", "unsatisfied"),
    ("很不满意，问题没解决", "unsatisfied"), ("3 不满意", "unsatisfied"), ("1满意，谢谢", "satisfied"),
    ("比较满意", "basically_satisfied"), ("2基本满意", "basically_satisfied"),
    ("你好", None), ("", None), ("12", None), ("4", None), ("13812345678", None), ("1不满意", None), ("？？", None),
])
def test_reply_parsing(text: str, answer: str | None) -> None:
    assert parse_answer(text) == answer


def test_unknown_phone_is_recorded_and_ignored(followup_world: FollowupWorld, caplog: pytest.LogCaptureFixture) -> None:
    world = followup_world
    with caplog.at_level("INFO", logger="tickets.followup"):
        assert inbound(world, "1", MONDAY_9, phone="13900001111") == "unknown_phone"
    with world.factory() as s:
        rows = s.scalars(select(SmsMessage)).all()
        assert [(m.direction, m.phone, m.status) for m in rows] == [("in", "13900001111", "unknown_phone")]
    assert "139****1111" in caplog.text and "13900001111" not in caplog.text


def test_no_phone_number_goes_straight_to_a_phone_task(followup_world: FollowupWorld) -> None:
    world = followup_world
    tid = handled(world, MONDAY_9, phone=None)
    reply(world, tid, MONDAY_9 + timedelta(hours=2))
    with world.factory() as s:
        fu = s.scalar(select(FollowUp).where(FollowUp.ticket_id == tid))
        assert (fu.method, fu.status) == ("phone", "waiting")
        assert s.scalar(select(func.count()).select_from(SmsMessage)) == 0
        assert recipients(s, tid, "follow_up_phone_task") == {("JN-PTB", None, None)}


# ---------------------------------------------------------- 48 hours → a phone call
def test_a_late_sms_answer_settles_the_phone_task(followup_world: FollowupWorld) -> None:
    world = followup_world
    tid = handled(world, MONDAY_9)
    reply(world, tid, MONDAY_9 + timedelta(hours=2))
    with unit_of_work(world.factory) as s:
        followup.sweep(s, MONDAY_9 + timedelta(days=3))
    assert inbound(world, "2", MONDAY_9 + timedelta(days=3, hours=1)) == "closed"
    with world.factory() as s:
        rows = s.scalars(select(FollowUp).where(FollowUp.ticket_id == tid).order_by(FollowUp.id)).all()
        assert [(f.method, f.status) for f in rows] == [("sms", "answered"), ("phone", "cancelled")]


def test_closing_by_hand_cancels_the_waiting_follow_up(followup_world: FollowupWorld) -> None:
    world = followup_world
    tid = handled(world, MONDAY_9)
    reply(world, tid, MONDAY_9 + timedelta(hours=2))
    with unit_of_work(world.factory) as s:
        lifecycle.close(s, s.get(Ticket, tid), MONDAY_9 + timedelta(hours=3), world.actor(s, "admin"))
    with world.factory() as s:
        assert s.scalar(select(FollowUp.status).where(FollowUp.ticket_id == tid)) == "cancelled"
    assert inbound(world, "1", MONDAY_9 + timedelta(hours=4)) == "no_follow_up"


def test_a_rolled_back_reply_sends_nothing_through_a_deferred_gateway(followup_world: FollowupWorld) -> None:
    world = followup_world
    sent: list[tuple[str, str]] = []

    class Deferred:
        name, deferred = "fake-http", True

        def send(self, phone: str, text: str) -> str:
            sent.append((phone, text))
            return "m1"

    world.reconfigure(gateway=Deferred())
    tid = handled(world, MONDAY_9)
    with pytest.raises(RuntimeError):
        with unit_of_work(world.factory) as s:
            lifecycle.reply(s, s.get(Ticket, tid), MONDAY_9 + timedelta(hours=2))
            raise RuntimeError("crash before commit")
    assert followup.deliver_queued(world.factory) == {"sent": 0, "failed": 0} and sent == []
    reply(world, tid, MONDAY_9 + timedelta(hours=2))
    with world.factory() as s:
        assert s.scalar(select(SmsMessage.status)) == "queued"
    assert followup.deliver_queued(world.factory) == {"sent": 1, "failed": 0}
    assert len(sent) == 1 and sent[0][0] == PHONE
    assert followup.deliver_queued(world.factory) == {"sent": 0, "failed": 0}  # once


def test_http_gateway_posts_json_after_commit_and_retries_when_down(followup_world: FollowupWorld,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    world = followup_world
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    received: list[dict[str, Any]] = []
    state = {"up": False}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if not state["up"]:
                self.send_response(503)
                self.end_headers()
                return
            received.append({"body": body, "auth": self.headers.get("Authorization")})
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(json.dumps({"message_id": f"gw-{len(received)}"}).encode())

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        cfg = settings_module.load(environ={}, sms_gateway="http", sms_gateway_token="tok",
                                   sms_gateway_url=f"http://127.0.0.1:{server.server_port}/sms")
        world.reconfigure(cfg)
        with world.factory() as s:
            assert isinstance(s.config.follow_up.gateway, sms.HttpGateway)
        tid = handled(world, MONDAY_9)
        reply(world, tid, MONDAY_9 + timedelta(hours=2))
        with caplog.at_level("WARNING", logger="tickets.followup"):
            assert followup.deliver_queued(world.factory) == {"sent": 0, "failed": 1}  # gateway down
        assert "138****5678" in caplog.text and PHONE not in caplog.text
        with world.factory() as s:
            assert s.scalar(select(SmsMessage.status)) == "failed"
        state["up"] = True
        from tickets import housekeeping

        assert housekeeping.run_sweeps(world.factory, MONDAY_9 + timedelta(hours=3))["sms"] == {"sent": 1, "failed": 0}
        assert len(received) == 1 and received[0]["auth"] == "Bearer tok"
        assert received[0]["body"]["phone"] == PHONE and "回复1满意" in received[0]["body"]["text"]
        with world.factory() as s:
            assert [(m.gateway, m.status) for m in s.scalars(select(SmsMessage))] == [("http", "sent")]
        assert sms.HttpGateway(cfg.sms_gateway_url).send(PHONE, "测试") == "gw-2"
    finally:
        server.shutdown()
        server.server_close()
    # A gateway the settings cannot make stops the start (the configuration is built there).
    with pytest.raises(ValueError, match="sms_gateway_url"):
        world.reconfigure(settings_module.load(environ={}, sms_gateway="http"))
    with pytest.raises(ValueError, match="unknown sms_gateway"):
        world.reconfigure(settings_module.load(environ={}, sms_gateway="carrier-pigeon"))


def test_phone_numbers_are_masked() -> None:
    assert sms.mask_phone("13812345678") == "138****5678"
    assert sms.mask_phone("+86 138-1234-5678") == "138****5678"
    assert sms.normalise_phone("＋８６ １３８１２３４５６７８") == "13812345678"
    assert sms.mask_phone(None) == "(none)"
