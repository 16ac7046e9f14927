"""The service layer on each database (SQLite and a real PostgreSQL with the migrations):
stale versions, two writers of one ticket, 拆分 and its records and figures, 已阅, the
stored form of a ticket taken in. The rest: tests/unit/test_services.py."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from tests.helpers import MONDAY_9, TZ, FollowupWorld, events, merged_pair, new_request, number_of, submit
from tickets import alerts, lifecycle, services
from tickets.errors import Conflict, IllegalStep, Invalid, NotAllowed, NotFound
from tickets.figures import period_bounds, tally_sql
from tickets.models import Alert, IntakeRecord, OutboxMessage, Ticket, Unit
from tickets.uow import unit_of_work

AT = MONDAY_9 + timedelta(hours=3)  # when the steps below are taken: before any resolve deadline


# ---------------------------------------------------------------- versions
def test_a_step_on_a_stale_version_is_a_conflict_and_changes_nothing(followup_world_each_db: FollowupWorld) -> None:
    world = followup_world_each_db
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


def test_two_writers_of_one_ticket_cannot_both_win(followup_world_each_db: FollowupWorld) -> None:
    """Without a version from a screen the ORM's own check stands: the second of two
    transactions that read the same version and change the ticket is refused, not merged."""
    from sqlalchemy.orm.exc import StaleDataError

    world = followup_world_each_db
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


# ------------------------------------------------------------------- 拆分
def records_of(s: Session, ticket_id: int) -> list[tuple[str, bool]]:
    return [(r.channel, r.merged) for r in s.scalars(select(IntakeRecord).where(IntakeRecord.ticket_id == ticket_id)
                                                      .order_by(IntakeRecord.id))]


def test_unmerge_gives_back_the_records_with_their_flags_and_the_figures_before_the_merge(
        followup_world_each_db: FollowupWorld) -> None:
    world = followup_world_each_db
    start, end = period_bounds(MONDAY_9.date(), MONDAY_9.date(), TZ)
    now = MONDAY_9 + timedelta(hours=2)
    a, b = merged_pair(world)
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


# ------------------------------------------------------------------- 已阅
def _alert(world: FollowupWorld, unit_code: str = "JN-LX", status: str = "open") -> int:
    with unit_of_work(world.factory) as s:
        alert = Alert(key=f"surge:noise:历下区:{status}", kind="surge", topic="noise", area_kind="district",
                      area="历下区", area_name="历下区", unit_id=s.scalar(select(Unit.id).where(Unit.code == unit_code)),
                      count=18, baseline=3.0, threshold=10, reason="历下区噪音扰民投诉突增：18 起", status=status,
                      first_seen_at=MONDAY_9, last_seen_at=MONDAY_9, day=MONDAY_9.date())
        s.add(alert)
        s.flush()
        return alert.id


def test_acknowledging_an_alert_records_who_and_tells_the_screens(followup_world_each_db: FollowupWorld) -> None:
    world = followup_world_each_db
    alert_id = _alert(world)
    with unit_of_work(world.factory) as s:
        # a viewer may not; a station officer may not either
        world.refuse(s, ("viewer", "officer"), lambda actor: alerts.acknowledge(s, s.get(Alert, alert_id), AT, actor))
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
def test_a_ticket_taken_in_is_stored_as_the_orm_stores_it(followup_world_each_db: FollowupWorld) -> None:
    """The batch writer puts timestamps down in the form the ORM binds them in, so a query
    for an instant finds the rows written at it (on SQLite the form is text)."""
    world = followup_world_each_db
    at = MONDAY_9.replace(minute=7)
    ticket = submit(world.factory, new_request(at))
    with world.factory() as s:
        assert s.scalar(select(Ticket.id).where(Ticket.received_at == at)) == ticket.id
        assert s.scalar(select(Ticket.id).where(Ticket.received_at >= at, Ticket.received_at <= at)) == ticket.id
        assert s.scalar(select(func.count()).select_from(IntakeRecord).where(IntakeRecord.received_at == at)) == 1
        if s.get_bind().dialect.name == "sqlite":
            stored = s.execute(text("SELECT received_at FROM tickets WHERE id = :id"), {"id": ticket.id}).scalar()
            assert stored == "2026-11-23 01:07:00.000000"
