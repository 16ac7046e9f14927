"""How good the breach prediction is on history whose outcome is known.

    python -m tickets.prediction_eval DATABASE_URL [--tz ZONE] [--step-hours H] [--backlog-weights 0,0.5,1]

The database is any the platform wrote: weeks of simulated history
(``python -m feeds.history``) or an import (the Boston 311 file). Time walks
forward in steps of ``--step-hours``; at each instant every open ticket that is
not amber yet is judged with :func:`tickets.prediction.judge`, from what was
known at that instant only:

- history = tickets settled in the ``window_days`` before the instant: closed
  by their deadline, or late (the deadline passed unmet);
- backlog = the unit's tickets open at the instant, its usual backlog the mean
  over the window before it;
- a ticket is judged only once its deadline is the one it ends with (after its
  last 重办 or extension decision), so no later change of deadline leaks back.

A ticket is *warned* the first time its probability reaches the threshold.
Truth: it missed its resolve deadline (closed after it, or still open past it
when the data ends); tickets still open with a deadline after the end of the
data are left out. Reported per threshold: tickets judged, base rate, precision,
recall, and the lead time of the true warnings (wall-clock and working hours
before the deadline, hours before amber), next to naive rules ("warn when less
than X working hours are left", "… less than a share X of the allowed time")
judged on the same instants.

The first ``window_days`` of the data are warm-up: history only, no judging.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tickets.models import Ticket, TicketEvent
from tickets.prediction import (
    MIN_ALLOWED_HOURS,
    Clocks,
    GroupKey,
    Pace,
    PredictionRules,
    group_keys,
    judge,
    margin,
)

THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
DEADLINE_EVENTS = ("redo", "extension_decided")


@dataclass
class History:
    """One ticket as the replay needs it (all instants aware, UTC)."""

    id: int
    unit_id: int | None
    topic: str
    channel: str
    opened: datetime  # dispatched (received if never dispatched): counts in its unit's backlog
    start: datetime  # of the round its final deadline belongs to (dispatch or the last 重办)
    known_from: datetime  # its final deadline exists from here on
    due: datetime | None
    warn: datetime | None
    closed_at: datetime | None


def load(session: Session) -> list[History]:
    """Every ticket that is not a merged duplicate, with the time of its last deadline change."""
    changes: dict[int, dict[str, datetime]] = defaultdict(dict)
    for tid, kind, at in session.execute(
            select(TicketEvent.ticket_id, TicketEvent.kind, func.max(TicketEvent.at))
            .where(TicketEvent.kind.in_(DEADLINE_EVENTS)).group_by(TicketEvent.ticket_id, TicketEvent.kind)):
        changes[tid][kind] = at
    out = []
    for (tid, unit_id, topic, channel, received, dispatched, due, warn, closed) in session.execute(
            select(Ticket.id, Ticket.unit_id, Ticket.topic, Ticket.channel, Ticket.received_at, Ticket.dispatched_at,
                   Ticket.resolve_due_at, Ticket.resolve_warn_at, Ticket.closed_at)
            .where(Ticket.status != "merged").order_by(Ticket.id)):
        opened = dispatched or received
        changed = changes.get(tid, {})
        start = changed.get("redo", opened)
        out.append(History(tid, unit_id, topic, channel, opened, start, max([opened, *changed.values()]),
                           due, warn, closed))
    return out


# ----------------------------------------------------------------- results
@dataclass
class Outcome:
    """One judged ticket: whether it missed, and when each rule first warned (None: never)."""

    ticket_id: int
    late: bool
    due: datetime
    warn: datetime | None
    warned: dict[str, datetime] = field(default_factory=dict)  # rule name -> first warning
    warned_work_left: dict[str, float] = field(default_factory=dict)  # working hours left then


@dataclass
class Scores:
    rule: str
    judged: int
    late: int
    warned: int
    true: int
    lead_hours: list[float]  # wall-clock, first warning → deadline, true warnings
    lead_working_hours: list[float]
    before_amber_hours: list[float]  # first warning → amber (negative: after amber, naive rules only)

    @property
    def precision(self) -> float | None:
        return self.true / self.warned if self.warned else None

    @property
    def recall(self) -> float | None:
        return self.true / self.late if self.late else None

    @property
    def f1(self) -> float | None:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p and r else None


def quartiles(values: Sequence[float]) -> tuple[float, float, float] | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0], values[0], values[0]
    q = statistics.quantiles(values, n=4, method="inclusive")
    return q[0], q[1], q[2]


def score(outcomes: Sequence[Outcome], rule: str) -> Scores:
    s = Scores(rule, len(outcomes), sum(o.late for o in outcomes), 0, 0, [], [], [])
    for o in outcomes:
        at = o.warned.get(rule)
        if at is None:
            continue
        s.warned += 1
        if o.late:
            s.true += 1
            s.lead_hours.append((o.due - at).total_seconds() / 3600)
            s.lead_working_hours.append(o.warned_work_left[rule])
            if o.warn is not None:
                s.before_amber_hours.append((o.warn - at).total_seconds() / 3600)
    return s


# ------------------------------------------------------------------ replay
@dataclass(frozen=True)
class Rule:
    """A way to warn: the model with some rules (``rules``), or a naive cut on the time left."""

    name: str
    rules: PredictionRules | None = None
    hours_below: float | None = None
    share_below: float | None = None


def model_rules(backlog_weights: Sequence[float], base: PredictionRules,
                thresholds: Sequence[float] = THRESHOLDS) -> list[Rule]:
    out = []
    for weight in backlog_weights:
        out += [Rule(f"model b={weight:g} p>={t:g}", rules=replace(base, threshold=t, backlog_weight=weight))
                for t in thresholds]
    return out


def naive_rules(hours: Sequence[float], shares: Sequence[float]) -> list[Rule]:
    return ([Rule(f"left < {h:g} working h", hours_below=h) for h in hours]
            + [Rule(f"left < {s:.0%} of allowed", share_below=s) for s in shares])


@dataclass
class _State:
    paces: dict[GroupKey, Pace] = field(default_factory=lambda: defaultdict(Pace))
    backlog: dict[int | None, int] = field(default_factory=lambda: defaultdict(int))
    # The integral of each unit's open count over time (ticket-seconds), for the usual backlog.
    integral: dict[int | None, float] = field(default_factory=lambda: defaultdict(float))
    integral_at: dict[int | None, datetime] = field(default_factory=dict)

    def count_open(self, unit_id: int | None, at: datetime, change: int) -> None:
        self.integral_now(unit_id, at)
        self.backlog[unit_id] += change

    def integral_now(self, unit_id: int | None, at: datetime) -> float:
        last = self.integral_at.get(unit_id)
        if last is not None:
            self.integral[unit_id] += self.backlog[unit_id] * (at - last).total_seconds()
        self.integral_at[unit_id] = at
        return self.integral[unit_id]


Facts = dict[int, tuple[Any, float, float, tuple[GroupKey, ...]]]  # ticket -> clock, due hours, allowed, groups


# Event kinds, in the order they apply at one instant (all take effect at or before it).
_OPEN, _CLOSE, _SETTLED, _EXPIRE, _JUDGE = range(5)


def replay(tickets: Sequence[History], tz: Any, *, rules: Sequence[Rule], step: timedelta,
           window_days: int = 28, begin: datetime | None = None, end: datetime | None = None,
           data_end: datetime | None = None, progress: Callable[[str], None] | None = None) -> list[Outcome]:
    """Walk the history (see the module docstring); one :class:`Outcome` per ticket judged.

    Judged from ``begin`` (default: after the first ``window_days`` of data) to ``end``
    (default: ``data_end``), at whole hours (UTC) and every ``step`` after them;
    ``data_end``: the instant the data were taken (default: the last opening or close in them)."""
    if not tickets:
        return []
    window = timedelta(days=window_days)
    if data_end is None:
        data_end = max(max(t.opened for t in tickets),
                       max((t.closed_at for t in tickets if t.closed_at is not None), default=tickets[0].opened))
    first = min(t.opened for t in tickets)
    begin = begin or first + window
    end = min(end or data_end, data_end)
    clocks = Clocks(tz)
    state = _State()

    # Per ticket: its clock's hours at the deadline and the round's start, its groups.
    facts: Facts = {}
    events: list[tuple[datetime, int, int]] = []
    by_id = {t.id: t for t in tickets}
    for t in tickets:
        events.append((t.opened, _OPEN, t.id))
        if t.closed_at is not None:
            events.append((t.closed_at, _CLOSE, t.id))
        if t.due is None or t.due == t.closed_at:
            continue
        clock = clocks.for_ticket(t.topic, t.channel)
        due_hours = clock.hours(t.due)
        allowed = due_hours - clock.hours(t.start)
        if allowed < MIN_ALLOWED_HOURS:
            continue
        facts[t.id] = (clock, due_hours, allowed, group_keys(t.unit_id, t.topic, allowed))
        settled = t.closed_at if t.closed_at is not None and t.closed_at <= t.due else t.due
        events.append((settled, _SETTLED, t.id))
        events.append((settled + window, _EXPIRE, t.id))
        events.append((t.known_from, _JUDGE, t.id))
    events.sort()

    outcomes: dict[int, Outcome] = {}
    active: dict[int, History] = {}
    margins: dict[int, float] = {}
    snapshots: list[dict[int | None, float]] = []  # the integrals at each instant
    lag = round(window / step)
    model = [r for r in rules if r.rules is not None]
    naive = [r for r in rules if r.rules is None]
    i = 0
    instant = first.replace(minute=0, second=0, microsecond=0)
    began = time.perf_counter()
    while instant <= end:
        while i < len(events) and events[i][0] <= instant:
            at, kind, tid = events[i]
            i += 1
            t = by_id[tid]
            if kind == _OPEN:
                state.count_open(t.unit_id, at, +1)
            elif kind == _CLOSE:
                state.count_open(t.unit_id, at, -1)
                active.pop(tid, None)
            elif kind == _SETTLED:  # its outcome is known now: closed by its deadline, or late
                clock, due_hours, allowed, keys = facts[tid]
                assert t.due is not None
                active.pop(tid, None)
                if t.closed_at is not None and t.closed_at <= t.due:
                    margins[tid] = margin(clock.hours(t.closed_at), due_hours, allowed)
                for key in keys:
                    if tid in margins:
                        state.paces[key].add(margins[tid])
                    else:
                        state.paces[key].late += 1
            elif kind == _EXPIRE:
                for key in facts[tid][3]:
                    if tid in margins:
                        state.paces[key].remove(margins[tid])
                    else:
                        state.paces[key].late -= 1
            elif kind == _JUDGE and (t.closed_at is None or t.closed_at > at):
                active[tid] = t
        integrals = {u: state.integral_now(u, instant) for u in list(state.backlog)}
        snapshots.append(integrals)
        if instant >= begin:
            earlier = snapshots[-1 - lag] if len(snapshots) > lag else {}  # nothing was open before the data
            seconds = window.total_seconds()
            usual = {u: (v - earlier.get(u, 0.0)) / seconds for u, v in integrals.items()}
            _judge_all(instant, active, facts, state, usual, model, naive, outcomes, data_end)
        instant += step
        if progress and len(snapshots) % 500 == 0:
            progress(f"{instant.astimezone(tz):%Y-%m-%d %H:%M}: {len(active)} open before amber, "
                     f"{len(outcomes)} judged so far ({time.perf_counter() - began:.0f} s)")
    return list(outcomes.values())


def _judge_all(now: datetime, active: dict[int, History], facts: Facts,
               state: _State, usual: dict[int | None, float], model: Sequence[Rule], naive: Sequence[Rule],
               outcomes: dict[int, Outcome], data_end: datetime) -> None:
    hours_now: dict[int, float] = {}
    for tid, t in list(active.items()):
        assert t.due is not None
        if (t.warn is not None and t.warn <= now) or t.due <= now:
            del active[tid]  # amber (or due): no longer the prediction's business
            continue
        if t.closed_at is None and t.due > data_end:
            continue  # outcome unknown
        clock, due_hours, allowed, _keys = facts[tid]
        wnow = hours_now.get(id(clock))
        if wnow is None:
            wnow = hours_now[id(clock)] = clock.hours(now)
        left = due_hours - wnow
        o = outcomes.get(tid)
        if o is None:
            late = t.closed_at is None or t.closed_at > t.due
            o = outcomes[tid] = Outcome(tid, late, t.due, t.warn)
        for rule in naive:
            if rule.name in o.warned:
                continue
            if (rule.hours_below is not None and left < rule.hours_below) or (
                    rule.share_below is not None and left / allowed < rule.share_below):
                o.warned[rule.name], o.warned_work_left[rule.name] = now, left
        backlog, held = state.backlog[t.unit_id], usual.get(t.unit_id, 0.0)
        judged: dict[float, float | None] = {}
        for rule in model:
            if rule.name in o.warned:
                continue
            assert rule.rules is not None
            weight = rule.rules.backlog_weight
            if weight not in judged:
                j = judge(t.unit_id, t.topic, left, allowed, state.paces, backlog, held, rule.rules)
                judged[weight] = None if j is None else j.probability
            p = judged[weight]
            if p is not None and p >= rule.rules.threshold:
                o.warned[rule.name], o.warned_work_left[rule.name] = now, left


# --------------------------------------------------------------------- CLI
def _fmt(value: float | None, pct: bool = True) -> str:
    if value is None:
        return "—"
    return f"{value:.1%}" if pct else f"{value:.1f}"


def _q(values: Sequence[float]) -> str:
    q = quartiles(values)
    return "—" if q is None else f"{q[1]:.1f} ({q[0]:.1f}–{q[2]:.1f})"


def table(scores: Sequence[Scores]) -> list[str]:
    """A Markdown table: one row per rule."""
    lines = [("| rule | warned | precision | recall | F1 | lead, h before deadline: median (IQR) "
              "| working h left | h before amber |"),
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for s in scores:
        lines.append(f"| {s.rule} | {s.warned:,} | {_fmt(s.precision)} | {_fmt(s.recall)} | {_fmt(s.f1)} "
                     f"| {_q(s.lead_hours)} | {_q(s.lead_working_hours)} | {_q(s.before_amber_hours)} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    from tickets.db import make_engine

    parser = argparse.ArgumentParser(prog="python -m tickets.prediction_eval", description=__doc__.split("\n\n")[0])
    parser.add_argument("database_url")
    parser.add_argument("--tz", default="Asia/Shanghai", help="the zone the database's platform ran in")
    parser.add_argument("--step-hours", type=float, default=1.0, help="judge every this many hours")
    parser.add_argument("--window-days", type=int, default=PredictionRules.window_days)
    parser.add_argument("--min-history", type=int, default=PredictionRules.min_history)
    parser.add_argument("--backlog-weights", default="0,0.5,1", help="the model with each of these weights")
    parser.add_argument("--naive-hours", default="1,2,4,8,24", help="naive rules: fewer working hours left than")
    parser.add_argument("--naive-shares", default="0.7,0.6,0.5,0.4,0.3",
                        help="naive rules: less of the allowed time left than")
    args = parser.parse_args(argv)
    tz = ZoneInfo(args.tz)
    began = time.perf_counter()
    engine = make_engine(args.database_url)
    with Session(engine) as session:
        tickets = load(session)
    engine.dispose()
    print(f"{len(tickets):,} tickets loaded from {args.database_url} ({time.perf_counter() - began:.0f} s)",
          file=sys.stderr)
    base = PredictionRules(window_days=args.window_days, min_history=args.min_history)
    weights = [float(w) for w in args.backlog_weights.split(",") if w]
    rules = model_rules(weights, base) + naive_rules([float(h) for h in args.naive_hours.split(",") if h],
                                                     [float(s) for s in args.naive_shares.split(",") if s])
    outcomes = replay(tickets, tz, rules=rules, step=timedelta(hours=args.step_hours), window_days=args.window_days,
                      progress=lambda text: print(text, file=sys.stderr, flush=True))
    late = sum(o.late for o in outcomes)
    first = min((o.due for o in outcomes), default=None)
    last = max((o.due for o in outcomes), default=None)
    print(f"judged {len(outcomes):,} tickets (deadlines {first and first.astimezone(tz):%Y-%m-%d} – "
          f"{last and last.astimezone(tz):%Y-%m-%d}), {late:,} missed their deadline "
          f"(base rate {_fmt(late / len(outcomes) if outcomes else None)}); judged every {args.step_hours:g} h, "
          f"window {args.window_days} days, min history {args.min_history}; "
          f"{time.perf_counter() - began:.0f} s in all")
    print()
    for line in table([score(outcomes, r.name) for r in rules]):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
