"""The figures units are ranked by, defined once and computed twice.

Over a period P (local dates, by received time), after de-duplication:

- received: tickets received in P (merged duplicates are not tickets)
- intake_records: channel records received in P; duplicate_rate = merged records / records
- direct_dispatch_rate: tickets dispatched straight to a level-3 unit / tickets dispatched
- response_rate: contacted by the contact deadline / tickets with a contact deadline that were
  contacted or whose deadline passed (imported history without one is not counted)
- completion_rate: closed / due, where due = closed, or resolve deadline passed
- on_time_rate: closed by the resolve deadline / due (open overdue tickets count against it)
- satisfaction_rate: follow-ups answered 满意 or 基本满意 / follow-ups answered
- handling_hours_median/_mean: received → closed, in working hours (on the ticket's calendar)
- breaches_now: open tickets (received any time) past their contact or resolve deadline
- composite_score: weighted response, completion (or on-time) and satisfaction rates

The weekly bulletin's sub-rates (docs/FIGURES.md), over the same tickets:

- acceptance_rate (签收及时率): accepted by the contact deadline / tickets with a contact deadline,
  accepted or past it
- return_rate (退单率): returned at least once / dispatched
- redo_rate (重办率): redone at least once (sent back at review, or unsatisfied) / replied at least once

``tally_sql`` counts them with SQL aggregates for any period and unit subtree
(``tally_sql_by_unit``: per unit, for ``subtree_tally`` to sum over subtrees);
``TicketFacts.contribution`` is the same definition for one ticket, which the
live aggregator keeps up to date event by event. Tests hold the two to exact
agreement. Rates are fractions 0–1, or None when the denominator is zero.
"""
from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

import numpy as np
from sqlalchemy import and_, func, literal_column, or_, select, text, true
from sqlalchemy.orm import Session

from tickets import rollups
from tickets.counting import (
    SUB_COLUMNS,
    TALLY_COLUMNS,
    count_if,
    handling_time,
    sub_columns,
    tally_columns,
)
from tickets.models import HANDLING_UNKNOWN, UNSETTLED_PREDICATE, IntakeRecord, Ticket

SATISFIED_ANSWERS = frozenset({"satisfied", "basically_satisfied"})
COUNT_FIELDS = (
    "received", "intake_records", "merged_records", "dispatched", "direct", "response_due",
    "responded_on_time", "due", "closed", "closed_on_time", "follow_ups_answered", "follow_ups_satisfied",
)


@dataclass
class Tally:
    """The additive numbers every figure is a ratio or summary of."""

    received: int = 0
    intake_records: int = 0
    merged_records: int = 0
    dispatched: int = 0
    direct: int = 0
    response_due: int = 0
    responded_on_time: int = 0
    due: int = 0
    closed: int = 0
    closed_on_time: int = 0
    follow_ups_answered: int = 0
    follow_ups_satisfied: int = 0
    handling_hours: list[float] = field(default_factory=list)
    breaches_now: int = 0

    def add(self, other: Tally) -> Tally:
        for name in COUNT_FIELDS + ("breaches_now",):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.handling_hours.extend(other.handling_hours)  # its own list (a subtree's: ~1M values a year)
        return self

    def counts(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in COUNT_FIELDS}


@dataclass(frozen=True)
class RankingPolicy:
    """Composite weights (configuration; a common scheme is 30/35/35)."""

    response: float = 0.30
    completion: float = 0.35
    satisfaction: float = 0.35
    # "completion" or "on_time": which rate the middle weight applies to.
    completion_measure: str = "on_time"
    min_tickets: int = 10

    @classmethod
    def from_settings(cls, settings: Any) -> RankingPolicy:
        if settings.composite_completion_measure not in ("on_time", "completion"):
            raise ValueError("composite_completion_measure must be on_time or completion")
        return cls(
            response=settings.composite_weight_response,
            completion=settings.composite_weight_completion,
            satisfaction=settings.composite_weight_satisfaction,
            completion_measure=settings.composite_completion_measure,
            min_tickets=settings.ranking_min_tickets,
        )


def _rate(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def composite(rates: dict[str, float | None], policy: RankingPolicy) -> float | None:
    """Weighted mean of the available rates; a rate with no denominator drops out
    and the remaining weights are rescaled, so a unit with no follow-ups yet is
    judged on what it has. None when no rate is available."""
    parts = [
        (policy.response, rates["response_rate"]),
        (policy.completion, rates[f"{policy.completion_measure}_rate"]),
        (policy.satisfaction, rates["satisfaction_rate"]),
    ]
    available = [(w, r) for w, r in parts if r is not None and w > 0]
    total = sum(w for w, _ in available)
    if not available or total == 0:
        return None
    return sum(w * r for w, r in available) / total


def figures(tally: Tally, policy: RankingPolicy | None = None, sub: SubTally | None = None) -> dict[str, Any]:
    """The API's figures from a tally, and the sub-rates (签收及时率, 退单率, 重办率) from ``sub`` if
    given (their counts join ``counts``; ``sub_dispatched`` is the sub-tally's own count of the
    dispatched, equal to ``dispatched``)."""
    policy = policy or RankingPolicy()
    hours = tally.handling_hours
    out: dict[str, Any] = {
        "received": tally.received,
        "intake_records": tally.intake_records,
        "duplicate_rate": _rate(tally.merged_records, tally.intake_records),
        "direct_dispatch_rate": _rate(tally.direct, tally.dispatched),
        "response_rate": _rate(tally.responded_on_time, tally.response_due),
        "completion_rate": _rate(tally.closed, tally.due),
        "on_time_rate": _rate(tally.closed_on_time, tally.due),
        "satisfaction_rate": _rate(tally.follow_ups_satisfied, tally.follow_ups_answered),
        # numpy selects the middle (the two middles' mean, as statistics.median) without sorting a
        # year's million values in Python.
        "handling_hours_median": round(float(np.median(np.asarray(hours, dtype=float))), 4) if hours else None,
        "handling_hours_mean": round(statistics.fmean(hours), 4) if hours else None,
        "breaches_now": tally.breaches_now,
    }
    out["composite_score"] = composite(out, policy)
    out["counts"] = tally.counts()
    if sub is not None:
        out.update(sub_rates(sub))
        out["counts"].update({("sub_dispatched" if k == "dispatched" else k): v for k, v in sub.counts().items()})
    return out


def rank(rows: list[dict[str, Any]], policy: RankingPolicy) -> list[dict[str, Any]]:
    """Rank rows of ``figures`` (each with its ``unit`` code) in place, best composite first: a
    unit under ``policy.min_tickets`` received, or with no rate yet, is listed unranked with
    ``unranked_reason``. Ties of the score go to the better on-time rate, then the larger
    volume, then the code. Returns the rows ranked first, the unranked after them by code."""
    ranked = [r for r in rows if r["received"] >= policy.min_tickets and r["composite_score"] is not None]
    ranked.sort(key=lambda r: (-r["composite_score"], -(r["on_time_rate"] or 0), -r["received"], r["unit"]))
    for position, row in enumerate(ranked, start=1):
        row["rank"] = position
    for row in rows:
        row.setdefault("rank", None)
        if row["rank"] is None:
            row["unranked_reason"] = (
                f"fewer than {policy.min_tickets} tickets" if row["received"] < policy.min_tickets
                else "no rate available yet"
            )
    rows.sort(key=lambda r: (r["rank"] is None, r["rank"] or 0, r["unit"]))
    return rows


# ------------------------------------------------------------------ periods
def period_bounds(first: date, last: date, tz: Any) -> tuple[datetime, datetime]:
    """Local dates first..last inclusive, as a half-open UTC-aware interval."""
    if last < first:
        raise ValueError(f"period ends ({last}) before it starts ({first})")
    return datetime.combine(first, time(0), tz), datetime.combine(last + timedelta(days=1), time(0), tz)


# ---------------------------------------------------------------------- SQL
def tally_sql(
    session: Session, start: datetime, end: datetime, now: datetime, tz: Any,
    unit_ids: Iterable[int] | None = None,
) -> Tally:
    """A fresh recomputation from the database: the reference the live counters must match."""
    return sum_tallies(tally_sql_by_unit(session, start, end, now, tz, unit_ids).values())


def _period_tickets(start: datetime, end: datetime, scope: list[int] | None) -> Any:
    """The tickets a period's figures count: received in it, not merged into another, in scope."""
    where = and_(Ticket.received_at >= start, Ticket.received_at < end, Ticket.status != "merged")
    return and_(where, Ticket.unit_id.in_(scope)) if scope is not None else where


def tally_sql_by_unit(
    session: Session, start: datetime, end: datetime, now: datetime, tz: Any,
    unit_ids: Iterable[int] | None = None, *, handling_hours: bool = True, breaches: bool = True,
    subs: dict[int | None, SubTally] | None = None, use_rollups: bool = True,
) -> dict[int | None, Tally]:
    """Every unit's own tally (not its subtree), each aggregate grouped by unit.

    Units with nothing to count are absent; tickets with no unit count under None.
    ``handling_hours`` / ``breaches`` False: those two are left empty (the bulletin's trend
    shows neither; breaches look at every open ticket whatever the period). ``subs``, if given,
    is filled with every unit's ``SubTally`` from the same reads. On PostgreSQL, whole local
    days come from the maintained rows (``tickets.rollups``) plus a scan of the period's
    unsettled tickets; otherwise (or ``use_rollups`` False) from a scan of all of them."""
    scope = list(unit_ids) if unit_ids is not None else None
    in_period = _period_tickets(start, end, scope)
    by_unit: dict[int | None, Tally] = {}
    subs_found: dict[int | None, SubTally] = {} if subs is None else subs
    span = rollups.days(start, end, tz) if use_rollups else None
    from_rows = span is not None and rollups.valid(session, tz)
    if span is not None and from_rows:
        counts, hours = rollups.period_rows(session, span[0], span[1], scope, handling_hours)
        n, m = len(TALLY_COLUMNS), len(SUB_COLUMNS)
        for unit_id, *row in counts:
            key = None if unit_id == rollups.NO_UNIT else unit_id
            tally = by_unit[key] = Tally(**dict(zip(TALLY_COLUMNS, row[:n])))
            tally.intake_records, tally.merged_records = row[n + m], row[n + m + 1]
            tally.handling_hours = hours.get(unit_id, [])
            subs_found[key] = SubTally(*row[n:n + m])
        # The rest, the unsettled: a few hundred tickets, all of them in a partial index. The period
        # is applied to them as a filter the received_at index cannot serve (+ 0 s), or PostgreSQL,
        # misjudging how few they are, walked a month of tickets by that index instead (70 ms).
        not_by_index = Ticket.received_at + literal_column("interval '0 seconds'")
        in_period = and_(not_by_index >= start, not_by_index < end, Ticket.status != "merged", text(UNSETTLED_PREDICATE),
                         Ticket.unit_id.in_(scope) if scope is not None else true())

    counted = tally_columns(now)
    more = sub_columns(now)
    known_hours = and_(Ticket.status == "closed", Ticket.handling_hours.is_not(None))
    # PostgreSQL gathers the closed tickets' hours in the same scan (one array per unit); SQLite,
    # which has no arrays, reads them in a second query below.
    gather = handling_hours and session.get_bind().dialect.name == "postgresql"
    hours_column = [func.array_agg(Ticket.handling_hours).filter(known_hours)] if gather else []
    for unit_id, *row in session.execute(
        select(Ticket.unit_id, *counted, *more, *hours_column).where(in_period).group_by(Ticket.unit_id)
    ):
        scanned = Tally(**dict(zip(TALLY_COLUMNS, row[:len(counted)])))
        if gather:
            scanned.handling_hours = list(row[-1] or ())
        by_unit.setdefault(unit_id, Tally()).add(scanned)
        subs_found.setdefault(unit_id, SubTally()).add(SubTally(*row[len(counted):len(counted) + len(more)]))

    if not from_rows:
        # Records are counted by their own received time, under their ticket's unit now. Nearly
        # all belong to the period's own tickets, joined by hash; the others are looked up one by
        # one. (Joined to all tickets, PostgreSQL scanned every ticket; looked up one by one, each
        # of a month's 91,330 records cost a primary-key probe: docs/PERFORMANCE.md.)
        period = select(Ticket.id, Ticket.unit_id).where(Ticket.received_at >= start, Ticket.received_at < end) \
            .subquery()
        elsewhere = select(Ticket.unit_id).where(Ticket.id == IntakeRecord.ticket_id).scalar_subquery()
        unit = func.coalesce(period.c.unit_id, elsewhere).label("unit_id")
        records = (select(unit, IntakeRecord.merged).select_from(IntakeRecord)
                   .outerjoin(period, period.c.id == IntakeRecord.ticket_id)
                   .where(IntakeRecord.received_at >= start, IntakeRecord.received_at < end).subquery())
        for unit_id, n_records, merged in session.execute(
            select(records.c.unit_id, func.count(), count_if(records.c.merged.is_(True)))
            .where(records.c.unit_id.in_(scope) if scope is not None else true()).group_by(records.c.unit_id)
        ):
            tally = by_unit.setdefault(unit_id, Tally())
            tally.intake_records, tally.merged_records = n_records, merged

    if handling_hours:
        for unit_id, value in () if gather else session.execute(
            select(Ticket.unit_id, Ticket.handling_hours).where(in_period, known_hours)
        ):
            by_unit.setdefault(unit_id, Tally()).handling_hours.append(value or 0.0)  # NOT NULL here
        # Closed before it was stored (migration 0016, until the housekeeping sweep fills it in).
        for unit_id, received, closed_at, calendar in session.execute(
            select(Ticket.unit_id, Ticket.received_at, Ticket.closed_at, Ticket.calendar)
            .where(text(HANDLING_UNKNOWN), in_period)  # the partial index's words: it finds them
        ):
            if closed_at is not None:  # closed: always
                by_unit.setdefault(unit_id, Tally()).handling_hours.append(
                    handling_time(received, closed_at, tz, calendar))

    if breaches:
        in_scope = Ticket.unit_id.in_(scope) if scope is not None else true()
        for unit_id, late in session.execute(
            select(Ticket.unit_id, func.count()).where(
                Ticket.status.not_in(("closed", "merged")), in_scope,
                or_(and_(Ticket.contacted_at.is_(None), Ticket.contact_due_at <= now), Ticket.resolve_due_at <= now),
            ).group_by(Ticket.unit_id)
        ):
            by_unit.setdefault(unit_id, Tally()).breaches_now = late
    return by_unit


def sum_tallies(tallies: Iterable[Tally]) -> Tally:
    total = Tally()
    for tally in tallies:
        total.add(tally)
    return total


def subtree_tally(by_unit: Mapping[int | None, Tally], unit_ids: Iterable[int]) -> Tally:
    """A subtree's tally from per-unit tallies (``tally_sql_by_unit`` or the live ones)."""
    return sum_tallies(by_unit[u] for u in unit_ids if u in by_unit)


# ------------------------------------------------------------ sub-rates (SQL)
SUB_FIELDS = ("accept_due", "accepted_on_time", "dispatched", "returned", "replied", "redone")


@dataclass
class SubTally:
    """The additive numbers of the bulletin's sub-rates (签收及时率, 退单率, 重办率)."""

    accept_due: int = 0
    accepted_on_time: int = 0
    dispatched: int = 0
    returned: int = 0
    replied: int = 0
    redone: int = 0

    def add(self, other: SubTally) -> SubTally:
        for name in SUB_FIELDS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        return self

    def counts(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in SUB_FIELDS}


def sub_rates(sub: SubTally) -> dict[str, float | None]:
    return {
        "acceptance_rate": _rate(sub.accepted_on_time, sub.accept_due),
        "return_rate": _rate(sub.returned, sub.dispatched),
        "redo_rate": _rate(sub.redone, sub.replied),
    }


def sub_tally_sql_by_unit(
    session: Session, start: datetime, end: datetime, now: datetime, unit_ids: Iterable[int] | None = None,
) -> dict[int | None, SubTally]:
    """Every unit's own sub-rate counts over the tickets received in [start, end), in one query
    (``tally_sql_by_unit(subs=…)`` counts them in its own scan)."""
    scope = list(unit_ids) if unit_ids is not None else None
    stmt = select(Ticket.unit_id, *sub_columns(now)).where(_period_tickets(start, end, scope))
    return {unit_id: SubTally(*row) for unit_id, *row in session.execute(stmt.group_by(Ticket.unit_id))}


def sum_sub_tallies(subs: Iterable[SubTally]) -> SubTally:
    total = SubTally()
    for sub in subs:
        total.add(sub)
    return total


def subtree_sub_tally(by_unit: Mapping[int | None, SubTally], unit_ids: Iterable[int]) -> SubTally:
    return sum_sub_tallies(by_unit[u] for u in unit_ids if u in by_unit)


# --------------------------------------------------------------- per ticket
@dataclass
class TicketFacts:
    """What the figures need to know about one ticket, kept live by the aggregator."""

    ticket_id: int
    unit_id: int | None
    received_in_period: bool
    status: str
    dispatched: bool = False
    direct: bool = False
    contacted_at: str | None = None
    contact_due_at: str | None = None
    resolve_due_at: str | None = None
    closed_at: str | None = None
    handling_hours: float | None = None
    records: int = 0  # intake records received in the period, now attached to this ticket
    merged_records: int = 0
    follow_ups_answered: int = 0
    follow_ups_satisfied: int = 0

    def contribution(self, now: datetime) -> Tally:
        """This ticket's share of its unit's tally at ``now`` (same rules as ``tally_sql``)."""
        t = Tally(intake_records=self.records, merged_records=self.merged_records)
        if not self.received_in_period or self.status == "merged":
            return t
        contacted = _at(self.contacted_at)
        contact_due, resolve_due, closed_at = _at(self.contact_due_at), _at(self.resolve_due_at), _at(self.closed_at)
        closed = self.status == "closed"
        t.received = 1
        t.dispatched = int(self.dispatched)
        t.direct = int(self.direct)
        t.response_due = int(contact_due is not None and (contacted is not None or contact_due <= now))
        t.responded_on_time = int(contacted is not None and contact_due is not None and contacted <= contact_due)
        t.due = int(closed or (resolve_due is not None and resolve_due <= now))
        t.closed = int(closed)
        t.closed_on_time = int(closed and closed_at is not None and resolve_due is not None and closed_at <= resolve_due)
        t.follow_ups_answered = self.follow_ups_answered
        t.follow_ups_satisfied = self.follow_ups_satisfied
        if closed and self.handling_hours is not None:
            t.handling_hours = [self.handling_hours]
        return t

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)  # flat fields: dataclasses.asdict's deep copy cost the aggregator more


def _at(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None
