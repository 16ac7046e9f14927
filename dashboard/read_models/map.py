"""What the heat maps show: the wall's live map panel, the full-screen map
(/map) and the export (GET /api/v1/map/export).

:func:`map_data` queries everything for one map in the caller's scope (unit
ids, None for all) and returns it without a word of text; the layout
(``layouts/map.py``) names it in the page's language and renders the map
document. Map settings come from the config file::

    extra:
      map:
        tiles_url: http://tiles.police.local/{z}/{x}/{y}.png   # optional, intranet only
        tiles_attribution: 市局地理信息平台
"""
from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dashboard.read_models.hotspots import hotspots
from geo import maps
from tickets import points as ticket_points
from geo.hotspots import WINDOWS
from geo.jurisdictions import routing_jurisdictions
from tickets.alerts import alert_view
from tickets.models import Alert, Unit
from tickets.vocabulary import TOPICS

TOP_HOTSPOTS = 10


@dataclass(frozen=True)
class MapData:
    """One map's content. ``spec`` is what to draw (points, hotspots, alerts,
    boundaries), without words; times are in the bureau's zone."""

    spec: maps.MapSpec
    bureau_name: str
    topic: str | None
    window: str | None
    start: datetime
    end: datetime
    now: datetime
    total: int = 0
    aggregated: bool = False
    cell_area_km2: float = 0.0


def window_of(name: str | None, now: datetime) -> tuple[datetime, datetime, str]:
    name = name if name in WINDOWS else "24h"
    return now - WINDOWS[name], now, name


def topic_or_none(raw: str | None) -> str | None:
    return raw if raw in TOPICS else None


def map_settings(settings: Any) -> dict[str, Any]:
    given = (getattr(settings, "extra", None) or {}).get("map") or {}
    return {"tiles_url": given.get("tiles_url") or None, "tiles_attribution": given.get("tiles_attribution") or None}


def districts_in_use(session: Session, scope: Collection[int] | None = None) -> list[str]:
    """The districts the bureau's units (or the units of ``scope``) lie in: what a map draws
    and fits its view to (a branch's map is its own districts, not the whole city's)."""
    stmt = select(Unit.district).where(Unit.district.is_not(None)).distinct()
    if scope is not None:
        stmt = stmt.where(Unit.id.in_(sorted(scope)))
    found = [d for d in session.scalars(stmt) if d]
    return found or ([] if scope is None else districts_in_use(session))


def bureau_name(session: Session) -> str:
    return session.scalar(select(Unit.name).where(Unit.level == 1).order_by(Unit.id).limit(1)) or ""


def open_alerts(session: Session, scope: Collection[int] | None, topic: str | None = None) -> list[dict[str, Any]]:
    stmt = select(Alert).where(Alert.status == "open").order_by(Alert.last_seen_at.desc()).limit(200)
    if scope is not None:
        stmt = stmt.where(Alert.unit_id.in_(sorted(scope)))
    if topic is not None:
        stmt = stmt.where(Alert.topic == topic)
    return [alert_view(a) for a in session.scalars(stmt)]


def map_data(session: Session, *, settings: Any, now: datetime, start: datetime, end: datetime,
             window: str | None, topic: str | None, scope: Collection[int] | None, live: bool = False) -> MapData:
    """The map of ``topic`` (None: all) between ``start`` and ``end``; ``live``: the
    wall's panel, whose points and alerts the page script loads after each snapshot."""
    tz = settings.tz
    spec = maps.MapSpec(
        districts_in_use=districts_in_use(session), jurisdictions=routing_jurisdictions(),
        live=live, cap=ticket_points.LIVE_CAP,
        # The view: the bureau's whole area, or the caller's own districts (a branch, a station).
        focus=maps.focus_on(districts_in_use(session, scope)) if scope is not None else None,
        window_seconds=int((end - start).total_seconds()), **map_settings(settings),
    )
    data = MapData(spec=spec, bureau_name=bureau_name(session), topic=topic, window=window,
                   start=start.astimezone(tz), end=end.astimezone(tz), now=now.astimezone(tz))
    if live:
        return data
    points, total, aggregated = ticket_points.load_points(session, start, end, topic, scope, cap=ticket_points.LIVE_CAP)
    answer = hotspots(session, start, end, topic, scope, top=TOP_HOTSPOTS)
    spec = replace(spec, points=[(p.lat, p.lon, p.weight) for p in points], hotspots=answer["top"],
                   alerts=open_alerts(session, scope, topic))
    return replace(data, spec=spec, total=total, aggregated=aggregated, cell_area_km2=answer["cell_area_km2"])
