"""Hotspots: ticket counts on the H3 grid for a topic and a window, with the
busiest cells' trend against the window before. The same answer feeds
``GET /api/v1/hotspots``, the maps and the export, so they always agree."""
from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tickets import points as ticket_points
from geo.hotspots import DEFAULT_RESOLUTION, cell_area_km2, previous_window, top_hotspots
from geo.jurisdictions import routing_jurisdictions
from tickets.models import Unit


def unit_names(session: Session) -> dict[str, str]:
    return {code: name for code, name in session.execute(select(Unit.code, Unit.name))}


def hotspots(session: Session, start: datetime, end: datetime, topic: str | None,
             scope: Collection[int] | None, resolution: int = DEFAULT_RESOLUTION, top: int = 10) -> dict[str, Any]:
    """Every cell of the window with its count, centre and responsible station; the ``top`` busiest."""
    cells, total, aggregated = ticket_points.cells_between(session, start, end, topic, scope, resolution=resolution)
    p_start, p_end = previous_window(start, end)
    before, before_total, _ = ticket_points.cells_between(session, p_start, p_end, topic, scope, resolution=resolution)
    js = routing_jurisdictions()
    names = unit_names(session)
    stations = js.stations_at([c.lat for c in cells], [c.lon for c in cells])
    ranked = top_hotspots(cells, before, top, js)
    return {
        "topic": topic,
        "from": start.isoformat(),
        "to": end.isoformat(),
        "resolution": resolution,
        "cell_area_km2": round(cell_area_km2(resolution), 4),
        "total": total,
        "aggregated": aggregated,
        "cells": [
            {"cell": c.cell, "lat": round(c.lat, 6), "lon": round(c.lon, 6), "count": c.count, "topics": c.topics,
             "unit_code": code, "unit_name": names.get(code) if code else None,
             "first_at": c.first_at.isoformat() if c.first_at else None,
             "last_at": c.last_at.isoformat() if c.last_at else None}
            for c, code in zip(cells, stations)
        ],
        "top": [
            {"cell": h.cell, "lat": round(h.lat, 6), "lon": round(h.lon, 6), "count": h.count,
             "previous": h.previous, "change": h.change, "trend": h.trend, "topics": h.topics,
             "unit_code": h.unit_code, "unit_name": names.get(h.unit_code) if h.unit_code else None}
            for h in ranked
        ],
        "previous": {"from": p_start.isoformat(), "to": p_end.isoformat(), "total": before_total},
    }
