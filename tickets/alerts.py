"""Early warnings as alerts: surges and recurring issues → alert rows,
live events for the wall and notifications for the responsible unit.

:func:`detect` runs the rules of ``geo/surges.py`` on the database and keeps
one :class:`~tickets.models.Alert` row per episode:

- **surge** (突增): per topic and district per local day against the
  district's own baseline (``geo.surges.detect_surges``), evaluated for today
  and yesterday (so tickets of the last minutes before midnight still count).
  Key ``surge:<topic>:<district>:<day>``: the same surge seen again is the
  same row, its count and reason updated. It closes once its day is over.
- **recurring** (多发诉求): ``min_count`` (3) or more tickets of one topic in
  one resolution-9 H3 cell (≈0.1 km², a block) within ``window_days`` (7)
  (``geo.surges.detect_recurring``), **and** improbable for that cell's own
  history: P(X ≥ count) < ``alpha`` / (cells meeting the count), X Poisson
  with the cell's mean over the 28 days before the window (at least
  ``RECURRING_FLOOR``). A block with no history still warns at 3 or 4; a busy
  street corner that always has that many does not (on the simulated city,
  600 tickets an hour, the count rule alone marks ~9,900 cells a week). It
  stays one row while the cell keeps meeting the count, and closes when it
  no longer does.

**Days with data.** A baseline is made of days on which the platform received
tickets, not of calendar days: a day without a single ticket (before the feeds
started, or while they were down) says nothing about how quiet it was. Until
``min_history_days`` (7) of the 28 days before the day (surges) or before the
window (recurring issues) have at least one ticket, no alert of that rule is
raised; a new deployment, or a few rows dated days back (the 110 sample), would
otherwise see every busy district "surge" against an empty past. A district's
surge baseline then counts only its own days with data, and needs at least
``min_history_days`` of them and ``surge_min_baseline_tickets`` (14) of the
series, or the fixed floor (``surge_min_count``, the bureau's ten a day)
applies alone (``geo.surges``). Recurring issues scale a cell's history by the
days with data before the window.

**History.** Nothing older than the rules' windows is looked at (today and
yesterday; the last ``recurring_window_days``): an import of last year's
tickets raises nothing, and counts as days with data only where it falls in
the 28 days of a baseline.

Each raise, update and close writes an ``alert`` outbox message (no ticket,
no personal data), which the live path pushes to every screen; raising also
writes a :class:`~tickets.models.Notification` to the responsible unit.
:func:`run` is the leader's loop (like tickets/housekeeping.py).
"""
from __future__ import annotations

import logging
import math
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

import h3
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from geo.districts import JIAXIANG_FILE, JINAN_FILE, centroid, district_at, load_districts
from geo.surges import (
    BASELINE_DAYS, MIN_BASELINE_COUNT, MIN_COUNT, Recurring, Surge, detect_recurring, detect_surges,
)
from tickets import events
from tickets import points as ticket_points
from tickets.errors import IllegalStep, Invalid
from tickets.lifecycle import aware
from tickets.models import Alert, Notification, Ticket, Unit
from tickets.roles import Actor, check
from tickets.uow import UnitOfWork, unit_of_work
from tickets.vocabulary import TOPICS

log = logging.getLogger(__name__)

ALERT_TOPIC = "alert"  # outbox topic: the live path tells it from ticket events
KINDS = {"surge": "突增预警", "recurring": "多发预警"}
STATUSES = ("open", "closed")
MIN_HISTORY_DAYS = 7
RECURRING_WINDOW_DAYS = 7
RECURRING_RESOLUTION = 9
RECURRING_MIN_COUNT = 3
RECURRING_ALPHA = 0.001
RECURRING_FLOOR = 0.1  # expected tickets in a window for a cell with no history
DETECT_SECONDS = 300.0


@dataclass(frozen=True)
class AlertConfig:
    min_history_days: int = MIN_HISTORY_DAYS  # days with data a baseline needs (the bureau's, a district's)
    surge_min_count: int = MIN_COUNT
    surge_min_baseline_tickets: int = MIN_BASELINE_COUNT
    recurring_window_days: int = RECURRING_WINDOW_DAYS
    recurring_min_count: int = RECURRING_MIN_COUNT
    recurring_alpha: float = RECURRING_ALPHA
    interval_seconds: float = DETECT_SECONDS

    @classmethod
    def from_settings(cls, settings: Any) -> AlertConfig:
        """The surge settings (``surge_*``), then ``extra.alerts`` of the config file: any of the fields above."""
        base = cls(surge_min_count=settings.surge_min_count,
                   surge_min_baseline_tickets=settings.surge_min_baseline_tickets)
        given = (getattr(settings, "extra", None) or {}).get("alerts") or {}
        known = {k: type(getattr(base, k))(v) for k, v in given.items() if k in cls.__dataclass_fields__}
        unknown = set(given) - set(known)
        if unknown:
            raise ValueError(f"extra.alerts: unknown keys {sorted(unknown)}; known: {sorted(cls.__dataclass_fields__)}")
        return replace(base, **known)


@dataclass
class Detection:
    raised: list[Alert] = field(default_factory=list)
    updated: list[Alert] = field(default_factory=list)
    closed: list[Alert] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # why a rule did not run (warm-up)

    def summary(self) -> dict[str, Any]:
        return {"raised": len(self.raised), "updated": len(self.updated), "closed": len(self.closed),
                "skipped": self.skipped}


# ------------------------------------------------------------------ views
def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def alert_view(alert: Alert, unit: Unit | None = None) -> dict[str, Any]:
    """What screens and the API show of an alert (no ticket, no personal data)."""
    unit = unit if unit is not None else alert.unit
    return {
        "id": alert.id,
        "kind": alert.kind,
        "kind_label": KINDS.get(alert.kind, alert.kind),
        "topic": alert.topic,
        "topic_label": TOPICS.get(alert.topic, alert.topic),
        "area_kind": alert.area_kind,
        "area": alert.area,
        "area_name": alert.area_name,
        "lat": round(alert.lat, 5) if alert.lat is not None else None,
        "lon": round(alert.lon, 5) if alert.lon is not None else None,
        "unit_id": alert.unit_id,
        "unit_code": unit.code if unit else None,
        "unit_name": unit.name if unit else None,
        "day": alert.day.isoformat() if alert.day else None,
        "window_days": alert.window_days,
        "count": alert.count,
        "baseline": round(alert.baseline, 2) if alert.baseline is not None else None,
        "threshold": alert.threshold,
        "p_value": alert.p_value,
        "reason": alert.reason,
        "status": alert.status,
        "first_seen_at": _iso(alert.first_seen_at),
        "last_seen_at": _iso(alert.last_seen_at),
        "closed_at": _iso(alert.closed_at),
        "acknowledged_at": _iso(alert.acknowledged_at),
        "acknowledged_by_id": alert.acknowledged_by_id,
        "acknowledgement": alert.acknowledgement,
        "closed_by_id": alert.closed_by_id,
        "closing_note": alert.closing_note,
    }


def calling(stmt: Any = None) -> Any:
    """The alerts that still call for attention: open, and nobody has acknowledged them (the
    wall's banner). ``stmt``: a select of Alert to narrow, e.g. to a scope."""
    stmt = select(Alert) if stmt is None else stmt
    return stmt.where(Alert.status == "open", Alert.acknowledged_at.is_(None)).order_by(Alert.first_seen_at, Alert.id)


def _announce(session: UnitOfWork, alert: Alert, action: str, at: datetime) -> None:
    session.flush()
    events.announce(session, ALERT_TOPIC, {"event": "alert", "action": action, "at": at.isoformat(),
                                           "alert": alert_view(alert)})


def acknowledge(uow: UnitOfWork, alert: Alert, at: datetime, actor: Actor, note: str | None = None) -> None:
    """已阅: someone has seen the alert and taken it on; screens stop calling for attention.
    The alert stays open while its condition holds (the detector closes it)."""
    check(actor, "acknowledge_alert", alert.unit_id)
    aware(at, "acknowledge")
    if alert.status != "open":
        raise IllegalStep("alert_closed", alert=alert.id)
    if alert.acknowledged_at is not None:
        raise IllegalStep("alert_acknowledged", alert=alert.id, at=alert.acknowledged_at.isoformat())
    alert.acknowledged_at, alert.acknowledged_by_id = at, actor.user_id
    alert.acknowledgement = (note or "").strip() or None
    _announce(uow, alert, "acknowledged", at)


def close(uow: UnitOfWork, alert: Alert, at: datetime, actor: Actor, note: str) -> None:
    """Closed by a person, with why (dealt with, or not a real pattern). The detector raises it
    again only if its count grows past what it was now."""
    check(actor, "acknowledge_alert", alert.unit_id)
    aware(at, "close")
    if alert.status != "open":
        raise IllegalStep("alert_closed", alert=alert.id)
    note = (note or "").strip()
    if not note:
        raise Invalid("text_required", what="note", number=None)
    if alert.acknowledged_at is None:  # closing it is having seen it
        alert.acknowledged_at, alert.acknowledged_by_id = at, actor.user_id
    alert.status, alert.closed_at, alert.closed_by_id, alert.closing_note = "closed", at, actor.user_id, note
    _announce(uow, alert, "closed", at)


# ------------------------------------------------------------------ data
def _local_day_expr(session: UnitOfWork, tz: Any, now: datetime) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return func.date(func.timezone(str(tz), Ticket.received_at))
    # SQLite stores UTC text: shift by the zone's offset (fixed for China; a
    # zone with daylight saving is off by an hour around its switch).
    offset = now.astimezone(tz).utcoffset() or timedelta(0)
    return func.date(Ticket.received_at, f"{int(offset.total_seconds() // 60):+d} minutes")


def daily_counts(session: UnitOfWork, first: date, last: date, tz: Any, now: datetime) -> Counter[tuple[str, str, date]]:
    """Tickets per (topic, district, local day) for days first..last, counted in SQL."""
    start = datetime.combine(first, datetime.min.time(), tz)
    end = datetime.combine(last + timedelta(days=1), datetime.min.time(), tz)
    day = _local_day_expr(session, tz, now)
    rows = session.execute(
        select(Ticket.topic, Ticket.district, day, func.count(Ticket.id))
        .where(Ticket.received_at >= start, Ticket.received_at < end, Ticket.status != "merged",
               Ticket.district.is_not(None))
        .group_by(Ticket.topic, Ticket.district, day)
    ).all()
    out: Counter[tuple[str, str, date]] = Counter()
    for topic, district, d, n in rows:
        d = date.fromisoformat(d) if isinstance(d, str) else d
        out[(topic, district, d)] += int(n)
    return out


def days_with_tickets(session: Session, first: date, last: date, tz: Any) -> set[date]:
    """The local days first..last on which the platform received at least one ticket (merged
    ones too: they prove the feed ran). One probe of ix_tickets_received_at a day, not a scan."""
    found: set[date] = set()
    day = first
    while day <= last:
        start = datetime.combine(day, time.min, tz)
        end = datetime.combine(day + timedelta(days=1), time.min, tz)
        if session.scalar(select(Ticket.id).where(Ticket.received_at >= start, Ticket.received_at < end)
                          .limit(1)) is not None:
            found.add(day)
        day += timedelta(days=1)
    return found


def poisson_tail(count: int, mean: float) -> float:
    """P(X >= count) for X Poisson(mean), summed upward (exact for tiny tails)."""
    if count <= 0:
        return 1.0
    term = math.exp(-mean + count * math.log(mean) - math.lgamma(count + 1))
    total, k = 0.0, count
    while term > 0.0:
        total += term
        k += 1
        term *= mean / k
        if k > mean and term < total * 1e-16:
            break
    return min(total, 1.0)


# ------------------------------------------------------------------ units and places
def _district_units(session: Session) -> dict[str, Unit]:
    """The territorial level-2 unit (branch or county bureau) of each district."""
    out: dict[str, Unit] = {}
    for unit in session.scalars(select(Unit).where(Unit.level == 2, Unit.kind.in_(("branch", "county_bureau")))
                                .order_by(Unit.code)):
        if unit.district:
            out.setdefault(unit.district, unit)
    return out


def _all_districts() -> dict[str, Any]:
    found = dict(load_districts(JINAN_FILE))
    found.update(load_districts(JIAXIANG_FILE))
    return found


def _district_point(name: str) -> tuple[float | None, float | None]:
    districts = _all_districts()
    if name not in districts:
        return None, None
    return centroid(name, districts)


# ------------------------------------------------------------------ rules
def _upsert(session: UnitOfWork, result: Detection, now: datetime, key: str, values: dict[str, Any],
            open_match: Any = None) -> Alert:
    alert = session.scalar(select(Alert).where(Alert.key == key))
    if alert is None and open_match is not None:
        alert = session.scalar(open_match)
    if alert is None:
        alert = Alert(key=key, first_seen_at=now, last_seen_at=now, status="open", **values)
        session.add(alert)
        session.flush()
        _announce(session, alert, "raised", now)
        if alert.unit_id is not None:
            session.add(Notification(unit_id=alert.unit_id, role=None, kind="alert",
                                     text=f"{KINDS[alert.kind]}：{alert.reason}", at=now))
        result.raised.append(alert)
        return alert
    if alert.status == "closed" and alert.closed_by_id is not None and values["count"] <= alert.count:
        # A person closed it with a note: not raised again for the same, only if it grows.
        alert.last_seen_at = now
        return alert
    changed = alert.status != "open" or alert.count != values["count"]
    for name, value in values.items():
        setattr(alert, name, value)
    alert.last_seen_at = now
    if changed:
        reopened = alert.status != "open"
        alert.status, alert.closed_at, alert.closed_by_id, alert.closing_note = "open", None, None, None
        _announce(session, alert, "raised" if reopened else "updated", now)
        (result.raised if reopened else result.updated).append(alert)
    return alert


def _surges(session: UnitOfWork, now: datetime, tz: Any, cfg: AlertConfig, result: Detection) -> None:
    today = now.astimezone(tz).date()
    days = [today - timedelta(days=1), today]
    with_data = days_with_tickets(session, days[0] - timedelta(days=BASELINE_DAYS), days[0], tz)
    counts: Counter[tuple[str, str, date]] | None = None
    units = _district_units(session)
    seen: set[str] = set()
    for day in days:
        history = sum(1 for d in with_data if day - timedelta(days=BASELINE_DAYS) <= d < day)
        if history < cfg.min_history_days:
            result.skipped.append(f"surge {day}: {history} day(s) with data in the {BASELINE_DAYS} before, "
                                  f"{cfg.min_history_days} needed")
            continue
        if counts is None:
            counts = daily_counts(session, days[0] - timedelta(days=BASELINE_DAYS), today, tz, now)
        surges: list[Surge] = detect_surges(counts, day, min_count=cfg.surge_min_count,
                                            min_baseline_days=cfg.min_history_days,
                                            min_baseline_count=cfg.surge_min_baseline_tickets, labels=TOPICS)
        for s in surges:
            key = f"surge:{s.topic}:{s.area}:{s.day.isoformat()}"
            seen.add(key)
            lat, lon = _district_point(s.area)
            unit = units.get(s.area)
            _upsert(session, result, now, key, {
                "kind": "surge", "topic": s.topic, "area_kind": "district", "area": s.area, "area_name": s.area,
                "lat": lat, "lon": lon, "unit_id": unit.id if unit else None, "day": s.day, "window_days": None,
                "count": s.count, "baseline": s.baseline_mean, "threshold": s.threshold, "p_value": s.p_value,
                "reason": s.reason, "ticket_ids": [],
            })
    # A surge's day is over once it is older than yesterday: close it.
    for alert in session.scalars(select(Alert).where(Alert.kind == "surge", Alert.status == "open",
                                                     Alert.day < days[0])):
        alert.status, alert.closed_at, alert.last_seen_at = "closed", now, now
        _announce(session, alert, "closed", now)
        result.closed.append(alert)


def _recurring(session: UnitOfWork, now: datetime, tz: Any, cfg: AlertConfig, result: Detection) -> None:
    window = timedelta(days=cfg.recurring_window_days)
    start, end = now - window, now + timedelta(microseconds=1)
    # The history before the window: the 28 whole local days before the window's first, and
    # how many of them had data.
    first_day = start.astimezone(tz).date() - timedelta(days=BASELINE_DAYS)
    base_start, base_end = (datetime.combine(first_day + timedelta(days=n), time.min, tz) for n in (0, BASELINE_DAYS))
    history = len(days_with_tickets(session, first_day, first_day + timedelta(days=BASELINE_DAYS - 1), tz))
    open_alerts = {(a.topic, a.area): a for a in session.scalars(
        select(Alert).where(Alert.kind == "recurring", Alert.status == "open"))}
    if history < cfg.min_history_days:
        result.skipped.append(f"recurring: {history} day(s) with data in the {BASELINE_DAYS} before the window, "
                              f"{cfg.min_history_days} needed")
        return
    rows = [(p.lat, p.lon, p.topic, p.first_at, p.ticket_id) for p in ticket_points.raw_points(session, start, end)]
    candidates: list[Recurring] = detect_recurring(
        rows, cfg.recurring_window_days, RECURRING_RESOLUTION, cfg.recurring_min_count, now=end, labels=TOPICS)
    wanted = {(c.topic, c.cell) for c in candidates}
    base_days = max(history, 1)  # a cell's tickets of the 28 days, per day with data
    baseline: Counter[tuple[str, str]] = Counter()
    if candidates:
        topics = {c.topic for c in candidates}
        for p in ticket_points.raw_points(session, base_start, base_end):
            if p.topic in topics:
                key = (p.topic, h3.latlng_to_cell(p.lat, p.lon, RECURRING_RESOLUTION))
                if key in wanted:
                    baseline[key] += 1
    units = {u.code: u for u in session.scalars(select(Unit))}
    by_district = _district_units(session)
    limit = cfg.recurring_alpha / max(len(candidates), 1)
    for c in candidates:
        expected = max(baseline[(c.topic, c.cell)] * cfg.recurring_window_days / base_days, RECURRING_FLOOR)
        p_value = poisson_tail(c.count, expected)
        current = open_alerts.get((c.topic, c.cell))
        if p_value >= limit and current is None:
            continue  # as usual for this block: no warning (an open one stays open while the count holds)
        unit = units.get(c.unit_code) if c.unit_code else None
        district = district_at(c.lat, c.lon, _all_districts())
        if unit is None and district:
            unit = by_district.get(district)
        station = unit.name if unit is not None and unit.level == 3 else None
        area_name = f"{station}辖区" if station else (district or c.cell)
        threshold = cfg.recurring_min_count
        while poisson_tail(threshold, expected) >= limit and threshold < 10_000:
            threshold += 1
        usual = baseline[(c.topic, c.cell)] * cfg.recurring_window_days / base_days
        reason = (f"{c.reason}（{area_name}；此前{BASELINE_DAYS}日中有数据的 {base_days} 日折合"
                  f"每{cfg.recurring_window_days}日 {usual:.1f} 起）")
        first_id = min((t for t in c.ticket_ids if t is not None), default=0)
        _upsert(session, result, now, f"recurring:{c.topic}:{c.cell}:{first_id}", {
            "kind": "recurring", "topic": c.topic, "area_kind": "cell", "area": c.cell, "area_name": area_name[:64],
            "lat": c.lat, "lon": c.lon, "unit_id": unit.id if unit else None, "day": None,
            "window_days": cfg.recurring_window_days, "count": c.count, "baseline": expected,
            "threshold": threshold, "p_value": p_value, "reason": reason,
            "ticket_ids": sorted(t for t in c.ticket_ids if t is not None),
        }, open_match=select(Alert).where(Alert.kind == "recurring", Alert.status == "open",
                                          Alert.topic == c.topic, Alert.area == c.cell))
    for (topic, cell), alert in open_alerts.items():
        if (topic, cell) not in wanted:  # fewer than min_count left in the window
            alert.status, alert.closed_at, alert.last_seen_at = "closed", now, now
            _announce(session, alert, "closed", now)
            result.closed.append(alert)


def detect(session: UnitOfWork, now: datetime, tz: Any, cfg: AlertConfig | None = None) -> Detection:
    """Run both rules at ``now`` in this transaction; idempotent (see the module)."""
    cfg = cfg or AlertConfig()
    result = Detection()
    _surges(session, now, tz, cfg, result)
    _recurring(session, now, tz, cfg, result)
    return result


def detect_in_own_transaction(factory: sessionmaker[UnitOfWork], now: datetime, tz: Any,
                              cfg: AlertConfig | None = None) -> dict[str, Any]:
    with unit_of_work(factory) as session:
        return detect(session, now, tz, cfg).summary()


def _now() -> datetime:
    return datetime.now(timezone.utc)


def run(factory: sessionmaker[UnitOfWork], stop: threading.Event, is_leader: Callable[[], bool], tz: Any, *,
        cfg: AlertConfig | None = None, clock: Callable[[], datetime] = _now, first_delay: float = 5.0) -> None:
    """The leader's loop: detect every ``cfg.interval_seconds``; never raises."""
    cfg = cfg or AlertConfig()
    if stop.wait(first_delay):
        return
    while not stop.is_set():
        try:
            if is_leader():
                summary = detect_in_own_transaction(factory, clock(), tz, cfg)
                if summary["raised"] or summary["closed"]:
                    log.info("alerts: %s", summary)
        except Exception:  # noqa: BLE001 - the loop must survive a database hiccup
            log.exception("alert detection failed; next round tries again")
        stop.wait(cfg.interval_seconds)

