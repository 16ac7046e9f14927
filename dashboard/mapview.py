"""The platform's heat maps: database → geo.maps → an HTML document.

Used by the wall's live map panel (layouts/wall.py), the full-screen map
(/map, layouts/map.py) and the export (GET /api/v1/map/export). The caller
gives the actor's scope (unit ids, None for all); the map shows only tickets
and alerts within it. Map settings come from the config file::

    extra:
      map:
        tiles_url: http://tiles.police.local/{z}/{x}/{y}.png   # optional, intranet only
        tiles_attribution: 市局地理信息平台
"""
from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from geo import maps
from tickets import points as ticket_points
from geo.hotspots import WINDOWS
from geo.jurisdictions import routing_jurisdictions
from layouts.i18n import labels as i18n_labels
from tickets.alerts import alert_view
from tickets.models import Alert, Unit
from tickets.vocabulary import TOPICS

WINDOW_NAMES = {"1h": "近1小时", "24h": "近24小时", "7d": "近7天"}
WINDOW_NAMES_EN = {"1h": "last hour", "24h": "last 24 hours", "7d": "last 7 days"}


def map_settings(settings: Any) -> dict[str, Any]:
    given = (getattr(settings, "extra", None) or {}).get("map") or {}
    return {"tiles_url": given.get("tiles_url") or None, "tiles_attribution": given.get("tiles_attribution") or None}


def districts_in_use(session: Session) -> list[str]:
    return [d for d in session.scalars(select(Unit.district).where(Unit.district.is_not(None)).distinct()) if d]


def bureau_name(session: Session) -> str:
    return session.scalar(select(Unit.name).where(Unit.level == 1).order_by(Unit.id).limit(1)) or ""


def focus_bounds(session: Session, now: datetime, scope: Collection[int] | None) -> tuple[float, float, float, float] | None:
    """Where the tickets are: the 3rd–97th percentile box of the last week's newest
    points, padded (None without enough points: the whole bureau is shown)."""
    sample = list(ticket_points.raw_points(session, now - timedelta(days=7), now, None, scope, limit=5000))
    if len(sample) < 20:
        return None
    lats = sorted(p.lat for p in sample)
    lons = sorted(p.lon for p in sample)

    def q(values: list[float], share: float) -> float:
        return values[min(len(values) - 1, max(0, int(share * len(values))))]

    south, north, west, east = q(lats, 0.03), q(lats, 0.97), q(lons, 0.03), q(lons, 0.97)
    pad_lat = max((north - south) * 0.08, 0.02)
    pad_lon = max((east - west) * 0.08, 0.02)
    return south - pad_lat, west - pad_lon, north + pad_lat, east + pad_lon


def open_alerts(session: Session, scope: Collection[int] | None, topic: str | None = None) -> list[dict[str, Any]]:
    stmt = select(Alert).where(Alert.status == "open").order_by(Alert.last_seen_at.desc()).limit(200)
    if scope is not None:
        stmt = stmt.where(Alert.unit_id.in_(sorted(scope)))
    if topic is not None:
        stmt = stmt.where(Alert.topic == topic)
    return [alert_view(a) for a in session.scalars(stmt)]


def _local(at: datetime, tz: Any) -> str:
    return at.astimezone(tz).strftime("%Y-%m-%d %H:%M")


def render(session: Session, *, settings: Any, now: datetime, start: datetime, end: datetime,
           window: str | None, topic: str | None, scope: Collection[int] | None, lang: str = "zh-CN",
           live: bool = False, inline: bool = False) -> str:
    """The map document (see geo/maps.py); ``inline``: one self-contained file."""
    from dashboard.api.hotspots import hotspots  # the API's own answer, so map and API agree

    tz = settings.tz
    names = i18n_labels(lang)
    topic_name = names["topics"].get(topic, topic) if topic else ("全部诉求" if lang == "zh-CN" else "All requests")
    spec = maps.MapSpec(
        districts_in_use=districts_in_use(session), jurisdictions=routing_jurisdictions(),
        focus=focus_bounds(session, now, scope), lang=lang, live=live,
        labels={"topics": names["topics"]}, cap=ticket_points.LIVE_CAP,
        window_seconds=int((end - start).total_seconds()), **map_settings(settings),
    )
    if live:
        # Points and alerts come from the page script (map_live.js) after each snapshot.
        spec.heat_radius, spec.heat_blur = 12, 15
        return maps.render_html(maps.build_map(spec))
    points, total, aggregated = ticket_points.load_points(session, start, end, topic, scope, cap=ticket_points.LIVE_CAP)
    answer = hotspots(session, start, end, topic, scope, top=10)
    spec.points = [(p.lat, p.lon, p.weight) for p in points]
    spec.hotspots = answer["top"]
    spec.alerts = open_alerts(session, scope, topic)
    when = (WINDOW_NAMES if lang == "zh-CN" else WINDOW_NAMES_EN).get(window or "", "")
    if lang == "zh-CN":
        spec.title = f"{bureau_name(session)} · {topic_name}热力图"
        spec.subtitle = f"{when + ' · ' if when else ''}{_local(start, tz)} 至 {_local(end, tz)} · 共 {total:,} 起"
        spec.legend = (f"黄框：前{len(spec.hotspots)}个热点网格（约{answer['cell_area_km2']:.2f}平方公里）"
                       f"· 红点：突增预警 · 橙点：多发预警 · 生成于 {_local(now, tz)}")
    else:
        spec.title = f"{topic_name} heat map"
        spec.subtitle = f"{when + ' · ' if when else ''}{_local(start, tz)} to {_local(end, tz)} · {total:,} requests"
        spec.legend = f"yellow: top {len(spec.hotspots)} hotspot cells · red: surges · orange: recurring issues"
    if aggregated:
        spec.legend += "（点位已按约50米网格汇总）" if lang == "zh-CN" else " (points grouped on a ~50 m grid)"
    html = maps.render_html(maps.build_map(spec))
    return maps.inline_html(html) if inline else html


def window_of(name: str | None, now: datetime) -> tuple[datetime, datetime, str]:
    name = name if name in WINDOWS else "24h"
    return now - WINDOWS[name], now, name


def topic_or_none(raw: str | None) -> str | None:
    return raw if raw in TOPICS else None
