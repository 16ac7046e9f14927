"""Ticket points from the database, for hotspots, heat maps and early warnings: the
read model that hands geo/ plain points (geo.hotspots.WeightedPoint) to count and draw.

Only the columns a map needs are read (lat, lon, topic, received_at, and the
id where a live layer must de-duplicate), merged tickets are left out (a merged
duplicate is an intake record of another ticket, not a ticket), and a scope (the unit ids an
actor may see, None for all) is applied in SQL.

**Raw or aggregated.** A window holding at most ``cap`` points is read point
by point. Beyond that, the database aggregates: points are grouped by topic on
a fine grid of ``GRID_DEGREES`` (0.0005°, about 55 m × 45 m at Jinan's
latitude) and each group comes back as one weighted point at the group's mean
position. The rows read are then bounded by the places, not by the tickets.
Totals stay exact; a point within ~40 m of an H3 cell edge may be counted in
the neighbouring cell (a resolution-8 cell is ~1 km across), which is the
price of not reading every ticket. docs/PERFORMANCE.md has the measurements.
"""
from __future__ import annotations

from collections.abc import Collection, Iterator
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from geo.hotspots import DEFAULT_RESOLUTION, Cell, WeightedPoint, weighted_cells
from tickets.models import Ticket

# Beyond this many points in a window, the database aggregates (hotspots API).
CAP = 5000
# The live heat layer keeps at most this many points (see docs/PERFORMANCE.md).
LIVE_CAP = 20000
GRID_DEGREES = 0.0005


def _where(stmt: Any, start: datetime, end: datetime, topic: str | None,
           unit_ids: Collection[int] | None) -> Select[Any]:
    stmt = stmt.where(Ticket.received_at >= start, Ticket.received_at < end,
                      Ticket.lat.is_not(None), Ticket.lon.is_not(None), Ticket.status != "merged")
    if topic is not None:
        stmt = stmt.where(Ticket.topic == topic)
    if unit_ids is not None:
        stmt = stmt.where(Ticket.unit_id.in_(sorted(unit_ids)) if unit_ids else Ticket.id.is_(None))
    return stmt


def count_points(session: Session, start: datetime, end: datetime, topic: str | None = None,
                 unit_ids: Collection[int] | None = None) -> int:
    return int(session.scalar(_where(select(func.count(Ticket.id)), start, end, topic, unit_ids)) or 0)


def raw_points(session: Session, start: datetime, end: datetime, topic: str | None = None,
               unit_ids: Collection[int] | None = None, *, limit: int | None = None) -> Iterator[WeightedPoint]:
    """Every point of the window, newest first when ``limit`` cuts it."""
    stmt = _where(select(Ticket.lat, Ticket.lon, Ticket.topic, Ticket.received_at, Ticket.id),
                  start, end, topic, unit_ids)
    if limit is not None:
        stmt = stmt.order_by(Ticket.received_at.desc()).limit(limit)
    for lat, lon, t, at, tid in session.execute(stmt.execution_options(yield_per=5000)):
        yield WeightedPoint(lat, lon, t, 1, at, at, tid)


def grouped_points(session: Session, start: datetime, end: datetime, topic: str | None = None,
                   unit_ids: Collection[int] | None = None, *, grid: float = GRID_DEGREES) -> Iterator[WeightedPoint]:
    """Points grouped by topic on a ``grid``-degree grid, in SQL (see the module)."""
    gy = func.round(Ticket.lat / grid)
    gx = func.round(Ticket.lon / grid)
    stmt = _where(
        select(func.avg(Ticket.lat), func.avg(Ticket.lon), Ticket.topic, func.count(Ticket.id),
               func.min(Ticket.received_at), func.max(Ticket.received_at)),
        start, end, topic, unit_ids,
    ).group_by(Ticket.topic, gy, gx)
    for lat, lon, t, n, first, last in session.execute(stmt.execution_options(yield_per=5000)):
        yield WeightedPoint(float(lat), float(lon), t, int(n), aware_utc(first), aware_utc(last))


def aware_utc(value: Any) -> datetime:
    """min()/max() of a UTC column come back naive (or as text) on SQLite."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


def load_points(session: Session, start: datetime, end: datetime, topic: str | None = None,
                unit_ids: Collection[int] | None = None, *, cap: int | None = None) -> tuple[list[WeightedPoint], int, bool]:
    """(points, total tickets, aggregated?): raw up to ``cap`` (default ``CAP``) points, grouped beyond."""
    cap = CAP if cap is None else cap
    total = count_points(session, start, end, topic, unit_ids)
    if total <= cap:
        return list(raw_points(session, start, end, topic, unit_ids)), total, False
    return list(grouped_points(session, start, end, topic, unit_ids)), total, True


def cells_between(session: Session, start: datetime, end: datetime, topic: str | None = None,
                  unit_ids: Collection[int] | None = None, *, resolution: int = DEFAULT_RESOLUTION,
                  cap: int | None = None) -> tuple[list[Cell], int, bool]:
    """(cells busiest first, total tickets, aggregated?) of one window."""
    points, total, aggregated = load_points(session, start, end, topic, unit_ids, cap=cap)
    return weighted_cells(points, resolution), total, aggregated
