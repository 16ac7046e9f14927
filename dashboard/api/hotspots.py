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

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

from flask import jsonify, request

from dashboard.api.base import blueprint, platform
from dashboard.api.errors import BadParameter
from dashboard.api.openapi import BOOL, INT, NUM, STR, TIME, Param, bounded, obj, one_of, operation
from dashboard.api.params import integer, within_dates
from dashboard.auth import current_actor, require_login
from dashboard.read_models.hotspots import hotspots
from geo.hotspots import DEFAULT_RESOLUTION, WINDOWS
from tickets.models import utcnow
from tickets.vocabulary import TOPICS

MAX_RANGE = timedelta(days=92)

TOPIC = one_of("topic", (*TOPICS, "all"), "a topic (default: all)")
WINDOW = (
    one_of("window", WINDOWS, "a window ending now (default 24h); or from/to"),
    Param("from", {"type": "string"}, "a local date YYYY-MM-DD, or an ISO date-time (local without a zone)"),
    Param("to", {"type": "string"}, "as from, the day included (default: now); at most 92 days after from"),
)
_CELL = {"cell": STR, "lat": NUM, "lon": NUM, "count": INT, "topics": {"type": "object"},
         "unit_code": {"type": ["string", "null"]}, "unit_name": {"type": ["string", "null"]}}
HOTSPOTS = obj({
    "window": {"type": ["string", "null"]}, "topic": {"type": ["string", "null"]}, "from": TIME, "to": TIME,
    "resolution": INT, "cell_area_km2": NUM, "total": INT, "aggregated": BOOL,
    "cells": {"type": "array", "items": obj({**_CELL, "first_at": {"type": ["string", "null"]},
                                             "last_at": {"type": ["string", "null"]}})},
    "top": {"type": "array", "items": obj({**_CELL, "previous": INT, "change": {"type": ["number", "null"]},
                                           "trend": STR})},
    "previous": obj({"from": TIME, "to": TIME, "total": INT}),
})


def parse_topic(raw: str | None) -> str | None:
    if raw in (None, "", "all"):
        return None
    if raw not in TOPICS:
        raise BadParameter("topic", "not_one_of", value=raw, allowed=[*TOPICS, "all"])
    return raw


def _instant(name: str, raw: str, tz: Any, end_of_day: bool) -> datetime:
    try:
        if len(raw) == 10:
            day = within_dates(name, date.fromisoformat(raw))
            start = datetime.combine(day, datetime.min.time(), tz)
            return start + timedelta(days=1) if end_of_day else start
        at = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise BadParameter(name, "invalid_date_or_time", value=raw) from None
    within_dates(name, at.date())
    return at if at.tzinfo is not None else at.replace(tzinfo=tz)


def parse_window(args: Mapping[str, str], tz: Any, now: datetime) -> tuple[datetime, datetime, str | None]:
    """(start, end, preset window or None) of ``window=`` or ``from=``/``to=``."""
    first, last, window = args.get("from"), args.get("to"), args.get("window")
    if (first or last) and window:
        raise BadParameter("window", "conflicting_parameters", other="from/to")
    if first or last:
        if not first:
            raise BadParameter("from", "missing_parameter")
        start = _instant("from", first, tz, end_of_day=False)
        end = _instant("to", last, tz, end_of_day=True) if last else now
        if end <= start:
            raise BadParameter("to", "range_order", other="from")
        if end - start > MAX_RANGE:
            raise BadParameter("to", "range_too_long", max_days=MAX_RANGE.days)
        return start, end, None
    window = window or "24h"
    if window not in WINDOWS:
        raise BadParameter("window", "not_one_of", value=window, allowed=list(WINDOWS))
    return now - WINDOWS[window], now, window




@blueprint.get("/hotspots")
@operation("Ticket counts on the H3 grid, the top hotspots and their trend", {200: HOTSPOTS},
           params=(TOPIC, *WINDOW, bounded("resolution", 5, 10, DEFAULT_RESOLUTION), bounded("top", 1, 100, 10)))
@require_login()  # any actor, a wall's kiosk token included
def get_hotspots() -> Any:
    actor = current_actor()
    assert actor is not None
    p = platform()
    topic = parse_topic(request.args.get("topic"))
    start, end, window = parse_window(request.args, p.settings.tz, utcnow())
    resolution = integer("resolution", DEFAULT_RESOLUTION, 5, 10)
    top = integer("top", 10, 1, 100)
    with p.factory() as session:
        body = hotspots(session, start, end, topic, actor.visible_unit_ids, resolution, top)
    return jsonify({"window": window, **body})
