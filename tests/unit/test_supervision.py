"""督办单 and 提醒函: automatic and manual orders, letters, the sweeps (SQLite in memory;
the HTTP API and PostgreSQL: tests/integration/test_supervision_*.py)."""
from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from tests.helpers import (
    MONDAY_9,
    FollowupWorld,
    complaint,
    events,
    followup_world,
    letters,
    new_request,
    orders,
    overdue_world,
    recipients,
    submit,
)
from tickets import housekeeping, lifecycle, supervision
from tickets.errors import IllegalStep, NotAllowed
from tickets.models import ReminderLetter, SupervisionOrder, Ticket, Unit, User
from tickets.uow import unit_of_work


# -------------------------------------------------------------------- orders
def test_order_goes_to_the_unit_leader_role_when_the_unit_has_no_leader(followup_world: FollowupWorld) -> None:
    world = followup_world
    with unit_of_work(world.factory) as s:
        s.delete(s.scalar(select(User).where(User.username == "station_head")))
    ids, now = overdue_world(world)
    with unit_of_work(world.factory) as s:
        supervision.sweep(s, now)
    order = orders(world)[0]
    assert order.addressee_id is None
    with world.factory() as s:
        assert recipients(s, order.ticket_id, "supervision_order") == {("JN-LX-01", "leader", None)}


def test_send_back_issues_a_returned_unresolved_order(followup_world: FollowupWorld) -> None:
    world = followup_world
    tid = submit(world.factory, new_request(MONDAY_9)).id
    with unit_of_work(world.factory) as s:
        t = s.get(Ticket, tid)
        lifecycle.contact(s, t, MONDAY_9 + timedelta(minutes=10))
        lifecycle.report(s, t, MONDAY_9 + timedelta(hours=1))
        lifecycle.send_back(s, t, MONDAY_9 + timedelta(hours=2), world.actor(s, "dispatcher"), "未见处理结果")
    issued = orders(world)
    assert [(o.reason, o.ticket_id, o.note) for o in issued] == [("returned_unresolved", tid, "未见处理结果")]
    assert issued[0].issued_at == MONDAY_9 + timedelta(hours=2)
    with unit_of_work(world.factory) as s:  # sent back again while that order is open: no second order
        t = s.get(Ticket, tid)
        lifecycle.report(s, t, MONDAY_9 + timedelta(hours=3))
        lifecycle.send_back(s, t, MONDAY_9 + timedelta(hours=3), world.actor(s, "dispatcher"), "仍未解决")
    assert len(orders(world)) == 1


def test_manual_order_by_roles_that_may_supervise_only(followup_world: FollowupWorld) -> None:
    world = followup_world
    tid = submit(world.factory, new_request(MONDAY_9)).id
    at = MONDAY_9 + timedelta(hours=1)
    with unit_of_work(world.factory) as s:
        t = s.get(Ticket, tid)
        world.refuse(s, ("viewer", "officer", "dispatcher"),
                     lambda actor: supervision.issue_order(s, t, at, actor, "请尽快办理"))
        order = supervision.issue_order(s, t, at, world.actor(s, "duty"), "请尽快办理")
        assert (order.reason, order.issued_by, order.status) == ("manual", "duty", "open")
        with pytest.raises(IllegalStep) as refused:
            supervision.issue_order(s, t, at, world.actor(s, "inspector"))
        assert refused.value.code == "order_still_open" and refused.value.params["order"] == order.number
    assert len(orders(world)) == 1


def test_the_unit_answers_and_a_supervisor_closes(followup_world: FollowupWorld) -> None:
    world = followup_world
    tid = submit(world.factory, new_request(MONDAY_9)).id
    with unit_of_work(world.factory) as s:
        order_id = supervision.issue_order(s, s.get(Ticket, tid), MONDAY_9, world.actor(s, "duty")).id
    with unit_of_work(world.factory) as s:
        order = s.get(SupervisionOrder, order_id)
        with pytest.raises(NotAllowed):
            supervision.answer_order(s, order, MONDAY_9 + timedelta(hours=1), world.actor(s, "other_officer"), "已办")
        supervision.answer_order(s, order, MONDAY_9 + timedelta(hours=1), world.actor(s, "officer"), "已上门处理")
        with pytest.raises(IllegalStep):
            supervision.answer_order(s, order, MONDAY_9 + timedelta(hours=1), world.actor(s, "officer"), "再答")
        with pytest.raises(NotAllowed):
            supervision.close_order(s, order, MONDAY_9 + timedelta(hours=2), world.actor(s, "viewer"))
        supervision.close_order(s, order, MONDAY_9 + timedelta(hours=2), world.actor(s, "inspector"), "同意办结")
    with world.factory() as s:
        order = s.get(SupervisionOrder, order_id)
        assert (order.status, order.answer) == ("closed", "已上门处理")
        actions = [(e.data["action"], e.actor) for e in events(s, tid) if e.kind == "supervision_order"]
        assert actions == [("issued", "duty"), ("answered", "officer"), ("closed", "inspector")]
        answered = [e for e in events(s, tid) if e.kind == "supervision_order"][1]
        assert answered.data["on_time"] is True


# ----------------------------------------------------------- reminder letters
def test_repeated_complaints_on_one_spot_earn_a_letter_and_far_or_old_ones_do_not(
        followup_world: FollowupWorld) -> None:
    world = followup_world
    at = MONDAY_9
    complaint(world, at - timedelta(days=40), lat=36.6650, lon=117.0300, phone="13900000001")  # too old
    complaint(world, at, lat=36.6650, lon=117.0300, phone="13900000002")
    complaint(world, at + timedelta(hours=1), lat=36.6700, lon=117.0300, phone="13900000003")  # ~550 m away
    complaint(world, at + timedelta(hours=2), lat=36.6652, lon=117.0301, phone="13900000004", topic="theft")
    assert letters(world) == []
    complaint(world, at + timedelta(hours=3), lat=36.6655, lon=117.0302, phone="13900000005")
    assert letters(world) == []
    third = complaint(world, at + timedelta(days=3), lat=36.6648, lon=117.0298, phone="13900000006")
    found = letters(world)
    assert [(lt.reason, lt.ticket_id) for lt in found] == [("repeated", third)]
    assert "同一地点" in found[0].text


def test_leader_instruction_is_a_reminder_letter(followup_world: FollowupWorld) -> None:
    world = followup_world
    tid = submit(world.factory, new_request(MONDAY_9)).id
    with unit_of_work(world.factory) as s:
        t = s.get(Ticket, tid)
        world.refuse(s, ("viewer", "officer"),
                     lambda actor: supervision.issue_leader_instruction(s, t, MONDAY_9, actor, "请妥善处理"))
        letter = supervision.issue_leader_instruction(s, t, MONDAY_9, world.actor(s, "chief"), "请妥善处理，及时回复群众")
        assert (letter.reason, letter.issued_by, letter.ticket_id) == ("leader_instruction", "chief", tid)
        branch = s.scalar(select(Unit).where(Unit.code == "JN-LX"))
        unit_letter = supervision.issue_leader_instruction(s, branch, MONDAY_9, world.actor(s, "chief"), "加强夜间巡逻")
        assert unit_letter.ticket_id is None and unit_letter.unit_id == branch.id
    assert [lt.number for lt in letters(world)] == ["TX20261123000001", "TX20261123000002"]


# ------------------------------------------------------------------ the sweeps
def test_run_sweeps_runs_both_and_never_raises(followup_world: FollowupWorld, caplog: pytest.LogCaptureFixture) -> None:
    world = followup_world
    ids, now = overdue_world(world)
    result = housekeeping.run_sweeps(world.factory, now + timedelta(days=3))
    # "fresh" is overdue by then too: three of one station at once, its head told in one digest
    assert result["supervision"] == {"orders_issued": 3, "digests": 1}
    assert result["follow_up"] == {"phone_tasks": 1}  # the replied ticket's SMS went unanswered

    def broken() -> Any:
        raise RuntimeError("database away")

    with caplog.at_level("ERROR", logger="tickets.housekeeping"):
        result = housekeeping.run_sweeps(broken, now)  # type: ignore[arg-type]
    assert "database away" in result["follow_up"]["error"] and "database away" in result["supervision"]["error"]
    assert "sweep failed" in caplog.text


# -------------------------------------------------------------------- the API
def test_a_batch_earns_the_letters_its_complaints_earn_one_at_a_time() -> None:
    """The repeat check of a pushed batch (one query for all) decides as one complaint after another would."""
    import random

    from tickets import dedup, services
    rng = random.Random(7)
    spots = [(36.6650, 117.0300), (36.6655, 117.0302), (36.6600, 117.0250), (36.6700, 117.0350), (36.6648, 117.0298)]
    requests = []
    for n in range(60):
        lat, lon = rng.choice(spots)
        at = MONDAY_9 + timedelta(hours=rng.uniform(0, 24 * 40))
        requests.append(replace(new_request(at, lat=lat, lon=lon, phone=rng.choice(["13900000001", "13900000002",
                                                                                       "13900000003", ""]),
                                            topic=rng.choice(["noise", "noise", "theft"])),
                                kind=rng.choice(["complaint", "complaint", "complaint", "help"])))

    def letters_of(one_at_a_time: bool) -> list[tuple[str, str]]:
        world_iter = followup_world(None, dedup=dedup.Params(mode="off"))  # every record its own ticket
        world = next(world_iter)
        try:
            if one_at_a_time:
                for r in sorted(requests, key=lambda r: r.received_at):
                    submit(world.factory, r)
            else:
                with unit_of_work(world.factory) as s:
                    services.receive(s, requests, now=MONDAY_9)
            with world.factory() as s:
                return [(s.get(Ticket, lt.ticket_id).number, lt.text) for lt in
                        s.scalars(select(ReminderLetter).order_by(ReminderLetter.ticket_id))]
        finally:
            next(world_iter, None)

    batch = letters_of(one_at_a_time=False)
    assert len(batch) >= 3 and {"同一来电人" in t for _n, t in batch} == {True, False}
    assert sorted(batch) == sorted(letters_of(one_at_a_time=True))


def test_the_overdue_sweep_goes_in_bounded_batches_of_whole_units(followup_world: FollowupWorld,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Many overdue at once (after an outage or an import): a transaction per batch of whole units,
    never one long transaction, and a unit's digest never split."""
    world = followup_world
    ids, now = overdue_world(world)  # three overdue at JN-LX-01 by now + 3 days
    later = now + timedelta(days=3)
    other = world.unit
    with unit_of_work(world.factory) as s:  # and one at another station
        t = s.get(Ticket, ids["contacted"])
        moved = Ticket(**{c.name: getattr(t, c.name) for c in Ticket.__table__.columns
                          if c.name not in ("id", "number", "version")}, number="MS-BATCH-1")
        moved.unit_id = other(s, "JN-LX-02").id
        s.add(moved)
    commits = []
    real = housekeeping.unit_of_work

    def counting(factory: Any) -> Any:
        commits.append(1)
        return real(factory)

    monkeypatch.setattr(supervision, "SWEEP_BATCH", 2)
    monkeypatch.setattr(housekeeping, "unit_of_work", counting)
    result = housekeeping.run_sweeps(world.factory, later, deliver={})
    assert result["supervision"] == {"orders_issued": 4, "digests": 1}
    issued = orders(world)
    assert len(issued) == 4
    with world.factory() as s:
        by_unit = {}
        for o in issued:
            by_unit.setdefault(s.get(Unit, o.unit_id).code, []).append(o)
    assert sorted(len(v) for v in by_unit.values()) == [1, 3]  # JN-LX-01's three together: one digest
    assert len(commits) >= len(housekeeping.SWEEPS) + 1  # the supervision sweep took two transactions
    assert housekeeping.run_sweeps(world.factory, later, deliver={})["supervision"] == {
        "orders_issued": 0, "digests": 0}


def test_no_automatic_order_for_a_deadline_older_than_the_window(followup_world: FollowupWorld) -> None:
    """A ticket late for longer than ``window_days`` never had the sweep watching it fall due
    (history, a replay, a long outage): no order; one within the window gets its order."""
    world = followup_world
    ids, now = overdue_world(world)
    with world.factory() as s:
        window = s.config.supervision.window_days
        due = s.get(Ticket, ids["dispatched"]).resolve_due_at
    assert window == 7
    housekeeping.run_sweeps(world.factory, due + timedelta(days=window, minutes=1), deliver={})
    assert ids["dispatched"] not in {o.ticket_id for o in orders(world)}  # ("fresh" fell due later: ordered)
    result = housekeeping.run_sweeps(world.factory, due + timedelta(days=window, minutes=-1), deliver={})
    assert result["supervision"]["orders_issued"] >= 1
    assert ids["dispatched"] in {o.ticket_id for o in orders(world)}
