"""Versions of the deadline rules (tickets/sla_versions.py, tickets/sla.py's version_at): a version
applies to tickets dispatched from its instant, a ticket keeps its version, history is not rewritten."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.helpers import SLA_OVERRIDES as OVERRIDES
from tests.helpers import TZ, new_request, submit
from tickets import bulletin, calendars, lifecycle, sla, sla_versions
from tickets.errors import IllegalStep, Invalid, NotAllowed, NotFound
from tickets.models import AuditEntry, SlaRuleVersion, Ticket, TicketEvent
from tickets.roles import SYSTEM, Actor
from tickets.uow import unit_of_work

pytestmark = pytest.mark.usefixtures("fresh_sla_state")

ADMIN = Actor(name="pt_admin", role="admin")
LEAD = timedelta(minutes=10)
T = datetime.fromisoformat("2026-11-24T12:00:00+08:00")  # a Tuesday noon: the new version's instant
SLOWER = {"contact_hours": 2, "resolve_working_days": {"service": 2}}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def make(factory: sessionmaker[Session], rules: Any = SLOWER, effective_from: datetime = T,
         now: datetime | None = None, actor: Actor = ADMIN, note: str | None = "按局务会决定放宽时限") -> int:
    with unit_of_work(factory) as s:
        number = sla_versions.create_version(s, actor, rules, effective_from, note, lead=LEAD,
                                             now=now or effective_from - timedelta(hours=1)).number
    with factory() as s:  # as every process does within minutes (sla.refresh_if_stale)
        sla.load_rule_versions(s)
    return number


def deadlines_event(factory: sessionmaker[Session], ticket_id: int, kind: str) -> dict[str, Any]:
    with factory() as s:
        data = s.scalars(select(TicketEvent.data).where(TicketEvent.ticket_id == ticket_id, TicketEvent.kind == kind)
                         .order_by(TicketEvent.id.desc())).first()
    assert data is not None
    return dict(data["deadlines"])


def test_a_version_applies_to_tickets_dispatched_from_its_instant_and_they_keep_it(
        small_bureau_db: sessionmaker[Session]) -> None:
    v1 = sla.file_policy().for_ticket("noise", "hotline_12345").version
    assert make(small_bureau_db) == 2
    v2 = sla.version_at(T).book.for_ticket("noise", "hotline_12345").version
    before = submit(small_bureau_db, new_request(T - timedelta(seconds=1)))
    after = submit(small_bureau_db, new_request(T))
    # Before T: version 1 (contact 1 h, one working day); from T: version 2 (2 h, two working days).
    assert before.contact_due_at == T - timedelta(seconds=1) + timedelta(hours=1)
    assert before.resolve_due_at == at("2026-11-25T11:59:59+08:00")
    assert after.contact_due_at == T + timedelta(hours=2)
    assert after.resolve_due_at == at("2026-11-26T12:00:00+08:00")
    assert deadlines_event(small_bureau_db, before.id, "dispatched")["policy"] == f"v1 ({v1})"
    assert deadlines_event(small_bureau_db, after.id, "dispatched")["policy"] == f"v2 ({v2})"
    # A redo after T keeps the ticket's version: one working day from the redo, not two.
    with unit_of_work(small_bureau_db) as s:
        t = s.get(Ticket, before.id)
        for step, when in [(lifecycle.contact, "2026-11-24T12:30"), (lifecycle.report, "2026-11-24T14:00"),
                           (lifecycle.approve, "2026-11-24T14:10"), (lifecycle.reply, "2026-11-24T14:20")]:
            step(s, t, at(when + ":00+08:00"), SYSTEM)
        lifecycle.redo(s, t, at("2026-11-25T09:00:00+08:00"), level=2)
        assert t.resolve_due_at == at("2026-11-26T09:00:00+08:00")
    assert deadlines_event(small_bureau_db, before.id, "redo")["policy"] == f"v1 ({v1})"


def test_version_1_is_stored_from_the_file_so_the_past_keeps_its_rules(small_bureau_db: sessionmaker[Session]) -> None:
    file_rules = sla.to_document(sla.file_policy())
    make(small_bureau_db)
    with small_bureau_db() as s:
        rows = s.scalars(select(SlaRuleVersion).order_by(SlaRuleVersion.number)).all()
        assert [(r.number, r.effective_from, r.created_by) for r in rows] == [(1, None, "system"), (2, T, "pt_admin")]
        assert rows[0].rules == file_rules and rows[1].rules["contact_hours"] == 2
        audit = s.scalars(select(AuditEntry).where(AuditEntry.action == "sla_version_create")).all()
    assert [(a.actor, a.target) for a in audit] == [("pt_admin", "v2")]
    assert {"rule": "contact_hours", "from": 1.0, "to": 2.0} in audit[0].details["changes"]
    assert sla.version_at(T - timedelta(microseconds=1)).number == 1 and sla.version_at(T).number == 2


@pytest.mark.parametrize("change, code", [
    ({"actor": Actor(name="pt_super", role="supervisor")}, NotAllowed),
    ({"now": T - timedelta(minutes=5)}, "sla_version_too_soon"),   # inside the lead: a process may not know it yet
    ({"now": T + timedelta(days=1)}, "sla_version_too_soon"),      # in the past: history is not re-judged
    ({"rules": {"contact_hours": 0}}, "sla_rules_invalid"),
    ({"rules": {"topics": {"nonsense": {}}}}, "sla_rules_invalid"),
    ({"rules": {"channels": {"cad_110": {"contact_hours": 1e300}}}}, "sla_rules_invalid"),  # bounded
    ({"rules": {"resolve_working_days": {"service": 1000}}}, "sla_rules_invalid"),
    ({"rules": {}}, "sla_version_unchanged"),
    ({"note": "  "}, "text_required"),
    ({"effective_from": T.replace(tzinfo=None)}, "naive_time"),
])
def test_refusals(empty_db: sessionmaker[Session], change: dict[str, Any], code: Any) -> None:
    with pytest.raises(NotAllowed if code is NotAllowed else Invalid) as refused:
        make(empty_db, **change)
    if code is not NotAllowed:
        assert refused.value.code == code
    with empty_db() as s:
        assert s.scalars(select(SlaRuleVersion)).all() == []  # nothing stored, not even version 1


def test_a_version_must_follow_every_version_made(small_bureau_db: sessionmaker[Session]) -> None:
    make(small_bureau_db, effective_from=T + timedelta(days=7), now=T - timedelta(hours=1))
    with pytest.raises(Invalid) as refused:  # a pending version is not undercut by an earlier one
        make(small_bureau_db, {"contact_hours": 3}, effective_from=T, now=T - timedelta(hours=1))
    assert refused.value.code == "sla_version_not_after"
    assert make(small_bureau_db, {"contact_hours": 3}, effective_from=T + timedelta(days=8)) == 3
    assert [v.number for v in sla.versions_between(T, T + timedelta(days=9))] == [1, 2, 3]
    # The week of 30 Nov: v1 until Tuesday noon, v2 until Wednesday noon, then v3.
    _, _, start, end = bulletin.week_bounds(bulletin.week_of((T + timedelta(days=7)).date()), TZ)
    assert sla.label_between(start, end) == ", ".join(v.label for v in sla.rule_versions())
    _, _, start, end = bulletin.week_bounds(bulletin.week_of((T + timedelta(days=14)).date()), TZ)
    assert sla.label_between(start, end) == sla.rule_versions()[2].label


def test_the_document_reads_back_to_the_same_rules() -> None:
    book = sla.parse_policy(__import__("yaml").safe_load(OVERRIDES), "overrides")
    again = sla.parse_policy(sla.to_document(book), "again")
    assert again.fingerprint == book.fingerprint
    for topic in (None, "fraud", "noise"):
        for channel in (None, "cad_110"):
            assert again.for_ticket(topic, channel) == book.for_ticket(topic, channel)


starts = st.datetimes(min_value=datetime(2026, 9, 20), max_value=datetime(2026, 10, 12), timezones=st.just(TZ))


@settings(max_examples=300, deadline=None)
@given(start=starts, hours=st.sampled_from([0.25, 3.75, 7.5, 7.5 + 4, 15.0, 3.5, 7.0]),
       calendar=st.sampled_from([None, "weekdays|08:00-17:00"]))
def test_the_week_clock_agrees_with_add_working_hours(start: datetime, hours: float, calendar: str | None) -> None:
    """Across the National Day holiday, on the official and a source's calendar."""
    policy = sla.DEFAULT_POLICY
    cal = calendars.from_key(calendar)
    clock = sla_versions._WorkingClock(datetime(2026, 9, 19, tzinfo=TZ), datetime(2026, 11, 30, tzinfo=TZ), TZ,
                                       policy, cal)
    assert clock.add(start, hours) == sla.add_working_hours(start, hours, TZ, policy, cal)


def test_rejudging_a_week_counts_from_the_tickets(small_bureau_db: sessionmaker[Session]) -> None:
    """Three tickets of the week of 16 Nov: one contacted late under a 30-minute contact rule
    only, one closed on the second working day (late now, on time under two days), one open."""
    monday = at("2026-11-16T09:00:00+08:00")
    tickets = [submit(small_bureau_db, new_request(monday + timedelta(hours=i))) for i in range(3)]
    with unit_of_work(small_bureau_db) as s:
        first, second, _ = (s.get(Ticket, t.id) for t in tickets)
        lifecycle.contact(s, first, monday + timedelta(minutes=45), SYSTEM)
        lifecycle.contact(s, second, monday + timedelta(hours=1, minutes=20), SYSTEM)
        for step in (lifecycle.report, lifecycle.approve, lifecycle.reply, lifecycle.close):
            step(s, second, at("2026-11-17T15:00:00+08:00"), SYSTEM)
    now = at("2026-11-23T08:00:00+08:00")
    draft = sla_versions.parse_draft({"contact_hours": 0.5, "resolve_working_days": {"service": 2}})
    with small_bureau_db() as s:
        result = sla_versions.rejudge(s, draft, "2026-W47", now, TZ)
        stored = s.scalars(select(Ticket).where(Ticket.id.in_([t.id for t in tickets]))).all()
    total = result.total
    assert (total.before.tickets, total.after.tickets) == (3, 3)
    # the third never contacted; the second closed on the second working day; the first and third open past due
    late_contact = sum(1 for t in stored if t.contacted_at is None or t.contacted_at > t.contact_due_at)
    assert total.before.contact_breaches == late_contact == 1
    assert total.after.contact_breaches == 2  # the first's 45 minutes are late under 30
    assert (total.before.due, total.before.on_time, total.before.resolve_breaches) == (3, 0, 3)
    assert (total.after.due, total.after.on_time, total.after.resolve_breaches) == (3, 1, 2)
    assert total.before.on_time_rate == 0 and total.after.on_time_rate == pytest.approx(1 / 3)
    assert [r.code for r in result.branches] == ["JN-LX"] and result.branches[0].after.on_time == 1
    assert sla_versions.last_week(now, TZ) == "2026-W47"


def test_every_process_reads_a_new_version_with_the_calendar(small_bureau_db: sessionmaker[Session]) -> None:
    """A version stored by another process reaches this one by ``refresh_if_stale`` (the
    refresh loop, and each dispatch's check), no restart; a dispatch then uses it."""
    with unit_of_work(small_bureau_db) as s:  # made elsewhere: this process is not told
        sla_versions.create_version(s, ADMIN, SLOWER, T, "另一进程", lead=LEAD, now=T - timedelta(hours=1))
    assert sla.version_at(T).number == 1
    assert sla.refresh_if_stale(small_bureau_db, max_age_seconds=0)
    assert sla.version_at(T).number == 2
    assert submit(small_bureau_db, new_request(T)).contact_due_at == T + timedelta(hours=2)


def test_a_version_not_yet_in_force_may_be_withdrawn_in_time(small_bureau_db: sessionmaker[Session]) -> None:
    make(small_bureau_db)  # v2 from T
    early = T - timedelta(hours=1)
    with unit_of_work(small_bureau_db) as s:
        with pytest.raises(NotAllowed):
            sla_versions.withdraw_version(s, Actor(name="pt_super", role="supervisor"), 2, lead=LEAD, now=early)
        for number, now, code in [(1, early, "sla_version_too_late"),  # version 1: in force
                                  (2, T - timedelta(minutes=5), "sla_version_too_late"),  # inside the lead
                                  (9, early, "unknown_sla_version")]:
            with pytest.raises((Invalid, NotFound)) as refused:
                sla_versions.withdraw_version(s, ADMIN, number, lead=LEAD, now=now)
            assert refused.value.code == code
        sla_versions.withdraw_version(s, ADMIN, 2, lead=LEAD, now=early)
        with pytest.raises(IllegalStep):
            sla_versions.withdraw_version(s, ADMIN, 2, lead=LEAD, now=early)
    with small_bureau_db() as s:
        sla.load_rule_versions(s)
        assert s.scalars(select(AuditEntry.target).where(AuditEntry.action == "sla_version_withdraw")).all() == ["v2"]
    assert sla.version_at(T).number == 1  # it never applies
    assert submit(small_bureau_db, new_request(T)).contact_due_at == T + timedelta(hours=1)
    # The next version follows version 1, numbered after the withdrawn one, and may take its instant.
    assert make(small_bureau_db, {"contact_hours": 3}, now=early) == 3
    assert sla.version_at(T).number == 3
