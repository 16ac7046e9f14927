"""每周通报: the weekly bulletin of an ISO week, computed once into a frozen snapshot.

A bulletin covers the tickets *received* in one ISO week (Monday 00:00 to Sunday
24:00, local time), judged **as of** the moment it is made (``as_of``): a ticket
is due, late, closed or breached as it stood then, exactly as the figures API
(``GET /api/v1/figures?from=Monday&to=Sunday``) answers at that moment. The
figures are ``tickets.figures``' (one definition per idea, docs/FIGURES.md); this
module adds the rankings with their Wilson intervals and ties, the exceptions,
the topics and channels, the hotspots and one section per unit.

- :func:`compute` builds the content: a JSON-able dict, the one source of the
  screen, the PDF and the spreadsheet (they render from it alone).
- :func:`make` freezes it as a :class:`~tickets.models.Bulletin` row (version 1;
  a corrected re-issue is the next version, with the changes against the one
  before). A week already frozen is not made again unless re-issued. The running
  week is computed on the fly, ``provisional: true``, and never stored; a week
  not yet begun has no bulletin.
- :func:`for_scope` cuts a content down to what a user of a subtree may see.
- :func:`run` is the leader's loop: from the configured weekday and time on
  (Monday 07:00 by default), last week's bulletin is made once.

Nothing personal goes in: tickets appear by number, title, topic and unit, never
with a citizen's name or phone; letters without their text.
"""
from __future__ import annotations

import logging
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from geo.hotspots import previous_window, top_hotspots
from geo.jurisdictions import routing_jurisdictions
from tickets import points as ticket_points
from tickets import sla
from tickets.config import BulletinRules
from tickets.errors import Invalid, NotFound
from tickets.figures import (
    RankingPolicy, SubTally, Tally, figures, period_bounds, rank, sub_tally_sql_by_unit, sum_sub_tallies,
    subtree_sub_tally, subtree_tally, sum_tallies, tally_sql_by_unit,
)
from tickets.models import Alert, Bulletin, FollowUp, ReminderLetter, SupervisionOrder, Ticket, Unit
from tickets.roles import subtree_of
from tickets.stats import wilson
from tickets.uow import UnitOfWork, unit_of_work

log = logging.getLogger(__name__)

SCHEMA = 1  # the content's shape; a renderer checks it
WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
TERRITORIAL = frozenset({"branch", "county_bureau"})  # 分局、县局: the level-2 units with stations
DIVISION = "division"  # 支队、处…: level-2 units that are not territorial
# rate -> (numerator, denominator) among the counts of a unit's figures
RATES: dict[str, tuple[str, str]] = {
    "duplicate_rate": ("merged_records", "intake_records"),
    "direct_dispatch_rate": ("direct", "dispatched"),
    "response_rate": ("responded_on_time", "response_due"),
    "completion_rate": ("closed", "due"),
    "on_time_rate": ("closed_on_time", "due"),
    "satisfaction_rate": ("follow_ups_satisfied", "follow_ups_answered"),
    "acceptance_rate": ("accepted_on_time", "accept_due"),
    "return_rate": ("returned", "sub_dispatched"),
    "redo_rate": ("redone", "replied"),
}
ROW_RATES = ("response_rate", "completion_rate", "on_time_rate", "satisfaction_rate", "acceptance_rate",
             "return_rate", "redo_rate")
EXCEPTION_LISTS = ("overdue", "closed_late", "unsatisfied", "supervision_orders", "reminder_letters")
GROUPS = ("branches", "divisions", "stations")


# -------------------------------------------------------------------- weeks
def parse_week(week: str) -> date:
    """The Monday of ISO week ``2026-W48``; :class:`Invalid` for anything else."""
    found = WEEK.match(week or "")
    if found is None:
        raise Invalid("invalid_week", week=week)
    try:
        return date.fromisocalendar(int(found[1]), int(found[2]), 1)
    except ValueError:
        raise Invalid("invalid_week", week=week) from None


def week_of(day: date) -> str:
    year, number, _ = day.isocalendar()
    return f"{year:04d}-W{number:02d}"


def week_bounds(week: str, tz: Any) -> tuple[date, date, datetime, datetime]:
    """(Monday, Sunday, start, end): the local dates and the half-open aware interval."""
    monday = parse_week(week)
    sunday = monday + timedelta(days=6)
    start, end = period_bounds(monday, sunday, tz)
    return monday, sunday, start, end


def shift(week: str, weeks: int) -> str:
    return week_of(parse_week(week) + timedelta(weeks=weeks))


def state(week: str, now: datetime, tz: Any) -> str:
    """``past``, ``running`` or ``future`` at ``now``."""
    _, _, start, end = week_bounds(week, tz)
    return "future" if now < start else "running" if now < end else "past"


def due_week(now: datetime, tz: Any, rules: BulletinRules) -> str | None:
    """The week whose bulletin should exist by ``now``: last week, once this week's
    make-day and time have come (Monday 07:00 by default); else None."""
    local = now.astimezone(tz)
    monday = local.date() - timedelta(days=local.weekday())
    make_from = datetime.combine(monday + timedelta(days=rules.make_weekday - 1), rules.make_at, tz)
    return week_of(monday - timedelta(days=7)) if now >= make_from else None


# -------------------------------------------------------------------- units
@dataclass(frozen=True)
class UnitInfo:
    id: int
    code: str
    name: str
    level: int
    kind: str
    parent_id: int | None


class Tree:
    """The unit tree, read once: subtrees, ancestors and the bulletin's groups."""

    def __init__(self, session: Session) -> None:
        self.units = {u.id: u for u in (UnitInfo(*row) for row in session.execute(
            select(Unit.id, Unit.code, Unit.name, Unit.level, Unit.kind, Unit.parent_id).order_by(Unit.code)))}
        self.by_code = {u.code: u for u in self.units.values()}
        self.pairs = [(u.id, u.parent_id) for u in self.units.values()]
        level2 = [u for u in self.units.values() if u.level == 2]
        self.branches = [u for u in level2 if u.kind in TERRITORIAL]
        self.divisions = [u for u in level2 if u.kind == DIVISION]
        self.stations = {b.code: [u for u in self.units.values() if u.parent_id == b.id and u.level == 3]
                         for b in self.branches}
        self._subtrees: dict[int, set[int]] = {}

    def subtree(self, unit_id: int) -> set[int]:
        if unit_id not in self._subtrees:
            self._subtrees[unit_id] = subtree_of(self.pairs, unit_id)
        return self._subtrees[unit_id]

    def ancestors(self, unit_id: int | None) -> list[UnitInfo]:
        """The unit and every unit above it."""
        out = []
        while unit_id is not None and unit_id in self.units:
            out.append(self.units[unit_id])
            unit_id = self.units[unit_id].parent_id
        return out

    def branch_of(self, unit_id: int | None) -> UnitInfo | None:
        return next((u for u in self.ancestors(unit_id) if u.level == 2), None)

    def code(self, unit_id: int | None) -> str | None:
        return self.units[unit_id].code if unit_id in self.units else None

    def sectioned(self) -> list[tuple[UnitInfo, str, str | None]]:
        """Every unit with a section of its own: (unit, group, the group's parent code)."""
        out: list[tuple[UnitInfo, str, str | None]] = [(u, "branches", None) for u in self.branches]
        out += [(u, "divisions", None) for u in self.divisions]
        out += [(s, "stations", b) for b, stations in self.stations.items() for s in stations]
        return out


# ------------------------------------------------------------------ figures
def unit_figures(tally: Tally, sub: SubTally, policy: RankingPolicy) -> dict[str, Any]:
    """``tickets.figures.figures`` with the sub-rates, every rate's Wilson interval and the
    composite's (docs/FIGURES.md)."""
    out = figures(tally, policy, sub)
    out["intervals"] = intervals(out["counts"], RATES)
    out["composite_interval"] = composite_interval(out["intervals"], out, policy)
    return out


def intervals(counts: Mapping[str, int], rates: Iterable[str]) -> dict[str, list[float] | None]:
    """The Wilson 95% interval of each of ``rates`` (names of ``RATES``) from a figure's counts;
    None for a rate with no denominator. The bulletin's and the wall's, one definition."""
    out: dict[str, list[float] | None] = {}
    for rate in rates:
        numerator, denominator = RATES[rate]
        bounds = wilson(counts[numerator], counts[denominator])
        out[rate] = list(bounds) if bounds is not None else None
    return out


def composite_interval(intervals: Mapping[str, list[float] | None], rates: Mapping[str, Any],
                       policy: RankingPolicy) -> list[float] | None:
    """The composite's interval: the same weighted mean as ``tickets.figures.composite``, of the
    rates' Wilson lower bounds and of their upper bounds (the same rates drop out, the same
    weights are rescaled). Conservative: as wide as if the rates erred all the same way."""
    parts = [(policy.response, "response_rate"), (policy.completion, f"{policy.completion_measure}_rate"),
             (policy.satisfaction, "satisfaction_rate")]
    available: list[tuple[float, list[float]]] = []
    for w, r in parts:
        bounds = intervals[r]
        if rates[r] is not None and w > 0 and bounds is not None:
            available.append((w, bounds))
    total = sum(w for w, _ in available)
    if not available or total == 0:
        return None
    return [sum(w * b[0] for w, b in available) / total, sum(w * b[1] for w, b in available) / total]


def overlap(a: list[float] | None, b: list[float] | None) -> bool:
    return a is not None and b is not None and a[0] <= b[1] and b[0] <= a[1]


def ranking(rows: list[dict[str, Any]], policy: RankingPolicy, top_n: int) -> dict[str, Any]:
    """A group ranked (``tickets.figures.rank``), each ranked unit ``tied_with`` its ranked
    neighbours whose composite intervals overlap its own, the top and bottom ``top_n``."""
    rank(rows, policy)
    ranked = [r for r in rows if r["rank"] is not None]
    for i, row in enumerate(ranked):
        row["tied_with"] = [other["unit"] for other in (ranked[i - 1] if i else None,
                                                        ranked[i + 1] if i + 1 < len(ranked) else None)
                            if other is not None and overlap(row["composite_interval"], other["composite_interval"])]
        row["tied"] = bool(row["tied_with"])
    for row in rows:
        row.setdefault("tied_with", [])
        row.setdefault("tied", False)
        row.setdefault("unranked_reason", None)
        row["unranked_code"] = None if row["rank"] is not None else (
            "min_tickets" if row["received"] < policy.min_tickets else "no_rate")
    top = ranked[:top_n]
    bottom = ranked[max(top_n, len(ranked) - top_n):][::-1]  # worst first, never one of the top
    return {"units": rows, "top": [r["unit"] for r in top], "bottom": [r["unit"] for r in bottom]}


def _row(unit: UnitInfo, fig: Mapping[str, Any]) -> dict[str, Any]:
    return {"unit": unit.code, "unit_name": unit.name, "received": fig["received"],
            "composite_score": fig["composite_score"], "composite_interval": fig["composite_interval"],
            **{r: fig[r] for r in ROW_RATES}}


def _trend_entry(week: str, fig: Mapping[str, Any]) -> dict[str, Any]:
    return {"week": week, "received": fig["received"], "composite_score": fig["composite_score"],
            **{r: fig[r] for r in RATES}}


def _change(now: Any, before: Any) -> Any:
    return None if now is None or before is None else now - before


# --------------------------------------------------------------- exceptions
def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _hours(later: datetime, earlier: datetime) -> float:
    return round((later - earlier).total_seconds() / 3600, 2)


def _branch_code(tree: Tree, unit_id: int | None) -> str | None:
    branch = tree.branch_of(unit_id)
    return branch.code if branch else None


def _ticket_fields(tree: Tree, t: Any) -> dict[str, Any]:
    branch = tree.branch_of(t.unit_id)
    unit = tree.units.get(t.unit_id) if t.unit_id is not None else None
    return {"number": t.number, "title": t.title, "topic": t.topic, "channel": t.channel,
            "unit": unit.code if unit else None, "unit_name": unit.name if unit else None,
            "branch": branch.code if branch else None, "received_at": t.received_at.isoformat(), "status": t.status}


TICKET_COLUMNS = (Ticket.id, Ticket.number, Ticket.title, Ticket.topic, Ticket.channel, Ticket.status,
                  Ticket.unit_id, Ticket.received_at, Ticket.contacted_at, Ticket.contact_due_at,
                  Ticket.resolve_due_at, Ticket.closed_at, Ticket.satisfaction)


def exceptions(session: Session, tree: Tree, start: datetime, end: datetime, now: datetime) -> dict[str, list[Any]]:
    """The week's exceptions, each a list of rows with their ``unit`` (and ``_unit_id``)."""
    late_open = or_(and_(Ticket.contacted_at.is_(None), Ticket.contact_due_at <= now), Ticket.resolve_due_at <= now)
    overdue = []
    for t in session.execute(select(*TICKET_COLUMNS).where(
            Ticket.status.not_in(("closed", "merged")), Ticket.received_at < end, late_open)
            .order_by(Ticket.number)):
        resolve_late = t.resolve_due_at is not None and t.resolve_due_at <= now
        due = t.resolve_due_at if resolve_late else t.contact_due_at
        overdue.append({**_ticket_fields(tree, t), "_unit_id": t.unit_id, "clock": "resolve" if resolve_late
                        else "contact", "due_at": due.isoformat(), "hours_late": _hours(now, due)})
    closed_late = [
        {**_ticket_fields(tree, t), "_unit_id": t.unit_id, "clock": "resolve", "due_at": t.resolve_due_at.isoformat(),
         "closed_at": t.closed_at.isoformat(), "hours_late": _hours(t.closed_at, t.resolve_due_at)}
        for t in session.execute(select(*TICKET_COLUMNS).where(
            Ticket.status == "closed", Ticket.closed_at >= start, Ticket.closed_at < end,
            Ticket.resolve_due_at.is_not(None), Ticket.closed_at > Ticket.resolve_due_at).order_by(Ticket.number))
    ]
    unsatisfied: dict[str, dict[str, Any]] = {}
    for t, answered_at, level in _unsatisfied(session, start, end):
        unsatisfied[t.number] = {**_ticket_fields(tree, t), "_unit_id": t.unit_id,
                                 "answered_at": answered_at.isoformat(), "follow_up_level": level}
    orders = [
        {"number": o.number, "ticket_number": t.number, "ticket_title": t.title, "topic": t.topic,
         "unit": tree.code(o.unit_id), "branch": _branch_code(tree, o.unit_id),
         "_unit_id": o.unit_id, "reason": o.reason, "issued_at": o.issued_at.isoformat(),
         "due_at": o.due_at.isoformat(),
         "status": o.status, "overdue": o.status == "open" and o.due_at <= now, "ticket_status": t.status}
        for o, t in session.execute(
            select(SupervisionOrder, Ticket).join(Ticket, Ticket.id == SupervisionOrder.ticket_id).where(
                SupervisionOrder.issued_at < end,
                or_(SupervisionOrder.issued_at >= start, SupervisionOrder.status == "open"))
            .order_by(SupervisionOrder.number))
    ]
    letters = [
        {"number": letter.number, "ticket_number": number, "ticket_title": title, "unit": tree.code(letter.unit_id),
         "branch": _branch_code(tree, letter.unit_id),
         "_unit_id": letter.unit_id, "reason": letter.reason, "issued_at": letter.issued_at.isoformat(),
         "acknowledged": letter.acknowledged_at is not None and letter.acknowledged_at <= now}
        for letter, number, title in session.execute(
            select(ReminderLetter, Ticket.number, Ticket.title).outerjoin(Ticket, Ticket.id == ReminderLetter.ticket_id)
            .where(ReminderLetter.issued_at >= start, ReminderLetter.issued_at < end)
            .order_by(ReminderLetter.number))
    ]
    return {"overdue": overdue, "closed_late": closed_late, "unsatisfied": sorted(unsatisfied.values(),
                                                                                  key=lambda r: r["number"]),
            "supervision_orders": orders, "reminder_letters": letters}


def _unsatisfied(session: Session, start: datetime, end: datetime) -> Iterable[tuple[Any, datetime, int]]:
    """(ticket columns, answered at, follow-up level) of every 不满意 answered in the week, oldest first."""
    for row in session.execute(
            select(*TICKET_COLUMNS, FollowUp.answered_at.label("answered"), FollowUp.level.label("level"))
            .join(FollowUp, FollowUp.ticket_id == Ticket.id)
            .where(FollowUp.status == "answered", FollowUp.answer == "unsatisfied",
                   FollowUp.answered_at >= start, FollowUp.answered_at < end)
            .order_by(FollowUp.answered_at, FollowUp.id)):
        yield row, row.answered, row.level


def last_week_outcome(session: Session, tree: Tree, previous: Bulletin | None, previous_week: str,
                      now: datetime) -> dict[str, Any]:
    """What became of the tickets last week's frozen bulletin listed as exceptions."""
    if previous is None:
        return {"week": previous_week, "version": None, "items": [], "summary": {}}
    listed: dict[str, list[str]] = {}
    for name, key in (("overdue", "number"), ("unsatisfied", "number"), ("supervision_orders", "ticket_number"),
                      ("reminder_letters", "ticket_number")):
        for row in previous.content.get("exceptions", {}).get(name, []):
            if row.get(key):
                listed.setdefault(row[key], []).append(name)
    found: dict[str, Any] = {}
    numbers = sorted(listed)
    t: Any
    for i in range(0, len(numbers), 1000):
        for t in session.execute(select(*TICKET_COLUMNS).where(Ticket.number.in_(numbers[i:i + 1000]))):
            found[t.number] = t
    items = []
    for number in numbers:
        t = found.get(number)
        if t is None:
            continue
        late = t.status not in ("closed", "merged") and (
            (t.contacted_at is None and t.contact_due_at is not None and t.contact_due_at <= now)
            or (t.resolve_due_at is not None and t.resolve_due_at <= now))
        outcome = "closed" if t.status == "closed" else "merged" if t.status == "merged" \
            else "still_overdue" if late else "open"
        items.append({**_ticket_fields(tree, t), "listed_for": sorted(set(listed[number])), "outcome": outcome,
                      "closed_at": _iso(t.closed_at), "satisfaction": t.satisfaction})
    return {"week": previous_week, "version": previous.version, "items": items,
            "summary": dict(sorted(Counter(i["outcome"] for i in items).items()))}


# ------------------------------------------------------ topics and channels
def split(session: Session, column: Any, start: datetime, end: datetime, before: tuple[datetime, datetime],
          rises: int = 3) -> dict[str, Any]:
    """The week's tickets by ``column`` (topic, channel) against the week before; what rose most."""
    def counts(a: datetime, b: datetime) -> dict[str, int]:
        return dict(session.execute(select(column, func.count()).where(
            Ticket.received_at >= a, Ticket.received_at < b, Ticket.status != "merged")
            .group_by(column)).all())

    now, then = counts(start, end), counts(*before)
    total = sum(now.values())
    items: list[dict[str, Any]] = [{"key": key, "count": now.get(key, 0), "previous": then.get(key, 0),
              "change": now.get(key, 0) - then.get(key, 0),
              "share": now.get(key, 0) / total if total else None} for key in sorted(set(now) | set(then))]
    items.sort(key=lambda i: (-i["count"], i["key"]))
    rose = sorted((i for i in items if i["change"] > 0), key=lambda i: (-i["change"], i["key"]))[:rises]
    return {"total": total, "previous_total": sum(then.values()), "items": items, "rose_most": [i["key"] for i in rose]}


# ----------------------------------------------------------------- hotspots
def hotspots(session: Session, tree: Tree, start: datetime, end: datetime, rules: BulletinRules) -> dict[str, Any]:
    """The week's busiest H3 cells (against the week before) and the early warnings of the week."""
    cells, total, _ = ticket_points.cells_between(session, start, end, resolution=rules.hotspot_resolution)
    before, _, _ = ticket_points.cells_between(session, *previous_window(start, end),
                                               resolution=rules.hotspot_resolution)
    top = top_hotspots(cells, before, rules.hotspots, routing_jurisdictions()) if rules.hotspots else []
    first, last = start.date(), (end - timedelta(days=1)).date()  # local dates: the bounds are local
    alerts = session.scalars(select(Alert).where(or_(
        and_(Alert.kind == "surge", Alert.day >= first, Alert.day <= last),
        and_(Alert.kind != "surge", Alert.first_seen_at < end, Alert.last_seen_at >= start))).order_by(Alert.id)).all()
    return {
        "resolution": rules.hotspot_resolution, "total": total,
        "cells": [{"cell": h.cell, "lat": round(h.lat, 6), "lon": round(h.lon, 6), "count": h.count,
                   "previous": h.previous, "change": h.change, "trend": h.trend, "topics": h.topics,
                   "unit": h.unit_code, "unit_name": tree.by_code[h.unit_code].name
                   if h.unit_code in tree.by_code else None} for h in top],
        "alerts": [{"id": a.id, "kind": a.kind, "topic": a.topic, "area_kind": a.area_kind, "area": a.area,
                    "area_name": a.area_name, "unit": tree.code(a.unit_id), "_unit_id": a.unit_id,
                    "day": a.day.isoformat() if a.day else None, "count": a.count, "baseline": a.baseline,
                    "first_seen_at": a.first_seen_at.isoformat(), "status": a.status, "reason": a.reason}
                   for a in alerts],
    }


# ------------------------------------------------------------------ compute
def compute(session: Session, week: str, now: datetime, tz: Any, rules: BulletinRules, *, policy_version: str,
            provisional: bool, version: int | None = None) -> dict[str, Any]:
    """The bulletin of ``week`` as of ``now``: a JSON-able dict (its shape: docs/FIGURES.md)."""
    monday, sunday, start, end = week_bounds(week, tz)
    policy = rules.ranking
    tree = Tree(session)
    subs: dict[int | None, SubTally] = {}
    tallies = tally_sql_by_unit(session, start, end, now, tz, subs=subs)
    bureau = unit_figures(sum_tallies(tallies.values()), sum_sub_tallies(subs.values()), policy)

    trend = [_trend_entry(week, bureau)]
    for k in range(1, rules.trend_weeks + 1):
        earlier = shift(week, -k)
        _, _, a, b = week_bounds(earlier, tz)
        s: dict[int | None, SubTally] = {}
        t = tally_sql_by_unit(session, a, b, now, tz, handling_hours=False, breaches=False, subs=s)  # not in the trend
        trend.append(_trend_entry(earlier, unit_figures(sum_tallies(t.values()), sum_sub_tallies(s.values()),
                                                        policy)))
    previous = trend[1]
    week_on_week = {k: _change(trend[0][k], previous[k]) for k in ("received", "composite_score", *RATES)}

    sections: dict[str, dict[str, Any]] = {}
    for unit, group, parent in tree.sectioned():
        ids = tree.subtree(unit.id)
        sections[unit.code] = {"unit": unit.code, "unit_name": unit.name, "level": unit.level, "kind": unit.kind,
                               "group": group, "parent": parent, "rank": None,
                               **unit_figures(subtree_tally(tallies, ids), subtree_sub_tally(subs, ids), policy)}

    def group_of(units: Iterable[UnitInfo]) -> dict[str, Any]:
        return ranking([_row(u, sections[u.code]) for u in units], policy, rules.top_n)

    rankings: dict[str, Any] = {"branches": group_of(tree.branches), "divisions": group_of(tree.divisions),
                                "stations": {b: group_of(units) for b, units in tree.stations.items()}}
    for group in (rankings["branches"], rankings["divisions"], *rankings["stations"].values()):
        for row in group["units"]:
            sections[row["unit"]].update(rank=row["rank"], tied_with=row["tied_with"],
                                         unranked_reason=row["unranked_code"])

    lists = exceptions(session, tree, start, end, now)
    for section in sections.values():
        section["exceptions"] = {name: {"count": 0, "numbers": []} for name in EXCEPTION_LISTS}
    for name in EXCEPTION_LISTS:  # a unit's section counts its subtree's; numbers: tickets, orders, letters
        for row in lists[name]:
            for above in tree.ancestors(row.pop("_unit_id")):
                if above.code in sections:
                    entry = sections[above.code]["exceptions"][name]
                    entry["count"] += 1
                    entry["numbers"].append(row["number"])
    below = [
        {"unit": code, "unit_name": s["unit_name"], "group": s["group"], "satisfaction_rate": s["satisfaction_rate"],
         "interval": s["intervals"]["satisfaction_rate"], "answered": s["counts"]["follow_ups_answered"],
         "satisfied": s["counts"]["follow_ups_satisfied"]}
        for code, s in sorted(sections.items())
        if s["rank"] is not None and s["satisfaction_rate"] is not None
        and s["satisfaction_rate"] < rules.satisfaction_threshold
    ]
    previous_week = shift(week, -1)
    last = last_week_outcome(session, tree, latest(session, previous_week), previous_week, now)
    before = week_bounds(previous_week, tz)[2:]
    spots = hotspots(session, tree, start, end, rules)
    for alert in spots["alerts"]:
        alert.pop("_unit_id")
    return {
        "schema": SCHEMA,
        "week": week, "from": monday.isoformat(), "to": sunday.isoformat(),
        "start": start.isoformat(), "end": end.isoformat(), "timezone": str(tz),
        "as_of": now.isoformat(), "provisional": provisional, "version": version, "policy_version": policy_version,
        "rules": {"weights": {"response": policy.response, "completion": policy.completion,
                              "satisfaction": policy.satisfaction}, "completion_measure": policy.completion_measure,
                  "min_tickets": policy.min_tickets, "top_n": rules.top_n,
                  "satisfaction_threshold": rules.satisfaction_threshold, "confidence": 0.95},
        "bureau": {**bureau, "week_on_week": week_on_week, "trend": trend},
        "rankings": rankings,
        "exceptions": {**lists, "below_satisfaction": below, "last_week": last},
        "topics": split(session, Ticket.topic, start, end, before),
        "channels": split(session, Ticket.channel, start, end, before),
        "hotspots": spots,
        "units": sections,
    }


# ------------------------------------------------------------------ storage
def latest(session: Session, week: str) -> Bulletin | None:
    """The newest frozen version of ``week``, or None."""
    return session.scalar(select(Bulletin).where(Bulletin.week == week).order_by(Bulletin.version.desc()).limit(1))


def frozen(session: Session, week: str, version: int | None = None) -> Bulletin:
    """A frozen version of ``week`` (the newest if ``version`` is None); :class:`NotFound` if none."""
    row = latest(session, week) if version is None else session.scalar(
        select(Bulletin).where(Bulletin.week == week, Bulletin.version == version))
    if row is None:
        raise NotFound("unknown_bulletin", week=week, version=version)
    return row


def read(uow: UnitOfWork, week: str, now: datetime,
         version: int | None = None) -> tuple[dict[str, Any], Bulletin | None]:
    """The bulletin of ``week`` to show: a frozen version (the newest unless ``version``), or the
    running week's provisional one computed now (None for its row). A week not begun is
    :class:`Invalid`; a past one not yet made, or an unknown version, :class:`NotFound`."""
    when = state(week, now, uow.config.tz)
    if when == "future":
        raise Invalid("future_week", week=week)
    if when == "running" and version is None:
        return compute(uow, week, now, uow.config.tz, uow.config.bulletin,
                       policy_version=_judged_by(week, uow.config.tz), provisional=True), None
    row = frozen(uow, week, version)
    return row.content, row


def _judged_by(week: str, tz: Any) -> str:
    """The deadline rules' versions in force during ``week`` (``v1 (3f2a9c1e)``)."""
    _, _, start, end = week_bounds(week, tz)
    return sla.label_between(start, end)


@dataclass(frozen=True)
class Made:
    """What :func:`make` did: ``content``, the stored ``row`` (None: provisional), whether it was made now."""

    content: dict[str, Any]
    row: Bulletin | None
    made: bool


def make(uow: UnitOfWork, week: str, now: datetime, created_by: str, *, reissue: bool = False) -> Made:
    """Freeze ``week``'s bulletin (see the module's doc); the running week's is provisional."""
    tz = uow.config.tz
    when = state(week, now, tz)
    if when == "future":
        raise Invalid("future_week", week=week)
    rules = uow.config.bulletin
    policy_version = _judged_by(week, tz)
    if when == "running":
        return Made(compute(uow, week, now, tz, rules, policy_version=policy_version, provisional=True), None, False)
    before = latest(uow, week)
    if before is not None and not reissue:
        return Made(before.content, before, False)
    version = before.version + 1 if before is not None else 1
    content = compute(uow, week, now, tz, rules, policy_version=policy_version, provisional=False, version=version)
    row = Bulletin(week=week, version=version, created_at=now, created_by=created_by[:64],
                   policy_version=policy_version, content=content,
                   changes=changes(before.content, content) if before is not None else [])
    uow.add(row)
    uow.flush()
    return Made(content, row, True)


def _leaves(value: Any, path: str, out: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            _leaves(inner, f"{path}.{key}" if path else str(key), out)
    elif not isinstance(value, list):
        out[path] = value


def figures_of(content: Mapping[str, Any]) -> dict[str, Any]:
    """The numbers of a content a re-issue compares: the bureau's figures, every unit's
    figures and rank, and the exceptions' counts, by dotted path."""
    out: dict[str, Any] = {}
    bureau = {k: v for k, v in content["bureau"].items() if k not in ("trend", "week_on_week")}
    _leaves(bureau, "bureau", out)
    for code, section in content["units"].items():
        _leaves({k: v for k, v in section.items() if k not in ("exceptions", "tied_with")}, f"units.{code}", out)
        for name, entry in section["exceptions"].items():
            out[f"units.{code}.exceptions.{name}"] = entry["count"]
    for name in EXCEPTION_LISTS:
        out[f"exceptions.{name}"] = len(content["exceptions"][name])
    return out


def changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[dict[str, Any]]:
    """What a re-issue changed: each number that differs (``path``, ``before``, ``after``), and the
    tickets that joined or left an exception list (``path`` ``exceptions.<list>.tickets``)."""
    a, b = figures_of(before), figures_of(after)
    out = [{"path": path, "before": a.get(path), "after": b.get(path)}
           for path in sorted(set(a) | set(b)) if a.get(path) != b.get(path)]
    for name in EXCEPTION_LISTS:
        was = {r["number"] for r in before["exceptions"][name]}
        now = {r["number"] for r in after["exceptions"][name]}
        if was != now:
            out.append({"path": f"exceptions.{name}.tickets", "added": sorted(now - was),
                        "removed": sorted(was - now)})
    return out


# -------------------------------------------------------------------- scope
def for_scope(content: Mapping[str, Any], visible: set[str] | None) -> dict[str, Any]:
    """``content`` as a user who sees the unit codes ``visible`` may (None: the whole city): the
    rankings, exceptions, hotspots and unit sections of their units only; the bureau's totals,
    topics and channels only for the city."""
    out = dict(content)
    if visible is None:
        out["scope"] = {"city_wide": True, "units": None}
        return out

    def mine(rows: Iterable[Mapping[str, Any]], key: str = "unit") -> list[Any]:
        return [r for r in rows if r.get(key) in visible]

    def group(g: Mapping[str, Any]) -> dict[str, Any]:
        return {**g, "units": mine(g["units"]), "top": [c for c in g["top"] if c in visible],
                "bottom": [c for c in g["bottom"] if c in visible]}

    rankings = content["rankings"]
    out["rankings"] = {"branches": group(rankings["branches"]), "divisions": group(rankings["divisions"]),
                       "stations": {b: group(g) for b, g in rankings["stations"].items()
                                    if b in visible or any(r["unit"] in visible for r in g["units"])}}
    ex = content["exceptions"]
    last = ex["last_week"]
    out["exceptions"] = {**{name: mine(ex[name]) for name in EXCEPTION_LISTS},
                         "below_satisfaction": mine(ex["below_satisfaction"]),
                         "last_week": {**last, "items": mine(last["items"]),
                                       "summary": dict(sorted(Counter(i["outcome"] for i in mine(last["items"]))
                                                              .items()))}}
    out["hotspots"] = {**content["hotspots"], "cells": mine(content["hotspots"]["cells"]),
                       "alerts": mine(content["hotspots"]["alerts"]), "total": None}
    out["units"] = {code: s for code, s in content["units"].items() if code in visible}
    out["bureau"] = out["topics"] = out["channels"] = None
    out["scope"] = {"city_wide": False, "units": sorted(out["units"])}
    return out


# ---------------------------------------------------------------- the loop
def make_due(factory: sessionmaker[UnitOfWork], now: datetime) -> Made | None:
    """Make last week's bulletin if it is due and not yet frozen (idempotent); None if nothing to do."""
    with unit_of_work(factory) as uow:  # the system's own periodic work, like tickets/housekeeping.py
        week = due_week(now, uow.config.tz, uow.config.bulletin)
        if week is None or latest(uow, week) is not None:
            return None
        return make(uow, week, now, "system")


def _now() -> datetime:
    return datetime.now(timezone.utc)


def run(factory: sessionmaker[UnitOfWork], stop: threading.Event, is_leader: Callable[[], bool], *,
        interval: float = 60.0, clock: Callable[[], datetime] = _now, first_delay: float = 10.0) -> None:
    """The leader's loop: every ``interval`` seconds, make last week's bulletin if it is due; never raises."""
    if stop.wait(first_delay):
        return
    while not stop.is_set():
        try:
            if is_leader():
                made = make_due(factory, clock())
                if made is not None and made.row is not None:
                    log.info("bulletin %s v%s frozen", made.row.week, made.row.version)
        except IntegrityError:
            log.info("bulletin: another process froze it first")
        except Exception:  # noqa: BLE001 - the loop must survive a database hiccup
            log.exception("bulletin: making last week's failed; next round tries again")
        stop.wait(interval)
