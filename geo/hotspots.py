"""Hotspots: ticket points counted on the H3 hexagon grid.

Pure functions over (lat, lon, topic, at) tuples; loading them from the
database (topic, time window) is the caller's job. H3 cells have (almost) equal
areas, so counts compare fairly across the city, and a cell id is a stable key
for a map layer and for the previous window's count. Resolution 8 (≈0.74 km², edge ≈530 m)
is a few city blocks; 9 (≈0.1 km², edge ≈200 m) a single block.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

import h3

from geo.jurisdictions import JurisdictionSet, routing_jurisdictions

DEFAULT_RESOLUTION = 8
# A change counts as a trend only when it beats both floors: with counts this
# small, ±1 or ±2 is noise, not a rise.
TREND_MIN_CHANGE = 3
TREND_MIN_SHARE = 0.25

Point = tuple[float, float, str, datetime]
# The wall's preset windows: the last hour, 24 hours, 7 days.
WINDOWS = {"1h": timedelta(hours=1), "24h": timedelta(hours=24), "7d": timedelta(days=7)}
Trend = Literal["new", "up", "down", "flat"]


@dataclass(frozen=True)
class Cell:
    cell: str  # H3 index
    lat: float  # the cell's centre
    lon: float
    count: int
    topics: dict[str, int] = field(default_factory=dict)
    first_at: datetime | None = None
    last_at: datetime | None = None


@dataclass(frozen=True)
class Hotspot:
    cell: str
    lat: float
    lon: float
    count: int
    previous: int  # the same cell in the previous window of equal length
    change: int
    trend: Trend
    unit_code: str | None  # the station responsible for the cell's centre
    topics: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class WeightedPoint:
    """A map point: one ticket, or several grouped at their mean position."""
    lat: float
    lon: float
    topic: str
    weight: int  # tickets at this point (1 for a raw point)
    first_at: datetime
    last_at: datetime
    ticket_id: int | None = None  # raw points only


def cell_area_km2(resolution: int = DEFAULT_RESOLUTION) -> float:
    return float(h3.average_hexagon_area(resolution, unit="km^2"))


def hotspot_cells(
    points: Iterable[Point],
    resolution: int = DEFAULT_RESOLUTION,
    *,
    topic: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[Cell]:
    """Cells with their ticket counts, busiest first (ties by cell id).

    Optional filters: one ``topic``, and ``start <= at < end``. Points without
    coordinates are skipped.
    """
    kept = ((lat, lon, t, 1, at, at) for lat, lon, t, at in points
            if lat is not None and lon is not None and (topic is None or t == topic)
            and (start is None or at >= start) and (end is None or at < end))
    return tally_cells(kept, resolution)


def tally_cells(points: Iterable[tuple[float, float, str, int, datetime, datetime]],
                resolution: int = DEFAULT_RESOLUTION) -> list[Cell]:
    """Cells of (lat, lon, topic, tickets, first at, last at) points, busiest first (ties by cell id)."""
    counts: Counter[str] = Counter()
    topics: dict[str, Counter[str]] = {}
    first: dict[str, datetime] = {}
    last: dict[str, datetime] = {}
    for lat, lon, t, weight, first_at, last_at in points:
        c = h3.latlng_to_cell(lat, lon, resolution)
        counts[c] += weight
        topics.setdefault(c, Counter())[t] += weight
        if c not in first or first_at < first[c]:
            first[c] = first_at
        if c not in last or last_at > last[c]:
            last[c] = last_at
    out = []
    for c, n in counts.items():
        lat, lon = h3.cell_to_latlng(c)
        out.append(Cell(c, lat, lon, n, dict(topics[c].most_common()), first[c], last[c]))
    out.sort(key=lambda cell: (-cell.count, cell.cell))
    return out


def weighted_cells(points: Iterable[WeightedPoint], resolution: int = DEFAULT_RESOLUTION) -> list[Cell]:
    """``hotspot_cells`` for weighted points: busiest first, ties by cell id."""
    return tally_cells(((p.lat, p.lon, p.topic, p.weight, p.first_at, p.last_at) for p in points), resolution)


def trend(current: int, previous: int) -> Trend:
    """new: nothing before; up/down: changed by ≥3 and ≥25%; otherwise flat."""
    if previous == 0 and current > 0:
        return "new"
    change = current - previous
    if abs(change) >= TREND_MIN_CHANGE and abs(change) >= TREND_MIN_SHARE * previous:
        return "up" if change > 0 else "down"
    return "flat"


def top_hotspots(
    current: Iterable[Cell],
    previous: Iterable[Cell],
    n: int = 10,
    jurisdictions: JurisdictionSet | None = None,
) -> list[Hotspot]:
    """The ``n`` busiest cells of ``current`` with their trend against ``previous``
    (the same cells in the window before, of equal length) and responsible station."""
    before = {c.cell: c.count for c in previous}
    js = routing_jurisdictions() if jurisdictions is None else jurisdictions
    ranked = sorted(current, key=lambda c: (-c.count, -(c.count - before.get(c.cell, 0)), c.cell))[:n]
    return [
        Hotspot(c.cell, c.lat, c.lon, c.count, before.get(c.cell, 0), c.count - before.get(c.cell, 0),
                trend(c.count, before.get(c.cell, 0)), js.station_at(c.lat, c.lon), c.topics)
        for c in ranked
    ]


def previous_window(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """The window of equal length just before [start, end)."""
    return start - (end - start), start

