"""三级回访 on each database: SMS out, reply in, escalation to the right people, the
48-hour phone task, on SQLite and on a real PostgreSQL with the migrations."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.helpers import MONDAY_9, PHONE, FollowupWorld, events, handled, inbound, outbox_events, recipients, reply
from tickets import followup
from tickets.errors import Invalid, NotAllowed
from tickets.models import FollowUp, ReminderLetter, SmsMessage, Ticket
from tickets.uow import unit_of_work


def test_three_levels_from_sms_out_to_reply_in_reach_the_right_people(followup_world_each_db: FollowupWorld) -> None:
    world = followup_world_each_db
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


def test_garbage_gets_one_polite_re_ask_then_a_person(followup_world_each_db: FollowupWorld) -> None:
    world = followup_world_each_db
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


def test_no_answer_in_48_hours_becomes_a_phone_task_recorded_by_staff(followup_world_each_db: FollowupWorld) -> None:
    world = followup_world_each_db
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
        world.refuse(s, ("viewer", "officer", "duty"),
                     lambda actor: followup.record_phone_answer(s, task, "满意", at, actor))
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
