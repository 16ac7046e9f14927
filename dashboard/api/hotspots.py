"""Hotspots: ticket counts on the H3 grid for a topic and a time window.

    GET /api/v1/hotspots[?topic=noise][&window=1h|24h|7d | &from=…&to=…][&resolution=8][&top=10]

``from``/``to`` are local dates (``YYYY-MM-DD``, both days included) or ISO
date-times (a time without a zone is local time); ``to`` defaults to now.
Without them, ``window`` (default ``24h``) ends now. The answer has every
cell with its count, centre and responsible station, the ``top`` busiest with
their trend against the window of equal length just before, and whether the
database aggregated the points (more than ``tickets.points.CAP`` in the window).

Any actor may ask (a wall's kiosk token too); a user sees the tickets of the
units they may see (tickets/roles.py), the city and kiosks see all.
"""
from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import date, datetime, timedelta
from typing import Any

from flask import jsonify, request
from sqlalchemy import select

from dashboard.api import blueprint, platform
from dashboard.api.figures import BadRequest
from dashboard.auth import current_actor, require_login
from tickets import points as ticket_points
from geo.hotspots import DEFAULT_RESOLUTION, WINDOWS, cell_area_km2, previous_window, top_hotspots
from geo.jurisdictions import routing_jurisdictions
from tickets.models import Unit, utcnow
from tickets.vocabulary import TOPICS

MAX_RANGE = timedelta(days=92)


def parse_topic(raw: str | None) -> str | None:
    if raw in (None, "", "all"):
        return None
    if raw not in TOPICS:
        raise BadRequest(f"'topic' must be one of {', '.join(TOPICS)} (or all), not {raw!r}")
    return raw


def _instant(name: str, raw: str, tz: Any, end_of_day: bool) -> datetime:
    try:
        if len(raw) == 10:
            day = date.fromisoformat(raw)
            start = datetime.combine(day, datetime.min.time(), tz)
            return start + timedelta(days=1) if end_of_day else start
        at = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(f"'{name}' must be YYYY-MM-DD or an ISO date-time, not {raw!r}") from None
    return at if at.tzinfo is not None else at.replace(tzinfo=tz)


def parse_window(args: Mapping[str, str], tz: Any, now: datetime) -> tuple[datetime, datetime, str | None]:
    """(start, end, preset window or None) of ``window=`` or ``from=``/``to=``."""
    first, last, window = args.get("from"), args.get("to"), args.get("window")
    if (first or last) and window:
        raise BadRequest("give either 'window' or 'from'/'to', not both")
    if first or last:
        if not first:
            raise BadRequest("'to' needs a 'from'")
        start = _instant("from", first, tz, end_of_day=False)
        end = _instant("to", last, tz, end_of_day=True) if last else now
        if end <= start:
            raise BadRequest("'to' must be after 'from'")
        if end - start > MAX_RANGE:
            raise BadRequest(f"a range may span at most {MAX_RANGE.days} days")
        return start, end, None
    window = window or "24h"
    if window not in WINDOWS:
        raise BadRequest(f"'window' must be one of {', '.join(WINDOWS)}, not {window!r}")
    return now - WINDOWS[window], now, window


def _int(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"'{name}' must be a whole number from {low} to {high}") from None
    if not low <= value <= high:
        raise BadRequest(f"'{name}' must be from {low} to {high}, not {value}")
    return value


def unit_names(session: Any) -> dict[str, str]:
    return dict(session.execute(select(Unit.code, Unit.name)).all())


def hotspots(session: Any, start: datetime, end: datetime, topic: str | None,
             scope: Collection[int] | None, resolution: int = DEFAULT_RESOLUTION, top: int = 10) -> dict[str, Any]:
    """The hotspots answer for a window (also used by the map and the export)."""
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


@blueprint.get("/hotspots")
@require_login()  # any actor, a wall's kiosk token included
def get_hotspots() -> Any:
    actor = current_actor()
    assert actor is not None
    p = platform()
    topic = parse_topic(request.args.get("topic"))
    start, end, window = parse_window(request.args, p.settings.tz, utcnow())
    resolution = _int("resolution", DEFAULT_RESOLUTION, 5, 10)
    top = _int("top", 10, 1, 100)
    with p.factory() as session:
        body = hotspots(session, start, end, topic, actor.visible_unit_ids, resolution, top)
    return jsonify({"window": window, **body})
