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

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from tickets.models import FollowUp, IntakeRecord, Ticket, TicketEvent

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
        self.handling_hours = self.handling_hours + other.handling_hours
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
    hours = sorted(tally.handling_hours)
    out: dict[str, Any] = {
        "received": tally.received,
        "intake_records": tally.intake_records,
        "duplicate_rate": _rate(tally.merged_records, tally.intake_records),
        "direct_dispatch_rate": _rate(tally.direct, tally.dispatched),
        "response_rate": _rate(tally.responded_on_time, tally.response_due),
        "completion_rate": _rate(tally.closed, tally.due),
        "on_time_rate": _rate(tally.closed_on_time, tally.due),
        "satisfaction_rate": _rate(tally.follow_ups_satisfied, tally.follow_ups_answered),
        "handling_hours_median": round(statistics.median(hours), 4) if hours else None,
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


def tally_sql_by_unit(
    session: Session, start: datetime, end: datetime, now: datetime, tz: Any,
    unit_ids: Iterable[int] | None = None, *, handling_hours: bool = True, breaches: bool = True,
) -> dict[int | None, Tally]:
    """Every unit's own tally (not its subtree), each aggregate grouped by unit in one query.

    Units with nothing to count are absent; tickets with no unit count under None.
    ``handling_hours`` / ``breaches`` False: those two are left empty (the bulletin's trend
    shows neither, and they cost the most: each closed ticket's working hours in Python, and
    a look at every open ticket whatever the period)."""
    scope = list(unit_ids) if unit_ids is not None else None
    in_period = and_(Ticket.received_at >= start, Ticket.received_at < end, Ticket.status != "merged")
    in_scope = Ticket.unit_id.in_(scope) if scope is not None else True
    closed = Ticket.status == "closed"
    by_unit: dict[int | None, Tally] = {}

    def count_if(condition: Any) -> Any:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    def per_unit(*columns: Any) -> Any:
        return select(Ticket.unit_id, *columns)

    for unit_id, *row in session.execute(
        per_unit(
            func.count(),
            count_if(Ticket.dispatched_at.is_not(None)),
            count_if(Ticket.direct_dispatch.is_(True)),
            count_if(and_(Ticket.contact_due_at.is_not(None),
                          or_(Ticket.contacted_at.is_not(None), Ticket.contact_due_at <= now))),
            count_if(and_(Ticket.contacted_at.is_not(None), Ticket.contacted_at <= Ticket.contact_due_at)),
            count_if(or_(closed, Ticket.resolve_due_at <= now)),
            count_if(closed),
            count_if(and_(closed, Ticket.closed_at <= Ticket.resolve_due_at)),
        ).where(in_period, in_scope).group_by(Ticket.unit_id)
    ):
        by_unit[unit_id] = Tally(**dict(zip(
            ("received", "dispatched", "direct", "response_due", "responded_on_time", "due", "closed",
             "closed_on_time"),
            row,
        )))

    for unit_id, records, merged in session.execute(
        per_unit(func.count(), count_if(IntakeRecord.merged.is_(True)))
        .select_from(IntakeRecord).join(Ticket, Ticket.id == IntakeRecord.ticket_id)
        .where(IntakeRecord.received_at >= start, IntakeRecord.received_at < end, in_scope)
        .group_by(Ticket.unit_id)
    ):
        tally = by_unit.setdefault(unit_id, Tally())
        tally.intake_records, tally.merged_records = records, merged

    for unit_id, answered, satisfied in session.execute(
        per_unit(func.count(), count_if(FollowUp.answer.in_(SATISFIED_ANSWERS)))
        .select_from(FollowUp).join(Ticket, Ticket.id == FollowUp.ticket_id)
        .where(in_period, in_scope, FollowUp.status == "answered", FollowUp.answer.is_not(None))
        .group_by(Ticket.unit_id)
    ):
        tally = by_unit.setdefault(unit_id, Tally())
        tally.follow_ups_answered, tally.follow_ups_satisfied = answered, satisfied

    if handling_hours:
        for unit_id, received, closed_at, calendar in session.execute(
            per_unit(Ticket.received_at, Ticket.closed_at, Ticket.calendar).where(in_period, in_scope, closed)
        ):
            by_unit.setdefault(unit_id, Tally()).handling_hours.append(
                handling_time(received, closed_at, tz, calendar))

    if breaches:
        for unit_id, late in session.execute(
            per_unit(func.count()).where(
                Ticket.status.not_in(("closed", "merged")), in_scope,
                or_(and_(Ticket.contacted_at.is_(None), Ticket.contact_due_at <= now), Ticket.resolve_due_at <= now),
            ).group_by(Ticket.unit_id)
        ):
            by_unit.setdefault(unit_id, Tally()).breaches_now = late
    return by_unit


def handling_time(received: datetime, closed: datetime, tz: Any, calendar: str | None) -> float:
    """Received → closed in working hours, on the ticket's calendar (``Ticket.calendar``)."""
    from tickets import calendars
    from tickets.sla import working_hours_between

    return round(working_hours_between(received, closed, tz, calendar=calendars.from_key(calendar)), 6)


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
    """Every unit's own sub-rate counts over the tickets received in [start, end), in one query."""
    scope = list(unit_ids) if unit_ids is not None else None
    returned = select(TicketEvent.id).where(TicketEvent.ticket_id == Ticket.id, TicketEvent.kind == "return") \
        .exists()

    def count_if(condition: Any) -> Any:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    stmt = select(
        Ticket.unit_id,
        count_if(and_(Ticket.contact_due_at.is_not(None),
                      or_(Ticket.accepted_at.is_not(None), Ticket.contact_due_at <= now))),
        count_if(and_(Ticket.accepted_at.is_not(None), Ticket.accepted_at <= Ticket.contact_due_at)),
        count_if(Ticket.dispatched_at.is_not(None)),
        count_if(and_(Ticket.dispatched_at.is_not(None), returned)),
        count_if(Ticket.replied_at.is_not(None)),
        count_if(and_(Ticket.replied_at.is_not(None), Ticket.redo_count > 0)),
    ).where(Ticket.received_at >= start, Ticket.received_at < end, Ticket.status != "merged")
    if scope is not None:
        stmt = stmt.where(Ticket.unit_id.in_(scope))
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
