"""What the figures count, kept on the ticket by the steps (handling hours, 退单, follow-ups
answered and satisfied), equals what the timeline and the follow-ups say; migration 0016 fills
it in for tickets from before it, and the housekeeping sweep the handling hours, while the
figures stay the same throughout (on SQLite and PostgreSQL)."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from tests.helpers import TZ, handled, inbound, new_request, reply, submit
from tests.helpers import followup_world as build_world
from tickets import lifecycle
from tickets.figures import SATISFIED_ANSWERS, handling_time, period_bounds, tally_sql
from tickets.rollups import fill_handling_hours
from tickets.housekeeping import run_sweeps
from tickets.models import FollowUp, Ticket, TicketEvent, Unit
from tickets.schema import downgrade, upgrade
from tickets.uow import unit_of_work

MONDAY_9 = datetime(2026, 11, 23, 9, 0, tzinfo=TZ)
FACTS = ("handling_hours", "returned", "follow_ups_answered", "follow_ups_satisfied")


def a_week(world: Any) -> None:
    """Tickets down every path that changes a fact: satisfied at once; unsatisfied, redone and
    then basically satisfied; returned and sent on; closed on a Friday evening, across a weekend."""
    first = handled(world, MONDAY_9)
    reply(world, first, MONDAY_9 + timedelta(hours=2))
    assert inbound(world, "1", MONDAY_9 + timedelta(hours=3)) == "closed"
    second = handled(world, MONDAY_9 + timedelta(days=1), phone="13900000002")
    reply(world, second, MONDAY_9 + timedelta(days=1, hours=2))
    inbound(world, "3", MONDAY_9 + timedelta(days=1, hours=3), phone="13900000002")
    reply(world, second, MONDAY_9 + timedelta(days=3, hours=8))  # Thursday 17:00
    assert inbound(world, "2", MONDAY_9 + timedelta(days=4, hours=10), phone="13900000002") == "closed"
    third = submit(world.factory, replace(new_request(MONDAY_9 + timedelta(days=2)), external_id="FACTS-3"))
    with unit_of_work(world.factory) as s:
        t = s.get(Ticket, third.id)
        lifecycle.return_ticket(s, t, MONDAY_9 + timedelta(days=2, hours=1), lifecycle.SYSTEM, "非本单位管辖")
        station = s.scalar(select(Unit).where(Unit.code == "JN-LX-01"))
        lifecycle.dispatch(s, t, station, MONDAY_9 + timedelta(days=2, hours=2))
    submit(world.factory, replace(new_request(MONDAY_9 + timedelta(days=3)), external_id="FACTS-4"))  # open


def facts(world: Any) -> dict[int, tuple[Any, ...]]:
    with world.factory() as s:
        return {t.id: tuple(getattr(t, f) for f in FACTS) for t in s.scalars(select(Ticket))}


def from_the_record(world: Any) -> dict[int, tuple[Any, ...]]:
    """The same facts worked out from the timeline and the follow-ups."""
    with world.factory() as s:
        out = {}
        for t in s.scalars(select(Ticket)):
            answers = s.scalars(select(FollowUp.answer).where(
                FollowUp.ticket_id == t.id, FollowUp.status == "answered")).all()
            returned = s.scalar(select(func.count()).where(TicketEvent.ticket_id == t.id, TicketEvent.kind == "return"))
            hours = handling_time(t.received_at, t.closed_at, TZ, t.calendar) if t.status == "closed" else None
            out[t.id] = (hours, bool(returned), len(answers), sum(a in SATISFIED_ANSWERS for a in answers))
        return out


def the_week_figures(world: Any) -> Any:
    start, end = period_bounds(MONDAY_9.date(), MONDAY_9.date() + timedelta(days=6), TZ)
    with world.factory() as s:
        tally = tally_sql(s, start, end, MONDAY_9 + timedelta(days=7), TZ)
    return tally.counts(), sorted(tally.handling_hours)


def test_the_steps_keep_the_facts_and_0016_fills_them_in(database_url: str) -> None:
    world = next(build_world(database_url))
    a_week(world)
    kept = facts(world)
    assert kept == from_the_record(world)
    # Every fact took a value other than its default somewhere (the test can fail).
    assert {k[1] for k in kept.values()} == {True, False} and max(k[2] for k in kept.values()) == 2
    assert sorted(k[3] for k in kept.values()) == [0, 0, 1, 1]
    assert sum(k[0] is not None for k in kept.values()) == 2 and all(k[0] is None or k[0] > 0 for k in kept.values())
    counts, hours = the_week_figures(world)
    assert counts["follow_ups_answered"] == 3 and counts["follow_ups_satisfied"] == 2 and len(hours) == 2

    # A database from before 0016: the columns come back filled, all but the handling hours.
    world.engine.dispose()
    downgrade(database_url, "0015")
    upgrade(database_url)
    world.reconfigure()
    before_sweep = facts(world)
    assert {t: f[1:] for t, f in before_sweep.items()} == {t: f[1:] for t, f in kept.items()}
    assert all(f[0] is None for f in before_sweep.values())
    assert the_week_figures(world) == (counts, hours)  # computed for the tickets without them

    with unit_of_work(world.factory) as s:
        versions = {i: v for i, v in s.execute(select(Ticket.id, Ticket.version))}
        assert fill_handling_hours(s, MONDAY_9, limit=1) == {"filled": 1, "more": 1}
    done = run_sweeps(world.factory, MONDAY_9 + timedelta(days=8), deliver={})
    assert done["handling_hours"] == {"filled": 1}
    assert facts(world) == kept and the_week_figures(world) == (counts, hours)
    with world.factory() as s:  # a derived fact, not a change: nobody's open copy went stale
        assert {i: v for i, v in s.execute(select(Ticket.id, Ticket.version))} == versions
    world.engine.dispose()
