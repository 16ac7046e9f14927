"""The heat map's data and its export.

    GET /api/v1/map/points[?window=24h|1h|7d][&topic=noise]
        The live heat layer's starting points: [lat, lon, weight, t, ticket_id]
        each (t: received, epoch seconds). Up to tickets.points.LIVE_CAP points one
        by one; beyond, grouped on a ~50 m grid in SQL (weight = tickets,
        t = the newest, ticket_id null) and "aggregated": true.
    GET /api/v1/map/export[?topic=noise][&window=24h | &from=…&to=…][&lang=en]
        The map as one self-contained HTML file (scripts, styles and images
        inlined; nothing loaded from anywhere), as an attachment.

Any actor may ask (a kiosk too: both only read); the map holds only the
tickets and alerts of the actor's scope.
"""
from __future__ import annotations

import io
from datetime import datetime
from typing import Any, NamedTuple

from flask import jsonify, request, send_file

from dashboard.api.base import blueprint, platform
from dashboard.api.hotspots import TOPIC, WINDOW, parse_topic, parse_window
from dashboard.api.openapi import BOOL, INT, LANG, STR, TIME, obj, operation
from dashboard.auth import current_actor, require_login
from dashboard.read_models.map import map_data
from geo import maps
from tickets import points as ticket_points
from layouts.i18n import normalise
from layouts.map import map_document
from tickets.models import utcnow
from tickets.roles import Actor


class MapQuery(NamedTuple):
    actor: Actor
    now: datetime
    topic: str | None
    start: datetime
    end: datetime
    window: str | None


def _map_query() -> MapQuery:
    """The caller, and the ``topic`` and ``window`` (or ``from``/``to``) both map endpoints take."""
    actor = current_actor()
    assert actor is not None
    now = utcnow()
    topic = parse_topic(request.args.get("topic"))
    start, end, window = parse_window(request.args, platform().settings.tz, now)
    return MapQuery(actor, now, topic, start, end, window)


@blueprint.get("/map/points")
@operation("The heat layer's starting points: [lat, lon, weight, t, ticket_id]", {200: obj({
    "window": {"type": ["string", "null"]}, "topic": {"type": ["string", "null"]}, "from": TIME, "to": TIME,
    "as_of": TIME, "window_seconds": INT, "total": INT, "aggregated": BOOL,
    "points": {"type": "array", "items": {"type": "array", "minItems": 5, "maxItems": 5}},
})}, params=(TOPIC, *WINDOW))
@require_login()
def map_points() -> Any:
    actor, now, topic, start, end, window = _map_query()
    p = platform()
    with p.factory() as session:
        points, total, aggregated = ticket_points.load_points(
            session, start, end, topic, actor.visible_unit_ids, cap=ticket_points.LIVE_CAP)
    # 4 decimals (~10 m), as shared screens get every ticket (tickets.events.public_view).
    rows = sorted(([round(q.lat, 4), round(q.lon, 4), q.weight, int(q.last_at.timestamp()), q.ticket_id] for q in points),
                  key=lambda r: r[3] or 0)  # oldest first: the layer drops from the front
    return jsonify(window=window, topic=topic, **{"from": start.isoformat(), "to": end.isoformat()},
                   as_of=now.isoformat(), window_seconds=int((end - start).total_seconds()),
                   total=total, aggregated=aggregated, points=rows)


@blueprint.get("/map/export")
@operation("The map as one self-contained HTML file (an attachment)", {200: ("text/html", STR)},
           params=(TOPIC, *WINDOW, LANG))
@require_login()
def map_export() -> Any:
    actor, now, topic, start, end, window = _map_query()
    p = platform()
    lang = normalise(request.args.get("lang"))
    with p.factory() as session:
        data = map_data(session, settings=p.settings, now=now, start=start, end=end, window=window, topic=topic,
                        scope=actor.visible_unit_ids)
    html = maps.inline_html(map_document(data, lang))
    stamp = now.astimezone(p.settings.tz).strftime("%Y%m%d-%H%M")
    name = f"民生警务热力图-{topic or 'all'}-{window or 'range'}-{stamp}.html"
    return send_file(io.BytesIO(html.encode("utf-8")), mimetype="text/html; charset=utf-8", as_attachment=True,
                     download_name=name, max_age=0)
