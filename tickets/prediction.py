"""Predicted breaches: the chance that an open ticket misses its resolve deadline.

The model is an empirical one, read off the unit's own recent work, so every
number in a row's reason can be checked by hand:

1. **Where the ticket stands.** ``left`` = working hours from now to its resolve
   deadline; ``allowed`` = working hours from the start of its round (dispatch,
   or the last 重办) to the deadline; ``share`` = left / allowed (1 = just
   dispatched, 0.25 = amber under the default policy). Shares make a half-day
   consultation and a Boston case with a two-week target comparable.
2. **How the unit's tickets ended.** The unit's (and topic's) tickets whose
   outcome was settled in the last ``window_days``: closed by their deadline in
   the window (with some share of their allowed time left), or late, their
   deadline having passed in the window unmet (closed after it, or still open).
   Each ticket counts once, when its outcome became known, so quick closes and
   late ones are counted alike (counting the tickets *closed* in the window
   would count a late one again when it finally closes).
3. **The estimate.** Of those tickets that were still open with as little time
   left as this one has (closed on time with a smaller share left, or late),
   the fraction that were late:

       P(miss) = late / (late + closed on time with share left < s)

   taken from the unit and topic if they have ``min_history`` such tickets,
   else from the unit, else from every unit, each among deadlines of about the
   same length (:func:`span_class`), else from everything.
4. **The backlog.** A unit holding more open tickets than it usually does works
   each one more slowly: the share left counts as ``s / f``, with
   ``f = ((backlog + 1) / (usual backlog + 1)) ** backlog_weight`` (bounded),
   where the usual backlog is the unit's mean number of open tickets over the
   window. ``backlog_weight`` 0 leaves the backlog out (see docs/PREDICTION.md
   for what it is worth measured).

The reason of a prediction is codes and numbers only (screens translate):
``backlog`` (f ≥ 1.25: the backlog drives it), ``slow_unit`` (the unit's or the
topic's late share is at least 1.5× every unit's, deadlines of the same length)
or ``time_short`` (this little time left is where tickets usually end late);
see docs/PREDICTION.md for every field.

Working time is the SLA's (``tickets.sla``: the policy's working hours, the
official calendar); :class:`WorkClock` counts it in O(1) per instant, so that
``predict_open`` over 10,000 open tickets is a few queries and arithmetic.
``tickets.prediction_eval`` replays history through the same :func:`judge`.
"""
from __future__ import annotations

import math
from bisect import bisect_left, insort
from collections import defaultdict
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from tickets import sla
from tickets.config import PredictionRules  # noqa: F401  (the rules live with the others)
from tickets.lifecycle import OPEN
from tickets.models import Ticket, TicketEvent
from tickets.workcalendar import is_working_day

# A round with less working time than this (a deadline inside a night or a holiday,
# a source's target before its opening) has no meaningful share: left out.
MIN_ALLOWED_HOURS = 0.05
BACKLOG_CODE_FACTOR = 1.25
SLOW_UNIT_RATIO = 1.5


@dataclass(frozen=True)
class Prediction:
    ticket_id: int
    number: str
    unit_id: int | None
    probability: float
    resolve_due_at: datetime
    reason: dict[str, Any]  # codes and numbers, never a sentence


# --------------------------------------------------------------- working time
def _minutes(t: time) -> float:
    return t.hour * 60 + t.minute + t.second / 60


class WorkClock:
    """Working hours since the first day it was asked about, so the working time between two instants is a
    subtraction: ``hours(b) - hours(a) == sla.working_hours_between(a, b)`` (same wall-clock
    arithmetic, same calendar). Days are added as asked for; keep one per call or replay,
    not for the life of a process (an admin may load a calendar year meanwhile)."""

    def __init__(self, tz: Any, periods: tuple[tuple[time, time], ...]) -> None:
        self.tz = tz
        self._periods = tuple((_minutes(b), _minutes(e)) for b, e in periods)
        self._day_hours = sum(e - b for b, e in self._periods) / 60
        self._first: date | None = None
        self._before: list[float] = []  # working hours before each day, from _first
        self._working: list[bool] = []

    def _index(self, day: date) -> int:
        if self._first is None:
            self._first, self._before, self._working = day, [0.0], [is_working_day(day)]
        elif day < self._first:
            days = (self._first - day).days
            flags = [is_working_day(day + timedelta(days=i)) for i in range(days)]
            # Earlier days count down from the first one asked for: values already handed out stay valid.
            before, total = [], self._before[0] - sum(self._day_hours for flag in flags if flag)
            for flag in flags:
                before.append(total)
                total += self._day_hours if flag else 0.0
            self._before = before + self._before
            self._working = flags + self._working
            self._first = day
        i = (day - self._first).days
        while i >= len(self._before):
            last = len(self._before) - 1
            self._before.append(self._before[last] + (self._day_hours if self._working[last] else 0.0))
            self._working.append(is_working_day(self._first + timedelta(days=last + 1)))
        return i

    def hours(self, at: datetime) -> float:
        local = at.astimezone(self.tz)
        i = self._index(local.date())
        if not self._working[i]:
            return self._before[i]
        minute = local.hour * 60 + local.minute + (local.second + local.microsecond / 1e6) / 60
        inside = sum(min(minute, end) - begin for begin, end in self._periods if minute > begin)
        return self._before[i] + inside / 60


class Clocks:
    """One :class:`WorkClock` per set of working hours the policy gives a topic and channel."""

    def __init__(self, tz: Any) -> None:
        self.tz = tz
        self._by_periods: dict[tuple[tuple[time, time], ...], WorkClock] = {}
        self._by_ticket: dict[tuple[str | None, str | None], WorkClock] = {}

    def for_ticket(self, topic: str | None, channel: str | None) -> WorkClock:
        clock = self._by_ticket.get((topic, channel))
        if clock is None:
            periods = sla.policy_for(topic, channel).working_periods
            clock = self._by_periods.get(periods)
            if clock is None:
                clock = self._by_periods[periods] = WorkClock(self.tz, periods)
            self._by_ticket[(topic, channel)] = clock
        return clock


# --------------------------------------------------------------------- pace
@dataclass
class Pace:
    """How one group's tickets settled in the window ended: the share of allowed time left
    when each on-time one closed (sorted), and how many were late."""

    margins: list[float] = field(default_factory=list)
    late: int = 0

    def add(self, margin: float) -> None:
        insort(self.margins, margin)

    def remove(self, margin: float) -> None:
        i = bisect_left(self.margins, margin)
        if i < len(self.margins) and self.margins[i] == margin:
            self.margins.pop(i)

    def count(self, share: float) -> tuple[int, int]:
        """(late, at risk): of the tickets that were still open with ``share`` left, the late ones."""
        return self.late, self.late + bisect_left(self.margins, share)

    @property
    def late_share(self) -> float | None:
        total = len(self.margins) + self.late
        return self.late / total if total else None


GroupKey = tuple[Hashable, ...]
ALL: GroupKey = ("all",)


def span_class(allowed: float) -> int:
    """Deadlines of about the same length (within a factor √2) are one class: a half-day
    consultation and a one-day service ticket differ, and so do a Boston case with a day's
    target and one with a month's."""
    return round(math.log2(max(allowed, MIN_ALLOWED_HOURS)))


def group_keys(unit_id: int | None, topic: str, allowed: float) -> tuple[GroupKey, ...]:
    """The groups a ticket's pace is read from, most specific first: its unit and topic, its
    unit, every unit (each with deadlines of the same length), then everything."""
    span = span_class(allowed)
    return ("unit_topic", unit_id, topic, span), ("unit", unit_id, span), ("span", span), ALL


BASES = ("unit_topic", "unit", "span", "all")


def margin(close_hours: float, due_hours: float, allowed: float) -> float:
    """Share of the allowed working time left at an on-time close."""
    return (due_hours - close_hours) / allowed


@dataclass(frozen=True)
class Judgement:
    """The arithmetic of one estimate, before it is worded as a reason."""

    probability: float
    basis: str  # unit_topic | unit | span | all: the group the share was read from (``group_keys``)
    pace: Pace
    late: int
    at_risk: int
    share: float
    factor: float


def judge(unit_id: int | None, topic: str, left: float, allowed: float, paces: Mapping[GroupKey, Pace],
          backlog: int, usual_backlog: float, rules: PredictionRules) -> Judgement | None:
    """P(miss) of one open ticket (see the module docstring); None when even every unit
    together has fewer than ``min_history`` tickets to judge by."""
    share = left / allowed
    factor = 1.0
    if rules.backlog_weight:
        factor = ((backlog + 1) / (usual_backlog + 1)) ** rules.backlog_weight
        factor = min(max(factor, 1 / rules.max_backlog_factor), rules.max_backlog_factor)
    effective = share / factor
    for basis, key in zip(BASES, group_keys(unit_id, topic, allowed)):
        pace = paces.get(key)
        if pace is None:
            continue
        late, at_risk = pace.count(effective)
        if at_risk >= rules.min_history:
            return Judgement(late / at_risk, basis, pace, late, at_risk, share, factor)
    return None


def reason(j: Judgement, left: float, allowed: float, backlog: int, usual_backlog: float,
           paces: Mapping[GroupKey, Pace]) -> dict[str, Any]:
    """Why: a code and the numbers behind it (see the module docstring for the codes)."""
    group_late = j.pace.late_share or 0.0
    every = paces.get(("span", span_class(allowed))) or paces[ALL]
    all_late = every.late_share or 0.0
    if j.factor >= BACKLOG_CODE_FACTOR:
        code = "backlog"
    elif j.basis in ("unit_topic", "unit") and group_late >= SLOW_UNIT_RATIO * all_late > 0:
        code = "slow_unit"
    else:
        code = "time_short"
    return {
        "code": code, "basis": j.basis, "left_hours": round(left, 2), "allowed_hours": round(allowed, 2),
        "left_share": round(j.share, 3),
        "history": j.at_risk, "late": j.late, "backlog": backlog, "usual_backlog": round(usual_backlog, 1),
        "backlog_factor": round(j.factor, 2), "group_late_share": round(group_late, 3),
        "every_unit_late_share": round(all_late, 3),
    }


# ------------------------------------------------------------------ the query
@dataclass(frozen=True)
class _Row:
    id: int
    number: str
    unit_id: int | None
    topic: str
    channel: str
    start: datetime  # of the deadline's round: dispatch, or the last 重办
    dispatched_at: datetime
    due: datetime | None
    warn: datetime | None
    closed_at: datetime | None  # None, or after now: open at now


_COLUMNS = (Ticket.id, Ticket.number, Ticket.unit_id, Ticket.topic, Ticket.channel, Ticket.dispatched_at,
            Ticket.received_at, Ticket.resolve_due_at, Ticket.resolve_warn_at, Ticket.closed_at, Ticket.redo_count)


def _rows(session: Session, now: datetime, since: datetime) -> list[_Row]:
    """As of ``now``: tickets open (by status, or closed after ``now``) and closed since
    ``since`` (two indexed queries), and the last 重办 of the redone ones. A ticket settled
    in the window is one of them: closed in it, or due in it and open or closed after."""
    base = and_(Ticket.status != "merged", Ticket.received_at <= now)
    found: dict[int, tuple[Any, ...]] = {}
    for where in (Ticket.status.in_(OPEN), and_(Ticket.closed_at > since, Ticket.status.not_in(OPEN))):
        for row in session.execute(select(*_COLUMNS).where(base, where)):
            found[row[0]] = tuple(row)
    redone = [tid for tid, row in found.items() if row[10]]
    last_redo: dict[int, datetime] = {}
    for chunk in range(0, len(redone), 5000):
        last_redo.update(session.execute(
            select(TicketEvent.ticket_id, func.max(TicketEvent.at))
            .where(TicketEvent.ticket_id.in_(redone[chunk:chunk + 5000]), TicketEvent.kind == "redo",
                   TicketEvent.at <= now)
            .group_by(TicketEvent.ticket_id)).tuples().all())  # pairs (a Result has keys(): not a mapping)
    out = []
    for tid, number, unit_id, topic, channel, dispatched, received, due, warn, closed, _redos in found.values():
        dispatched = dispatched or received
        out.append(_Row(tid, number, unit_id, topic, channel, last_redo.get(tid, dispatched), dispatched,
                        due, warn, closed if closed is not None and closed <= now else None))
    return out


def usual_backlogs(intervals: Iterable[tuple[int | None, datetime, datetime | None]], now: datetime,
                   window: timedelta) -> dict[int | None, float]:
    """Each unit's mean number of open tickets over [now − window, now]: (unit, opened, closed or None)."""
    since = now - window
    total: dict[int | None, float] = defaultdict(float)
    for unit_id, opened, closed in intervals:
        begin, end = max(opened, since), min(closed or now, now)
        if end > begin:
            total[unit_id] += (end - begin).total_seconds()
    seconds = window.total_seconds()
    return {unit_id: value / seconds for unit_id, value in total.items()}


def predict_open(session: Session, now: datetime, tz: Any, *, unit_ids: frozenset[int] | None = None,
                 rules: PredictionRules = PredictionRules()) -> list[Prediction]:
    """Open tickets likely to miss their resolve deadline, most likely first: those still
    before amber (``resolve_warn_at`` after ``now``) in ``unit_ids`` (None: every unit)
    whose probability is at least ``rules.threshold``. History is what was settled by
    ``now``, so asking about a past instant uses nothing after it."""
    window = timedelta(days=rules.window_days)
    since = now - window
    rows = _rows(session, now, since)
    clocks = Clocks(tz)
    paces: dict[GroupKey, Pace] = defaultdict(Pace)
    backlog: dict[int | None, int] = defaultdict(int)
    candidates: list[tuple[_Row, float, float]] = []
    for row in rows:
        is_open = row.closed_at is None
        if is_open and row.dispatched_at <= now:
            backlog[row.unit_id] += 1
        if row.due is None or row.due == row.closed_at:  # no deadline, or an import's "due when closed"
            continue
        clock = clocks.for_ticket(row.topic, row.channel)
        due_hours = clock.hours(row.due)
        allowed = due_hours - clock.hours(row.start)
        if allowed < MIN_ALLOWED_HOURS:
            continue
        if row.closed_at is not None and row.closed_at <= row.due:  # on time: settled at the close
            m = margin(clock.hours(row.closed_at), due_hours, allowed)
            for key in group_keys(row.unit_id, row.topic, allowed):
                paces[key].margins.append(m)
        elif since < row.due <= now:  # late: settled at the deadline
            for key in group_keys(row.unit_id, row.topic, allowed):
                paces[key].late += 1
        elif is_open and row.due > now and (row.warn is None or row.warn > now) and row.start <= now and (
                unit_ids is None or row.unit_id in unit_ids):
            candidates.append((row, due_hours - clock.hours(now), allowed))
    for pace in paces.values():
        pace.margins.sort()
    usual = usual_backlogs(((r.unit_id, r.dispatched_at, r.closed_at) for r in rows), now, window)
    out = []
    for row, left, allowed in candidates:
        held, usual_held = backlog[row.unit_id], usual.get(row.unit_id, 0.0)
        j = judge(row.unit_id, row.topic, left, allowed, paces, held, usual_held, rules)
        if j is None or j.probability < rules.threshold:
            continue
        assert row.due is not None
        out.append(Prediction(row.id, row.number, row.unit_id, round(j.probability, 4), row.due,
                              reason(j, left, allowed, held, usual_held, paces)))
    out.sort(key=lambda p: (-p.probability, p.resolve_due_at, p.ticket_id))
    return out
