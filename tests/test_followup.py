"""三级回访 (DESIGN §5): SMS out, reply in, escalation to the right people, phone tasks.

SQLite in memory, the small bureau of tests/helpers.py plus the supervision
units (督察、法制、信访) and one user per role that matters here.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

import settings as settings_module
from tests.helpers import TZ, add_small_bureau, new_request, outbox_events, submit
from tickets import followup, lifecycle, sms
from tickets.bootstrap import session_factory
from tickets.db import make_engine
from tickets.errors import IllegalStep, Invalid, NotAllowed
from tickets.followup import handle_inbound, parse_answer
from tickets.models import (
    Base, FollowUp, Notification, ReminderLetter, SmsMessage, Ticket, TicketEvent, Unit, User,
)
from tickets.roles import actor_for
from tickets.sms import SandboxGateway
from tickets.uow import unit_of_work

MONDAY_9 = datetime(2026, 11, 23, 9, 0, tzinfo=TZ)
PHONE = "13812345678"  # tests/helpers.new_request's citizen


@dataclass
class World:
    factory: sessionmaker[Session]
    gateway: SandboxGateway
    engine: Engine
    settings: Any

    def reconfigure(self, settings: Any = None, **overrides: Any) -> None:
        """From now on, units of work of the same database with other settings or overrides
        (``gateway=``, ``follow_up=``, ``dedup=`` …): as a platform started with them would have."""
        self.factory = session_factory(self.engine, settings or self.settings, **overrides)

    def unit(self, s: Session, code: str) -> Unit:
        unit = s.scalar(select(Unit).where(Unit.code == code))
        assert unit is not None
        return unit

    def user(self, s: Session, username: str) -> User:
        user = s.scalar(select(User).where(User.username == username))
        assert user is not None
        return user

    def actor(self, s: Session, username: str) -> Any:
        return actor_for(s, self.user(s, username))


def add_people(factory: sessionmaker[Session]) -> None:
    """Supervision units, and users: heads of the station and the branch, the chief, staff."""
    with unit_of_work(factory) as s:
        city = s.scalar(select(Unit).where(Unit.code == "JN"))
        for code, name in (("JN-DC", "督察支队"), ("JN-FZ", "法制支队"), ("JN-XF", "信访处"), ("JN-ZA", "治安支队")):
            s.add(Unit(code=code, name=name, level=2, kind="division", parent=city, topics=[]))
        s.flush()
        for username, role, code in (
            ("chief", "leader", "JN"), ("branch_head", "leader", "JN-LX"), ("station_head", "leader", "JN-LX-01"),
            ("officer", "handler", "JN-LX-01"), ("other_officer", "handler", "JN-LX-02"),
            ("admin", "admin", "JN-PTB"), ("dispatcher", "dispatcher", "JN-PTB"), ("duty", "duty_officer", "JN"),
            ("inspector", "supervisor", "JN-DC"), ("viewer", "viewer", "JN"),
        ):
            unit = s.scalar(select(Unit).where(Unit.code == code))
            s.add(User(username=username, real_name=username, unit_id=unit.id, role=role))


def _world(url: str | None, **overrides: Any) -> Iterator[World]:
    """The world on SQLite in memory (``url`` None) or at ``url``; ``overrides`` go into its
    domain configuration (``tickets.bootstrap.session_factory``), its SMS gateway a sandbox."""
    if url is None:
        engine = make_engine("sqlite://")
        Base.metadata.create_all(engine)
    else:
        from tickets.schema import upgrade

        upgrade(url)
        engine = make_engine(url)
    gateway = SandboxGateway()
    cfg = settings_module.load(environ={})
    factory = session_factory(engine, cfg, gateway=gateway, **overrides)
    add_small_bureau(factory)
    add_people(factory)
    yield World(factory, gateway, engine, cfg)
    engine.dispose()


@pytest.fixture
def world() -> Iterator[World]:
    """SQLite in memory."""
    yield from _world(None)


@pytest.fixture(params=["embedded", "real"])
def any_world(request: pytest.FixtureRequest) -> Iterator[World]:
    """SQLite, and a real PostgreSQL (the production database: column widths, SQL) with the migrations."""
    yield from _world(None if request.param == "embedded" else request.getfixturevalue("pg_url"))


def handled(world: World, at: datetime, phone: str | None = PHONE) -> int:
    """A ticket at 泉城路派出所 (JN-LX-01), contacted, reported and approved: ready to reply."""
    request = new_request(at)
    if phone != PHONE:
        from dataclasses import replace

        request = replace(request, citizen_phone=phone)
    ticket = submit(world.factory, request)
    with unit_of_work(world.factory) as s:
        t = s.get(Ticket, ticket.id)
        assert t.unit.code == "JN-LX-01"
        lifecycle.contact(s, t, at + timedelta(minutes=10))
        lifecycle.report(s, t, at + timedelta(minutes=60))
        lifecycle.approve(s, t, at + timedelta(minutes=70))
    return ticket.id


def reply(world: World, ticket_id: int, at: datetime) -> None:
    with unit_of_work(world.factory) as s:
        t = s.get(Ticket, ticket_id)
        if t.status == "contacted":
            lifecycle.report(s, t, at)
            lifecycle.approve(s, t, at)
        lifecycle.reply(s, t, at, text="已处理")


def inbound(world: World, text: str, at: datetime, phone: str = PHONE) -> str:
    with unit_of_work(world.factory) as s:
        return handle_inbound(s, phone, text, at)


def recipients(s: Session, ticket_id: int, kind: str) -> set[tuple[str, str | None, str | None]]:
    """(unit code, role, username) of every notification of ``kind`` about the ticket."""
    rows = s.execute(
        select(Unit.code, Notification.role, User.username)
        .join(Unit, Unit.id == Notification.unit_id)
        .outerjoin(User, User.id == Notification.user_id)
        .where(Notification.ticket_id == ticket_id, Notification.kind == kind)
    ).all()
    return {tuple(r) for r in rows}


def events(s: Session, ticket_id: int) -> list[TicketEvent]:
    return list(s.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket_id).order_by(TicketEvent.id)))


# ----------------------------------------------------------------- the three levels
def test_three_levels_from_sms_out_to_reply_in_reach_the_right_people(any_world: World) -> None:
    world = any_world
    tid = handled(world, MONDAY_9)
    t1 = MONDAY_9 + timedelta(hours=2)
    reply(world, tid, t1)

    # Level 1: the SMS went out through the sandbox, and was recorded.
    with world.factory() as s:
        out = s.scalars(select(SmsMessage).where(SmsMessage.direction == "out")).all()
        ticket = s.get(Ticket, tid)
        assert len(out) == 1 and out[0].phone == PHONE and out[0].gateway == "sandbox" and out[0].status == "sent"
        assert ticket.number in out[0].text and "回复1满意，2基本满意，3不满意" in out[0].text
        assert out[0].text.startswith("【济南市公安局】")
        fu = s.scalar(select(FollowUp).where(FollowUp.ticket_id == tid))
        assert (fu.level, fu.method, fu.status) == (1, "sms", "waiting")
        first_deadline = ticket.resolve_due_at
    assert [(p, t) for _, p, t in world.gateway.sent] == [(PHONE, out[0].text)]

    # 不满意 → level 2: redone with a new deadline; the station's head and its supervising
    # department (the branch and the platform office) are told; a reminder letter to the station.
    assert inbound(world, "3", t1 + timedelta(minutes=30), phone="+86 138-1234-5678") == "escalated_to_2"
    with world.factory() as s:
        ticket = s.get(Ticket, tid)
        assert (ticket.status, ticket.escalation_level, ticket.redo_count) == ("contacted", 2, 1)
        assert ticket.satisfaction == "unsatisfied" and ticket.resolve_due_at > first_deadline
        assert recipients(s, tid, "escalated") == {
            ("JN-LX-01", "leader", "station_head"), ("JN-LX", None, None), ("JN-PTB", None, None)}
        letters = s.scalars(select(ReminderLetter)).all()
        assert [(lt.reason, world.unit(s, "JN-LX-01").id == lt.unit_id, lt.ticket_id) for lt in letters] == \
            [("unsatisfied", True, tid)]
        assert letters[0].number == "TX20261123000001"
        assert ("JN-LX-01", "leader", "station_head") in recipients(s, tid, "reminder_letter")
        kinds = [e.kind for e in events(s, tid)]
        assert kinds[-4:] == ["follow_up_answered", "redo", "escalated", "reminder_letter"]
        # ... and they leave through the outbox, without personal data.
        outbox = outbox_events(s)
        escalated = [p for p in outbox if p["event"] == "escalated"]
        assert escalated and escalated[0]["data"]["level"] == 2
        assert all(PHONE not in str(p) and "张三" not in str(p) for p in outbox)

    # Asked again after the redo's reply; still 不满意 → level 3: the city's leaders, the
    # station's head, 督察/法制/信访 and the platform office.
    t2 = t1 + timedelta(hours=3)
    reply(world, tid, t2)
    with world.factory() as s:
        asked = s.scalars(select(SmsMessage).where(SmsMessage.direction == "out").order_by(SmsMessage.id)).all()
        assert len(asked) == 2 and "重新办理" in asked[1].text
        assert s.scalar(select(FollowUp).where(FollowUp.ticket_id == tid, FollowUp.status == "waiting")).level == 2
    assert inbound(world, "不满意！", t2 + timedelta(minutes=5)) == "escalated_to_3"
    with world.factory() as s:
        ticket = s.get(Ticket, tid)
        assert (ticket.status, ticket.escalation_level) == ("contacted", 3)
        assert recipients(s, tid, "escalated") - {
            ("JN-LX-01", "leader", "station_head"), ("JN-LX", None, None), ("JN-PTB", None, None)} == {
            ("JN", "leader", "chief"), ("JN-DC", None, None), ("JN-FZ", None, None), ("JN-XF", None, None)}
        level3 = [e for e in events(s, tid) if e.kind == "escalated"][-1]
        assert {r["unit_code"] for r in level3.data["recipients"]} == {
            "JN", "JN-LX-01", "JN-DC", "JN-FZ", "JN-XF", "JN-PTB"}
        assert ("JN-ZA", None, None) not in recipients(s, tid, "escalated")  # not a supervision unit

    # Level 3: the answer is recorded, but only the supervisors' findings close it.
    t3 = t2 + timedelta(hours=3)
    reply(world, tid, t3)
    assert inbound(world, "1", t3 + timedelta(minutes=5)) == "findings_due"
    with unit_of_work(world.factory) as s:
        ticket = s.get(Ticket, tid)
        assert ticket.status == "replied" and ticket.satisfaction == "satisfied"
        assert {c for c, _, _ in recipients(s, tid, "findings_due")} == {"JN-DC", "JN-FZ", "JN-XF", "JN-PTB"}
        with pytest.raises(NotAllowed):
            followup.close_with_findings(s, ticket, t3 + timedelta(hours=1), world.actor(s, "viewer"), "查无问题")
        with pytest.raises(NotAllowed):
            followup.close_with_findings(s, ticket, t3 + timedelta(hours=1), world.actor(s, "dispatcher"), "查无问题")
        followup.close_with_findings(s, ticket, t3 + timedelta(hours=1), world.actor(s, "inspector"),
                                     "经督察支队调查，民警处置规范，已向群众说明情况。")
    with world.factory() as s:
        ticket = s.get(Ticket, tid)
        assert ticket.status == "closed" and ticket.closed_at == t3 + timedelta(hours=1)
        tail = events(s, tid)[-2:]
        assert [e.kind for e in tail] == ["findings", "close"] and tail[0].actor == "inspector"
        assert "经督察支队调查" in tail[0].note and tail[1].note == tail[0].note
        answered = [e.data["answer"] for e in events(s, tid) if e.kind == "follow_up_answered"]
        assert answered == ["unsatisfied", "unsatisfied", "satisfied"]
        assert s.scalar(select(func.count()).select_from(FollowUp).where(FollowUp.status == "answered")) == 3


def test_satisfied_closes_and_findings_are_only_for_level_three(world: World) -> None:
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


def test_garbage_gets_one_polite_re_ask_then_a_person(any_world: World) -> None:
    world = any_world
    tid = handled(world, MONDAY_9)
    reply(world, tid, MONDAY_9 + timedelta(hours=2))
    assert inbound(world, "你好，请问是哪里？", MONDAY_9 + timedelta(hours=3)) == "re_asked"
    with world.factory() as s:
        out = s.scalars(select(SmsMessage).where(SmsMessage.direction == "out").order_by(SmsMessage.id)).all()
        assert len(out) == 2 and "未能识别" in out[1].text and "1满意，2基本满意，3不满意" in out[1].text
        assert s.scalar(select(FollowUp).where(FollowUp.ticket_id == tid)).re_asked == 1
    assert inbound(world, "嗯嗯", MONDAY_9 + timedelta(hours=4)) == "needs_person"
    with world.factory() as s:
        fu = s.scalar(select(FollowUp).where(FollowUp.ticket_id == tid))
        assert (fu.status, fu.raw_reply) == ("needs_person", "嗯嗯")
        assert recipients(s, tid, "follow_up_needs_person") == {("JN-PTB", None, None)}
        assert "follow_up_needs_person" in [e.kind for e in events(s, tid)]
        assert s.scalar(select(func.count()).select_from(SmsMessage).where(SmsMessage.direction == "out")) == 3
        inbound_rows = s.scalars(select(SmsMessage).where(SmsMessage.direction == "in")).all()
        assert [m.status for m in inbound_rows] == ["re_asked", "needs_person"]
    assert inbound(world, "？", MONDAY_9 + timedelta(hours=5)) == "needs_person"  # no more messages to them
    # A valid answer that comes late is still taken.
    assert inbound(world, "1", MONDAY_9 + timedelta(hours=6)) == "closed"


def test_unknown_phone_is_recorded_and_ignored(world: World, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("INFO", logger="tickets.followup"):
        assert inbound(world, "1", MONDAY_9, phone="13900001111") == "unknown_phone"
    with world.factory() as s:
        rows = s.scalars(select(SmsMessage)).all()
        assert [(m.direction, m.phone, m.status) for m in rows] == [("in", "13900001111", "unknown_phone")]
    assert "139****1111" in caplog.text and "13900001111" not in caplog.text


def test_no_phone_number_goes_straight_to_a_phone_task(world: World) -> None:
    tid = handled(world, MONDAY_9, phone=None)
    reply(world, tid, MONDAY_9 + timedelta(hours=2))
    with world.factory() as s:
        fu = s.scalar(select(FollowUp).where(FollowUp.ticket_id == tid))
        assert (fu.method, fu.status) == ("phone", "waiting")
        assert s.scalar(select(func.count()).select_from(SmsMessage)) == 0
        assert recipients(s, tid, "follow_up_phone_task") == {("JN-PTB", None, None)}


# ---------------------------------------------------------- 48 hours → a phone call
def test_no_answer_in_48_hours_becomes_a_phone_task_recorded_by_staff(any_world: World) -> None:
    world = any_world
    tid = handled(world, MONDAY_9)
    asked = MONDAY_9 + timedelta(hours=2)
    reply(world, tid, asked)
    with unit_of_work(world.factory) as s:
        assert followup.sweep(s, asked + timedelta(hours=47, minutes=59)) == {"phone_tasks": 0}
    with unit_of_work(world.factory) as s:
        assert followup.sweep(s, asked + timedelta(hours=48)) == {"phone_tasks": 1}
    with unit_of_work(world.factory) as s:
        assert followup.sweep(s, asked + timedelta(hours=49)) == {"phone_tasks": 0}  # once
    with world.factory() as s:
        rows = s.scalars(select(FollowUp).where(FollowUp.ticket_id == tid).order_by(FollowUp.id)).all()
        assert [(f.method, f.status) for f in rows] == [("sms", "no_answer"), ("phone", "waiting")]
        assert recipients(s, tid, "follow_up_phone_task") == {("JN-PTB", None, None)}
        task_id = rows[1].id
    at = asked + timedelta(hours=50)
    with unit_of_work(world.factory) as s:
        task = s.get(FollowUp, task_id)
        for who in ("viewer", "officer", "duty"):
            with pytest.raises(NotAllowed):
                followup.record_phone_answer(s, task, "满意", at, world.actor(s, who))
        with pytest.raises(Invalid) as refused:  # not 满意, 基本满意 or 不满意
            followup.record_phone_answer(s, task, "嗯", at, world.actor(s, "dispatcher"))
        assert refused.value.code == "answer_unknown" and refused.value.params["answer"] == "嗯"
        assert followup.record_phone_answer(s, task, "satisfied", at, world.actor(s, "dispatcher")) == "closed"
    with world.factory() as s:
        task = s.get(FollowUp, task_id)
        assert (task.status, task.answer) == ("answered", "satisfied")
        assert s.get(Ticket, tid).status == "closed"
        answered = [e for e in events(s, tid) if e.kind == "follow_up_answered"]
        assert len(answered) == 1 and answered[0].actor == "dispatcher" and answered[0].data["method"] == "phone"


def test_a_late_sms_answer_settles_the_phone_task(world: World) -> None:
    tid = handled(world, MONDAY_9)
    reply(world, tid, MONDAY_9 + timedelta(hours=2))
    with unit_of_work(world.factory) as s:
        followup.sweep(s, MONDAY_9 + timedelta(days=3))
    assert inbound(world, "2", MONDAY_9 + timedelta(days=3, hours=1)) == "closed"
    with world.factory() as s:
        rows = s.scalars(select(FollowUp).where(FollowUp.ticket_id == tid).order_by(FollowUp.id)).all()
        assert [(f.method, f.status) for f in rows] == [("sms", "answered"), ("phone", "cancelled")]


def test_closing_by_hand_cancels_the_waiting_follow_up(world: World) -> None:
    tid = handled(world, MONDAY_9)
    reply(world, tid, MONDAY_9 + timedelta(hours=2))
    with unit_of_work(world.factory) as s:
        lifecycle.close(s, s.get(Ticket, tid), MONDAY_9 + timedelta(hours=3), world.actor(s, "admin"))
    with world.factory() as s:
        assert s.scalar(select(FollowUp.status).where(FollowUp.ticket_id == tid)) == "cancelled"
    assert inbound(world, "1", MONDAY_9 + timedelta(hours=4)) == "no_follow_up"


def test_a_rolled_back_reply_sends_nothing_through_a_deferred_gateway(world: World) -> None:
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


def test_http_gateway_posts_json_after_commit_and_retries_when_down(world: World,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
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
