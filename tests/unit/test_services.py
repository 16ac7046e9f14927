"""The service layer (tickets/services.py): scope, what a screen may offer, 拆分, intake's
roles, the refusals' shape (SQLite in memory; versions, 拆分's records, 已阅 and intake's
stored form on each database: tests/integration/test_services_each_db.py).

The small bureau and its people of tests/helpers.add_people: a station officer of
泉城路派出所 (JN-LX-01) and one of 甸柳新村派出所 (JN-LX-02), the platform office's
admin and dispatcher, a duty officer, a supervisor, the chief and a viewer.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.helpers import (
    MONDAY_9, TZ, Clock, FollowupWorld, events, handled, merged_pair, new_request, number_of, outbox_events, reply,
    submit,
)
from tickets import followup, lifecycle, services
from tickets.errors import Conflict, DomainError, IllegalStep, Invalid, NotAllowed, NotFound
from tickets.figures import COUNT_FIELDS, period_bounds, tally_sql
from tickets.models import Ticket, Unit, User
from tickets.roles import SYSTEM
from tickets.uow import unit_of_work

AT = MONDAY_9 + timedelta(hours=3)  # when the steps below are taken: before any resolve deadline


def step(world: FollowupWorld, ticket_id: int, *steps: Any, at: datetime = MONDAY_9 + timedelta(minutes=20)) -> None:
    """Lifecycle steps by the system, in one transaction."""
    with unit_of_work(world.factory) as s:
        t = s.get(Ticket, ticket_id)
        for do in steps:
            do(s, t, at)


# ------------------------------------------------------------------ scope
def test_outside_their_scope_a_ticket_does_not_exist(followup_world: FollowupWorld) -> None:
    world = followup_world
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


# ---------------------------------------------------------- allowed steps
COMMANDS = {  # step → the command a screen calls for it, with plausible arguments
    "dispatch": lambda s, a, t, ctx: services.dispatch(s, a, t.number, "JN-LX-02", at=AT),
    "pass_down": lambda s, a, t, ctx: services.pass_down(s, a, t.number, ctx["child"], at=AT),
    "return": lambda s, a, t, ctx: services.return_ticket(s, a, t.number, "不属于本单位管辖", at=AT),
    "accept": lambda s, a, t, ctx: services.accept(s, a, t.number, at=AT),
    "contact": lambda s, a, t, ctx: services.contact(s, a, t.number, note="已电话联系", at=AT),
    "report": lambda s, a, t, ctx: services.report(s, a, t.number, "已上门处理", at=AT),
    "approve": lambda s, a, t, ctx: services.approve(s, a, t.number, at=AT),
    "send_back": lambda s, a, t, ctx: services.send_back(s, a, t.number, "处理结果不完整", at=AT),
    "reply": lambda s, a, t, ctx: services.reply(s, a, t.number, "已答复群众", at=AT),
    "close": lambda s, a, t, ctx: services.close(s, a, t.number, "经督察支队调查，处置规范", at=AT),
    "request_extension": lambda s, a, t, ctx: services.request_extension(s, a, t.number, 2.0, "需调取监控", at=AT),
    "decide_extension": lambda s, a, t, ctx: services.decide_extension(s, a, t.number, True, at=AT),
    "merge": lambda s, a, t, ctx: services.merge(s, a, t.number, ctx["target"], at=AT),
    "unmerge": lambda s, a, t, ctx: services.unmerge(s, a, t.number, "不是同一问题", at=AT),
}


def tickets_in_every_state(world: FollowupWorld) -> dict[str, int]:
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


def test_allowed_steps_are_exactly_the_steps_the_domain_takes(followup_world: FollowupWorld) -> None:
    """For every person and every situation, a screen offers a step if and only if the
    command for it goes through (tried in a savepoint, then undone)."""
    world = followup_world
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
    assert offered[("at_the_branch", "branch_officer")] == ["pass_down", "return", "accept", "contact",
                                                            "request_extension"]
    assert offered[("reported", "dispatcher")] == ["approve", "send_back", "merge"]
    assert offered[("extension_pending", "admin")] == ["report", "decide_extension", "merge", "rehome"]
    assert offered[("replied", "inspector")] == []  # level 1: the citizen's answer closes it
    assert offered[("replied_level_3", "inspector")] == ["close"]
    assert offered[("merged", "dispatcher")] == ["unmerge"]
    assert all(offered[("closed", who)] == [] for who in people)


class _Undo(Exception):
    """Leaves a savepoint after a step went through."""


# ------------------------------------------------------------------- 拆分
def test_a_replied_ticket_comes_back_approved_to_be_replied_again(followup_world: FollowupWorld) -> None:
    world = followup_world
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


def test_the_live_figures_follow_an_unmerge(followup_world: FollowupWorld) -> None:
    """Live counters and the SQL recomputation agree after a merge is undone."""
    import fakeredis

    from dashboard.live.aggregator import LiveAggregator
    from dashboard.live.relay import OutboxRelay

    world = followup_world
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
    a, b = merged_pair(world)
    clock.advance(minutes=30)
    agree()
    with unit_of_work(world.factory) as s:
        services.unmerge(s, world.actor(s, "dispatcher"), number_of(world, b), "不是同一问题", at=clock.now)
    clock.advance(minutes=1)
    agree()
    with world.factory() as s:
        assert {(e["event"], e["ticket"]["ticket_id"]) for e in outbox_events(s)} >= {("unmerge", b)}


# ------------------------------------------------------------------ intake
def test_receive_takes_requests_in_for_the_roles_that_type_them(followup_world: FollowupWorld) -> None:
    world = followup_world
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
