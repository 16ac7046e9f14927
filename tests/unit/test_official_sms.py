"""SMS to officials (tickets/official_sms.py): a notice naming a person with a phone texts them,
in working time at once, outside it held until the next working period (released by the
housekeeping sweep), an urgent ticket at any hour; nobody without a phone, no kind the
configuration leaves out, one digest text for many orders (SQLite in memory)."""
from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import select

from tests.helpers import MONDAY_9, TZ, FollowupWorld, events, new_request, overdue_world, submit
from dashboard.read_models import ticket as read_ticket
from layouts import ticket as ticket_layout
from layouts.i18n import texts as texts_of
from tickets import followup, housekeeping, official_sms, supervision
from tickets.config import OfficialSmsRules
from tickets.models import SmsMessage, Ticket
from tickets.sms import HttpGateway
from tickets.uow import unit_of_work

HEAD_PHONE = "13905310001"
CALLERS = itertools.count(1)
ASKS = [("电动车被盗", "昨晚停在小区楼下的电动车被人偷走了，车锁被剪断，希望调取监控。"),
        ("邻居占用消防通道", "邻居长期把杂物堆在楼道里，堵住了消防通道，多次沟通无果。"),
        ("身份证补办咨询", "我的身份证丢失了，想问一下补办需要带什么材料，多久能拿到。"),
        ("路口信号灯故障", "经十路和历山路路口的红绿灯坏了两天，早晚高峰很危险。"),
        ("网购被骗", "在网上买手机付了定金，对方拉黑了我，损失两千元，请求立案。"),
        ("夜间施工扰民", "工地每天晚上十一点以后还在打桩，孩子没法睡觉，请求查处。"),
        ("广场舞音响声音大", "小区广场每天早上六点开始放音乐，声音特别大，影响休息。")]


def with_phone(world: FollowupWorld, username: str = "station_head", phone: str | None = HEAD_PHONE) -> int:
    with unit_of_work(world.factory) as s:
        user = world.user(s, username)
        user.phone = phone
        return user.id


def order_at(world: FollowupWorld, at: datetime, channel: str = "hotline_12345") -> int:
    """A new ticket (its own caller and place: not a duplicate), ordered by the duty officer at ``at``."""
    n = next(CALLERS)
    title, content = ASKS[n % len(ASKS)]
    tid = submit(world.factory, replace(new_request(MONDAY_9, channel=channel, phone=f"1370000{n:04d}",
                                                    topic="other"), title=title, content=content)).id
    with unit_of_work(world.factory) as s:
        supervision.issue_order(s, s.get(Ticket, tid), at, world.actor(s, "duty"), "请尽快办理")
    return tid


def texts(world: FollowupWorld) -> list[SmsMessage]:
    with world.factory() as s:
        return list(s.scalars(select(SmsMessage).where(SmsMessage.user_id.is_not(None)).order_by(SmsMessage.id)))


def to_head(world: FollowupWorld) -> list[tuple[str, str]]:
    return [(phone, text) for _, phone, text in world.gateway.sent if phone == HEAD_PHONE]


def texted(world: FollowupWorld, tid: int, kind: str = "supervision_order") -> list[dict[str, Any]]:
    with world.factory() as s:
        return [e.data.get("texted") for e in events(s, tid) if e.kind == kind][-1]


def test_in_working_time_the_head_is_texted_at_once(followup_world: FollowupWorld) -> None:
    world = followup_world
    head = with_phone(world)
    tid = order_at(world, MONDAY_9 + timedelta(hours=1))
    [message] = texts(world)
    assert (message.user_id, message.status, message.not_before, message.ticket_id) == (head, "sent", None, tid)
    assert message.text.startswith("【民生警务】") and "督办" in message.text
    assert to_head(world) == [(HEAD_PHONE, message.text)]
    assert texted(world, tid) == [{"user_id": head, "status": "sent", "not_before": None}]
    assert HEAD_PHONE not in str(texted(world, tid))  # the timeline names the user, never the number


def test_at_night_the_text_waits_for_the_morning(followup_world: FollowupWorld) -> None:
    world = followup_world
    head = with_phone(world)
    night = datetime(2026, 11, 23, 22, 0, tzinfo=TZ)  # Monday 22:00
    morning = datetime(2026, 11, 24, 8, 30, tzinfo=TZ)  # Tuesday: the first working period
    tid = order_at(world, night)
    [message] = texts(world)
    assert message.status == "held" and message.not_before == morning
    assert to_head(world) == []
    assert texted(world, tid) == [{"user_id": head, "status": "held", "not_before": morning.isoformat()}]
    with world.factory() as s:  # the ticket page says who is texted, and when the text goes
        page = read_ticket.page(s, world.actor(s, "duty"), s.get(Ticket, tid), night, TZ)
    [entry] = [e for e in page["timeline"] if e["kind"] == "sms_official"]
    assert entry["data"] == {"status": "held", "to": "station_head", "not_before": morning.astimezone(timezone.utc).isoformat()}
    words = str(ticket_layout._timeline(page, texts_of(ticket_layout.PAGE_TEXT, "zh-CN"), TZ, "zh-CN"))
    assert "发给 station_head" in words and "非工作时间，待 11-24 08:30 发出" in words, words
    housekeeping.run_sweeps(world.factory, morning - timedelta(minutes=1))
    assert to_head(world) == [] and texts(world)[0].status == "held"
    done = housekeeping.run_sweeps(world.factory, morning)
    assert done["official_sms"] == {"released": 1}
    assert texts(world)[0].status == "sent" and len(to_head(world)) == 1
    housekeeping.run_sweeps(world.factory, morning + timedelta(hours=1))
    assert len(to_head(world)) == 1  # once


def test_a_saturday_night_text_waits_for_monday(followup_world: FollowupWorld) -> None:
    world = followup_world
    with_phone(world)
    order_at(world, datetime(2026, 11, 28, 23, 0, tzinfo=TZ))
    assert texts(world)[0].not_before == datetime(2026, 11, 30, 8, 30, tzinfo=TZ)


def test_an_urgent_ticket_texts_at_any_hour(followup_world: FollowupWorld) -> None:
    world = followup_world
    with_phone(world)
    order_at(world, datetime(2026, 11, 24, 3, 0, tzinfo=TZ), channel="cad_110")  # a 110 record at 3 a.m.
    assert [m.status for m in texts(world)] == ["sent"] and len(to_head(world)) == 1
    rules = OfficialSmsRules()
    assert official_sms.urgent(rules, None, "escalated", {"level": 3})  # reached the city's leaders
    assert not official_sms.urgent(rules, None, "escalated", {"level": 2})
    world.reconfigure(official_sms=replace(rules, urgent_channels=frozenset(), urgent_topics=frozenset({"other"})))
    order_at(world, datetime(2026, 11, 24, 3, 0, tzinfo=TZ))
    assert texts(world)[-1].status == "sent"  # "other" made urgent by configuration
    world.reconfigure(official_sms=replace(rules, hours="any", urgent_channels=frozenset()))
    order_at(world, datetime(2026, 11, 24, 4, 0, tzinfo=TZ))
    assert texts(world)[-1].status == "sent"


def test_nobody_without_a_phone_and_no_kind_left_out(followup_world: FollowupWorld) -> None:
    world = followup_world
    order_at(world, MONDAY_9 + timedelta(hours=1))  # the head has no phone
    assert texts(world) == []
    with_phone(world)
    world.reconfigure(official_sms=replace(OfficialSmsRules(), kinds=frozenset({"escalated"})))
    order_at(world, MONDAY_9 + timedelta(hours=1))
    assert texts(world) == []
    with pytest.raises(ValueError, match="official_sms_kinds"):
        OfficialSmsRules(kinds=frozenset({"everything"}))
    with pytest.raises(ValueError, match="official_sms_urgent_channels"):
        OfficialSmsRules(urgent_channels=frozenset({"pigeon"}))


def test_many_overdue_at_once_text_the_head_one_digest(followup_world: FollowupWorld) -> None:
    world = followup_world
    with_phone(world)
    _, now = overdue_world(world)
    with unit_of_work(world.factory) as s:  # three of the station's at once by then
        result = supervision.sweep(s, now + timedelta(days=3))
    assert result["orders_issued"] == 3 and result["digests"] == 1
    sent = [m.text for m in texts(world)]
    assert not [t for t in sent if t.startswith("【民生警务】督办单")]  # no text per order
    assert [t for t in sent if "件工单超过办理时限" in t] == [
        next(t for t in sent if f"有{result['orders_issued']}件工单超过办理时限" in t)]  # one digest


def test_a_deferred_gateway_sends_a_released_text_after_commit(followup_world: FollowupWorld,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    world = followup_world
    with_phone(world)
    gateway = HttpGateway("http://sms.invalid/send")
    sent: list[tuple[str, str]] = []
    monkeypatch.setattr(gateway, "send", lambda phone, text: sent.append((phone, text)) or "gw-1")
    world.reconfigure(gateway=gateway)
    night = datetime(2026, 11, 23, 22, 0, tzinfo=TZ)
    order_at(world, night)
    morning = datetime(2026, 11, 24, 8, 30, tzinfo=TZ)
    with unit_of_work(world.factory) as s:
        assert official_sms.release(s, morning) == {"released": 1}
    assert texts(world)[0].status == "queued" and sent == []
    assert followup.deliver_queued(world.factory, morning) == {"sent": 1, "failed": 0}
    assert sent == [(HEAD_PHONE, texts(world)[0].text)] and texts(world)[0].status == "sent"
