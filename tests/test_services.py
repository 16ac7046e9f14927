"""The service layer (tickets/services.py): scope, versions, what a screen may offer, 拆分, 已阅.

The small bureau and its people of tests/test_followup.py: a station officer of
泉城路派出所 (JN-LX-01) and one of 甸柳新村派出所 (JN-LX-02), the platform office's
admin and dispatcher, a duty officer, a supervisor, the chief and a viewer.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from tests.helpers import TZ, new_request, outbox_events, submit
from tests.test_followup import (  # noqa: F401 - fixtures
    MONDAY_9, World, any_world, events, handled, reply, world,
)
from tickets import alerts, followup, lifecycle, services
from tickets.errors import Conflict, DomainError, IllegalStep, Invalid, NotAllowed, NotFound
from tickets.figures import COUNT_FIELDS, period_bounds, tally_sql
from tickets.models import Alert, IntakeRecord, OutboxMessage, Ticket, Unit, User
from tickets.roles import SYSTEM
from tickets.uow import unit_of_work

AT = MONDAY_9 + timedelta(hours=3)  # when the steps below are taken: before any resolve deadline
KTV = ("泉城路KTV深夜噪音扰民", "历下区泉城路芙蓉街口一家KTV每晚营业到凌晨两三点，音响声音很大，附近居民无法休息。")


def number_of(world: World, ticket_id: int) -> str:
    with world.factory() as s:
        return s.get(Ticket, ticket_id).number


def step(world: World, ticket_id: int, *steps: Any, at: datetime = MONDAY_9 + timedelta(minutes=20)) -> None:
    """Lifecycle steps by the system, in one transaction."""
    with unit_of_work(world.factory) as s:
        t = s.get(Ticket, ticket_id)
        for do in steps:
            do(s, t, at)


# ------------------------------------------------------------------ scope
def test_outside_their_scope_a_ticket_does_not_exist(world: World) -> None:
    number = submit(world.factory, new_request(MONDAY_9)).number  # at JN-LX-01
    with unit_of_work(world.factory) as s:
        other = world.actor(s, "other_officer")  # JN-LX-02: a sibling station
        with pytest.raises(NotFound) as hidden:
            services.accept(s, other, number, at=AT)
        with pytest.raises(NotFound) as missing:
            services.accept(s, other, "MS20261123999999", at=AT)
        # The same answer as for a number that does not exist: scope reveals nothing.
        assert hidden.value.code == missing.value.code == "unknown_ticket"
        assert hidden.value.params == {"number": number}
        assert services.allowed_steps(other, s.scalar(select(Ticket).where(Ticket.number == number))) == []
        with pytest.raises(NotFound):
            services.issue_supervision_order(s, other, number, at=AT)
        # The unit's own officer, and the branch above it, see it.
        assert services.accept(s, world.actor(s, "officer"), number, at=AT).status == "accepted"
        assert services.ticket_in_scope(s, world.actor(s, "branch_head"), number).number == number
    with world.factory() as s:
        ticket = s.scalar(select(Ticket).where(Ticket.number == number))
        assert [e.kind for e in events(s, ticket.id)][-1] == "accept" and events(s, ticket.id)[-1].actor == "officer"


# ---------------------------------------------------------------- versions
def test_a_step_on_a_stale_version_is_a_conflict_and_changes_nothing(any_world: World) -> None:
    world = any_world
    ticket = submit(world.factory, new_request(MONDAY_9))
    assert ticket.version == 1
    with unit_of_work(world.factory) as s:  # the officer's screen shows version 1 ...
        services.accept(s, world.actor(s, "officer"), ticket.number, version=1, at=AT)
    with world.factory() as s:
        assert s.get(Ticket, ticket.id).version == 2  # ... every change the ORM writes raises it
    with unit_of_work(world.factory) as s:  # ... and a second screen still showing version 1 is refused
        with pytest.raises(Conflict) as stale:
            services.contact(s, world.actor(s, "officer"), ticket.number, version=1, at=AT)
    assert stale.value.code == "stale_version"
    assert stale.value.params == {"number": ticket.number, "version": 1, "current": 2}
    with world.factory() as s:
        t = s.get(Ticket, ticket.id)
        assert (t.status, t.contacted_at, t.version) == ("accepted", None, 2)
        assert [e.kind for e in events(s, t.id)][-1] == "accept"
    with unit_of_work(world.factory) as s:  # at the current version it goes through
        assert services.contact(s, world.actor(s, "officer"), ticket.number, version=2, at=AT).status == "contacted"


def test_two_writers_of_one_ticket_cannot_both_win(any_world: World) -> None:
    """Without a version from a screen the ORM's own check stands: the second of two
    transactions that read the same version and change the ticket is refused, not merged."""
    from sqlalchemy.orm.exc import StaleDataError

    world = any_world
    ticket = submit(world.factory, new_request(MONDAY_9))
    first, second = world.factory(), world.factory()
    try:
        a, b = first.get(Ticket, ticket.id), second.get(Ticket, ticket.id)
        lifecycle.accept(first, a, AT)
        first.commit()
        with pytest.raises(StaleDataError):
            lifecycle.contact(second, b, AT)
            second.commit()
        second.rollback()
    finally:
        first.close()
        second.close()
    with world.factory() as s:
        t = s.get(Ticket, ticket.id)
        assert (t.status, t.version, t.contacted_at) == ("accepted", 2, None)


# ---------------------------------------------------------- allowed steps
COMMANDS = {  # step → the command a screen calls for it, with plausible arguments
    "dispatch": lambda s, a, t, ctx: (services.pass_down(s, a, t.number, ctx["child"], at=AT)
                                      if t.status == "dispatched"
                                      else services.dispatch(s, a, t.number, "JN-LX-02", at=AT)),
    "return": lambda s, a, t, ctx: services.return_ticket(s, a, t.number, "不属于本单位管辖", at=AT),
    "accept": lambda s, a, t, ctx: services.accept(s, a, t.number, at=AT),
    "contact": lambda s, a, t, ctx: services.contact(s, a, t.number, note="已电话联系", at=AT),
    "report": lambda s, a, t, ctx: services.report(s, a, t.number, "已上门处理", at=AT),
    "approve": lambda s, a, t, ctx: services.approve(s, a, t.number, at=AT),
    "send_back": lambda s, a, t, ctx: services.send_back(s, a, t.number, "处理结果不完整", at=AT),
    "reply": lambda s, a, t, ctx: services.reply(s, a, t.number, "已答复群众", at=AT),
    "close": lambda s, a, t, ctx: services.close(s, a, t.number, "经督察支队调查，处置规范", at=AT),
    "redo": lambda s, a, t, ctx: services.redo(s, a, t.number, at=AT),
    "request_extension": lambda s, a, t, ctx: services.request_extension(s, a, t.number, 2.0, "需调取监控", at=AT),
    "decide_extension": lambda s, a, t, ctx: services.decide_extension(s, a, t.number, True, at=AT),
    "merge": lambda s, a, t, ctx: services.merge(s, a, t.number, ctx["target"], at=AT),
    "unmerge": lambda s, a, t, ctx: services.unmerge(s, a, t.number, "不是同一问题", at=AT),
}


def tickets_in_every_state(world: World) -> dict[str, int]:
    """One ticket per situation a screen meets (all received Monday 09:00 at JN-LX-01 unless said)."""
    ids: dict[str, int] = {}
    fresh = lambda: submit(world.factory, new_request(MONDAY_9, phone=f"1390000{len(ids):04d}",  # noqa: E731
                                                      lat=36.60 + 0.003 * len(ids))).id
    ids["dispatched"] = fresh()
    ids["target"] = fresh()  # what "merge" merges into
    ids["returned"] = fresh()
    step(world, ids["returned"], lambda s, t, at: lifecycle.return_ticket(s, t, at, SYSTEM, "非本单位管辖"))
    ids["at_the_branch"] = fresh()  # re-dispatched to 历下分局, which may pass it down
    step(world, ids["at_the_branch"], lambda s, t, at: lifecycle.return_ticket(s, t, at, SYSTEM, "非本单位管辖"),
         lambda s, t, at: lifecycle.dispatch(s, t, s.scalar(select(Unit).where(Unit.code == "JN-LX")), at))
    for name, steps in (("accepted", [lifecycle.accept]), ("contacted", [lifecycle.contact]),
                        ("reported", [lifecycle.contact, lifecycle.report]),
                        ("approved", [lifecycle.contact, lifecycle.report, lifecycle.approve])):
        ids[name] = fresh()
        step(world, ids[name], *steps)
    ids["extension_pending"] = fresh()
    step(world, ids["extension_pending"], lifecycle.contact,
         lambda s, t, at: lifecycle.request_extension(s, t, at, SYSTEM, 4.0, "需调取监控"))
    ids["replied"] = handled(world, MONDAY_9, phone="13900009001")
    reply(world, ids["replied"], MONDAY_9 + timedelta(hours=1, minutes=30))
    ids["replied_level_3"] = handled(world, MONDAY_9, phone="13900009002")
    for n, level in enumerate((2, 3)):
        at = MONDAY_9 + timedelta(hours=1, minutes=10 * n)
        reply(world, ids["replied_level_3"], at)
        step(world, ids["replied_level_3"], lambda s, t, at, level=level: followup.escalate(s, t, at, level), at=at)
    reply(world, ids["replied_level_3"], MONDAY_9 + timedelta(hours=2))
    ids["merged"] = fresh()
    with unit_of_work(world.factory) as s:
        lifecycle.merge(s, s.get(Ticket, ids["merged"]), s.get(Ticket, ids["target"]), MONDAY_9 + timedelta(minutes=30),
                        SYSTEM)
    ids["closed"] = handled(world, MONDAY_9, phone="13900009003")
    reply(world, ids["closed"], MONDAY_9 + timedelta(hours=1))
    step(world, ids["closed"], lifecycle.close, at=MONDAY_9 + timedelta(hours=2))
    return ids


def test_allowed_steps_are_exactly_the_steps_the_domain_takes(world: World) -> None:
    """For every person and every situation, a screen offers a step if and only if the
    command for it goes through (tried in a savepoint, then undone)."""
    with unit_of_work(world.factory) as s:  # a station officer of the branch itself, who may pass tickets down
        s.add(User(username="branch_officer", real_name="branch_officer", role="handler",
                   unit_id=s.scalar(select(Unit.id).where(Unit.code == "JN-LX"))))
    ids = tickets_in_every_state(world)
    people = ["admin", "dispatcher", "officer", "other_officer", "branch_officer", "inspector", "duty", "chief",
              "viewer"]
    offered: dict[tuple[str, str], list[str]] = {}
    mismatches = []
    with unit_of_work(world.factory) as s:
        for situation, tid in ids.items():
            into = ids["target"] if tid != ids["target"] else ids["dispatched"]  # another open ticket
            ctx = {"target": s.get(Ticket, into).number, "child": "JN-LX-01"}
            for who in people:
                actor = world.actor(s, who)
                ticket = s.get(Ticket, tid)
                allowed = services.allowed_steps(actor, ticket)
                offered[(situation, who)] = allowed
                for name, command in COMMANDS.items():
                    try:
                        with s.begin_nested():
                            command(s, actor, s.get(Ticket, tid), ctx)
                            raise _Undo
                    except _Undo:
                        took = True
                    except (NotAllowed, IllegalStep, NotFound):
                        took = False
                    if took != (name in allowed):
                        mismatches.append((situation, who, name, "taken" if took else "refused"))
        s.rollback()
    assert mismatches == [], "\n".join(map(str, mismatches))
    # What the screens show, spelled out for the situations people meet most.
    assert offered[("dispatched", "officer")] == ["return", "accept", "contact", "request_extension"]
    assert offered[("dispatched", "dispatcher")] == ["merge"]
    assert offered[("dispatched", "other_officer")] == [] and offered[("dispatched", "viewer")] == []
    assert offered[("returned", "dispatcher")] == ["dispatch", "merge"]
    assert offered[("returned", "officer")] == []  # it was returned: the dispatcher re-routes it
    assert offered[("at_the_branch", "branch_officer")] == ["dispatch", "return", "accept", "contact",
                                                            "request_extension"]
    assert offered[("reported", "dispatcher")] == ["approve", "send_back", "merge"]
    assert offered[("extension_pending", "admin")] == ["report", "decide_extension", "merge"]
    assert offered[("replied", "inspector")] == []  # level 1: the citizen's answer closes it
    assert offered[("replied_level_3", "inspector")] == ["close"]
    assert offered[("merged", "dispatcher")] == ["unmerge"]
    assert all(offered[("closed", who)] == [] for who in people)


class _Undo(Exception):
    """Leaves a savepoint after a step went through."""


# ------------------------------------------------------------------- 拆分
def _merged_pair(world: World) -> tuple[int, int]:
    """Ticket A (a 12345 call) and ticket B (another caller, 3 km away, plus a letter from that
    caller merged into B at intake), B then merged into A by the dispatcher."""
    a = submit(world.factory, replace(new_request(MONDAY_9, channel="hotline_12345", phone="13905310101"),
                                      title=KTV[0], content=KTV[1], lat=36.6650, lon=117.0205)).id
    b = submit(world.factory, new_request(MONDAY_9 + timedelta(minutes=5), channel="call", phone="13600000001",
                                          lat=36.6800, lon=117.0600)).id
    letter = submit(world.factory, new_request(MONDAY_9 + timedelta(minutes=30), channel="letter",
                                               phone="13600000001", lat=36.6800, lon=117.0600)).id
    assert letter == b  # a certain duplicate at intake: a merged record of B
    with unit_of_work(world.factory) as s:
        services.merge(s, world.actor(s, "dispatcher"), number_of(world, b), number_of(world, a), note="重复诉求",
                       at=MONDAY_9 + timedelta(hours=1))
    return a, b


def records_of(s: Session, ticket_id: int) -> list[tuple[str, bool]]:
    return [(r.channel, r.merged) for r in s.scalars(select(IntakeRecord).where(IntakeRecord.ticket_id == ticket_id)
                                                      .order_by(IntakeRecord.id))]


def test_unmerge_gives_back_the_records_with_their_flags_and_the_figures_before_the_merge(any_world: World) -> None:
    world = any_world
    start, end = period_bounds(MONDAY_9.date(), MONDAY_9.date(), TZ)
    now = MONDAY_9 + timedelta(hours=2)
    a, b = _merged_pair(world)
    with world.factory() as s:
        assert records_of(s, a) == [("hotline_12345", False), ("call", True), ("letter", True)]
        assert records_of(s, b) == []
        merged = tally_sql(s, start, end, now, TZ)
    assert (merged.received, merged.intake_records, merged.merged_records) == (1, 3, 2)

    with unit_of_work(world.factory) as s:
        dispatcher = world.actor(s, "dispatcher")
        with pytest.raises(NotAllowed):  # a station officer cannot undo the platform office's merge
            services.unmerge(s, world.actor(s, "officer"), number_of(world, b), "不是同一问题", at=now)
        with pytest.raises(Invalid) as empty:
            services.unmerge(s, dispatcher, number_of(world, b), "  ", at=now)
        assert empty.value.code == "text_required" and empty.value.params["what"] == "reason"
        with pytest.raises(IllegalStep) as not_merged:
            services.unmerge(s, dispatcher, number_of(world, a), "不是同一问题", at=now)
        assert not_merged.value.code == "status_forbids_step" and not_merged.value.params["status"] == "dispatched"
        ticket = services.unmerge(s, dispatcher, number_of(world, b), "不是同一问题", at=now)
        assert ticket.id == b
    with world.factory() as s:
        # Each ticket has its own records back, flagged as they were before: B's letter was merged into B.
        assert records_of(s, a) == [("hotline_12345", False)]
        assert records_of(s, b) == [("call", False), ("letter", True)]
        tb = s.get(Ticket, b)
        assert (tb.status, tb.merged_into_id, tb.unit.code) == ("dispatched", None, "JN-LX-02")
        assert tb.resolve_due_at is not None and tb.dispatched_at == MONDAY_9 + timedelta(minutes=5)
        undone = events(s, b)[-1]
        assert (undone.kind, undone.actor, undone.note) == ("unmerge", "dispatcher", "不是同一问题")
        assert undone.data["from"] == number_of(world, a) and undone.data["record_merged"] == [False, True]
        assert s.get(Ticket, a).status == "dispatched"
        after = tally_sql(s, start, end, now, TZ)
    # The figures are those of before the merge: two tickets, three records, one of them merged.
    assert (after.received, after.intake_records, after.merged_records) == (2, 3, 1)
    assert (after.dispatched, after.direct) == (2, 2)


def test_a_replied_ticket_comes_back_approved_to_be_replied_again(world: World) -> None:
    a = submit(world.factory, new_request(MONDAY_9)).id
    b = handled(world, MONDAY_9, phone="13900000077")
    reply(world, b, MONDAY_9 + timedelta(hours=2))
    with unit_of_work(world.factory) as s:
        services.merge(s, world.actor(s, "admin"), number_of(world, b), number_of(world, a), at=AT)
    with world.factory() as s:
        assert s.get(Ticket, b).status == "merged"
        assert services.allowed_steps(world.actor(s, "dispatcher"), s.get(Ticket, b)) == ["unmerge"]
    with unit_of_work(world.factory) as s:
        services.unmerge(s, world.actor(s, "admin"), number_of(world, b), "误合并", at=AT + timedelta(minutes=5))
    with world.factory() as s:
        t = s.get(Ticket, b)
        assert t.status == "approved" and services.allowed_steps(world.actor(s, "dispatcher"), t)[0] == "reply"


def test_the_live_figures_follow_an_unmerge(world: World) -> None:
    """Live counters and the SQL recomputation agree after a merge is undone."""
    import fakeredis

    from dashboard.live.aggregator import LiveAggregator
    from dashboard.live.relay import OutboxRelay
    from tests.test_live_path import Clock

    clock = Clock(MONDAY_9 + timedelta(hours=1))
    client = fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True)
    relay = OutboxRelay(world.factory, client, clock=clock)
    aggregator = LiveAggregator(world.factory, client, TZ, clock=clock, heartbeat_seconds=1e9)

    def agree() -> None:
        for _ in range(3):
            while relay.run_once():
                pass
            aggregator.step(block_ms=5)
        start, end = period_bounds(MONDAY_9.date(), MONDAY_9.date(), TZ)
        with world.factory() as s:  # the bureau, and each station on its own
            scopes = [None] + [{uid} for uid in s.scalars(select(Unit.id).where(Unit.level == 3))]
            for scope in scopes:
                sql = tally_sql(s, start, end, clock.now, TZ, scope)
                live = aggregator.live_tally(scope)
                assert {k: getattr(live, k) for k in COUNT_FIELDS} == {k: getattr(sql, k) for k in COUNT_FIELDS}, scope
            assert aggregator.counters()["received_today"] == tally_sql(s, start, end, clock.now, TZ).received

    agree()  # rebuilt from an empty database
    a, b = _merged_pair(world)
    clock.advance(minutes=30)
    agree()
    with unit_of_work(world.factory) as s:
        services.unmerge(s, world.actor(s, "dispatcher"), number_of(world, b), "不是同一问题", at=clock.now)
    clock.advance(minutes=1)
    agree()
    with world.factory() as s:
        assert {(e["event"], e["ticket"]["ticket_id"]) for e in outbox_events(s)} >= {("unmerge", b)}


# ------------------------------------------------------------------- 已阅
def _alert(world: World, unit_code: str = "JN-LX", status: str = "open") -> int:
    with unit_of_work(world.factory) as s:
        alert = Alert(key=f"surge:noise:历下区:{status}", kind="surge", topic="noise", area_kind="district",
                      area="历下区", area_name="历下区", unit_id=s.scalar(select(Unit.id).where(Unit.code == unit_code)),
                      count=18, baseline=3.0, threshold=10, reason="历下区噪音扰民投诉突增：18 起", status=status,
                      first_seen_at=MONDAY_9, last_seen_at=MONDAY_9, day=MONDAY_9.date())
        s.add(alert)
        s.flush()
        return alert.id


def test_acknowledging_an_alert_records_who_and_tells_the_screens(any_world: World) -> None:
    world = any_world
    alert_id = _alert(world)
    with unit_of_work(world.factory) as s:
        for who in ("viewer", "officer"):  # a viewer may not; a station officer may not either
            with pytest.raises(NotAllowed):
                alerts.acknowledge(s, s.get(Alert, alert_id), AT, world.actor(s, who))
        with pytest.raises(NotFound) as hidden:  # a station officer of the sibling station does not see it
            services.acknowledge_alert(s, world.actor(s, "other_officer"), alert_id, at=AT)
        assert hidden.value.code == "unknown_alert"
        with pytest.raises(Invalid) as naive:
            services.acknowledge_alert(s, world.actor(s, "duty"), alert_id, at=AT.replace(tzinfo=None))
        assert naive.value.code == "naive_time"
        acknowledged = services.acknowledge_alert(s, world.actor(s, "duty"), alert_id, note="  已通知历下分局加强巡查 ",
                                                  at=AT)
        duty_id = world.user(s, "duty").id
        assert (acknowledged.acknowledged_at, acknowledged.acknowledged_by_id) == (AT, duty_id)
    with world.factory() as s:
        alert = s.get(Alert, alert_id)
        assert (alert.status, alert.acknowledged_at, alert.acknowledgement) == ("open", AT, "已通知历下分局加强巡查")
        told = [m.payload for m in s.scalars(select(OutboxMessage).where(OutboxMessage.topic == "alert"))]
        assert [(p["action"], p["alert"]["id"], p["alert"]["acknowledged_by_id"]) for p in told] == [
            ("acknowledged", alert_id, duty_id)]
        assert told[0]["alert"]["acknowledged_at"] == AT.isoformat()
    with unit_of_work(world.factory) as s:  # once is enough
        with pytest.raises(IllegalStep) as twice:
            services.acknowledge_alert(s, world.actor(s, "chief"), alert_id, at=AT + timedelta(minutes=1))
        assert twice.value.code == "alert_acknowledged" and twice.value.params["alert"] == alert_id
    closed_id = _alert(world, status="closed")
    with unit_of_work(world.factory) as s:
        with pytest.raises(IllegalStep) as over:
            services.acknowledge_alert(s, world.actor(s, "duty"), closed_id, at=AT)
        assert over.value.code == "alert_closed"
        with pytest.raises(NotFound):
            services.acknowledge_alert(s, world.actor(s, "duty"), 999_999, at=AT)
    with world.factory() as s:
        assert s.get(Alert, closed_id).acknowledged_at is None


# ------------------------------------------------------------------ intake
def test_a_ticket_taken_in_is_stored_as_the_orm_stores_it(any_world: World) -> None:
    """The batch writer puts timestamps down in the form the ORM binds them in, so a query
    for an instant finds the rows written at it (on SQLite the form is text)."""
    world = any_world
    at = MONDAY_9.replace(minute=7)
    ticket = submit(world.factory, new_request(at))
    with world.factory() as s:
        assert s.scalar(select(Ticket.id).where(Ticket.received_at == at)) == ticket.id
        assert s.scalar(select(Ticket.id).where(Ticket.received_at >= at, Ticket.received_at <= at)) == ticket.id
        assert s.scalar(select(func.count()).select_from(IntakeRecord).where(IntakeRecord.received_at == at)) == 1
        if s.get_bind().dialect.name == "sqlite":
            stored = s.execute(text("SELECT received_at FROM tickets WHERE id = :id"), {"id": ticket.id}).scalar()
            assert stored == "2026-11-23 01:07:00.000000"


def test_receive_takes_requests_in_for_the_roles_that_type_them(world: World) -> None:
    request = new_request(MONDAY_9)
    with unit_of_work(world.factory) as s:
        with pytest.raises(NotAllowed) as refused:
            services.receive(s, [request], now=MONDAY_9, actor=world.actor(s, "officer"))
        assert refused.value.params == {"user": "officer", "role": "handler", "step": "receive"}
    with unit_of_work(world.factory) as s:
        first, again, same = services.receive(s, [request, request, replace(request, title="同一单重发")],
                                              now=MONDAY_9, actor=world.actor(s, "dispatcher"))
        assert first.status == "accepted" and (again.status, again.ticket_id) == ("duplicate", first.ticket_id)
        assert (same.status, same.ticket_id) == ("duplicate", first.ticket_id)
    with unit_of_work(world.factory) as s:  # sent again later: the same ticket, nothing written
        assert [(r.status, r.ticket_id) for r in services.receive(s, [request], now=AT)] == [
            ("duplicate", first.ticket_id)]
        assert s.scalar(select(func.count()).select_from(Ticket)) == 1
        assert events(s, first.ticket_id)[0].actor == "system"  # recorded as the channel's


def test_refusals_carry_a_code_and_plain_parameters() -> None:
    error = IllegalStep("status_forbids_step", number="MS1", step="reply", status="closed", allowed=["approved"])
    assert isinstance(error, DomainError) and error.code == "status_forbids_step"
    assert error.params == {"number": "MS1", "step": "reply", "status": "closed", "allowed": ["approved"]}
    assert str(error) == "status_forbids_step(number='MS1', step='reply', status='closed', allowed=['approved'])"
    assert Conflict().code == "conflict" and isinstance(Invalid("text_required"), ValueError)
