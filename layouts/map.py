"""The heat map, full screen (/map), and the wall's live map panel.

The map is a folium document (geo/maps.py) in an ``<iframe srcdoc>`` without
a sandbox: same origin, so the wall's script reaches the map's objects and
adds pushed tickets to the heat layer without reloading it.
On /map a topic and a window are chosen (callbacks/map.py renders the map
again), and the export button downloads the same map as one file.
"""
from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode

from dash import dcc, html

from geo.hotspots import WINDOWS
from layouts.i18n import labels, normalise
from tickets.vocabulary import TOPICS

log = logging.getLogger(__name__)

TEXT: dict[str, dict[str, str]] = {
    "map_title": {"zh-CN": "诉求热力图", "en": "Request heat map"},
    "wall_map_title": {"zh-CN": "诉求热力图（近24小时，实时）", "en": "Heat map, last 24 hours (live)"},
    "topic": {"zh-CN": "诉求事项", "en": "Topic"},
    "window": {"zh-CN": "时间范围", "en": "Window"},
    "all_topics": {"zh-CN": "全部", "en": "All"},
    "export": {"zh-CN": "导出地图（HTML）", "en": "Export map (HTML)"},
    "map_unavailable": {"zh-CN": "地图暂不可用", "en": "Map unavailable"},
    "w_1h": {"zh-CN": "近1小时", "en": "1 hour"},
    "w_24h": {"zh-CN": "近24小时", "en": "24 hours"},
    "w_7d": {"zh-CN": "近7天", "en": "7 days"},
}


def mt(key: str, lang: str) -> str:
    return TEXT[key][normalise(lang)]


def export_href(topic: str | None, window: str | None, lang: str) -> str:
    query = {"window": window if window in WINDOWS else "24h", "lang": normalise(lang)}
    if topic in TOPICS:
        query["topic"] = topic
    return "/api/v1/map/export?" + urlencode(query)


def _placeholder(lang: str) -> str:
    return (f'<!doctype html><html><body style="margin:0;background:#07101d;color:#7d8ba1;display:flex;'
            f'align-items:center;justify-content:center;height:100vh;font-family:sans-serif">'
            f'{mt("map_unavailable", lang)}</body></html>')


def map_document(topic: str | None, window: str | None, lang: str, *, live: bool) -> str:
    """The map for the actor of this request (their scope); a placeholder if it cannot be built."""
    try:
        from dashboard import current, mapview
        from dashboard.auth import current_actor
        from tickets.models import utcnow

        actor = current_actor()
        platform = current()
        now = utcnow()
        start, end, window = mapview.window_of(window, now)
        with platform.factory() as session:
            return mapview.render(session, settings=platform.settings, now=now, start=start, end=end, window=window,
                                  topic=mapview.topic_or_none(topic), lang=normalise(lang), live=live,
                                  scope=actor.visible_unit_ids if actor is not None else frozenset())
    except Exception:  # noqa: BLE001 - a screen must render even when its map cannot
        log.exception("map could not be built")
        return _placeholder(lang)


def wall_panel(lang: str) -> html.Div:
    """The wall's live map: heat of the last 24 hours, updated by push (assets/map_live.js)."""
    return html.Div(
        [
            html.H2(mt("wall_map_title", lang)),
            html.Iframe(id="wall-map", srcDoc=map_document(None, "24h", lang, live=True), className="map-frame",
                        title=mt("map_title", lang)),
        ],
        className="panel panel-map",
    )


def layout(lang: str = "zh-CN", topic: str | None = None, window: str | None = None, **_query: Any) -> html.Div:
    lang = normalise(lang)
    topic = topic if topic in TOPICS else "all"
    window = window if window in WINDOWS else "24h"
    other = "en" if lang == "zh-CN" else "zh-CN"
    topic_names = labels(lang)["topics"]
    return html.Div(
        [
            html.Header(
                [
                    html.H1(mt("map_title", lang), className="map-screen-title"),
                    html.Div(
                        [
                            html.Span(mt("topic", lang), className="map-choice-label"),
                            dcc.RadioItems(
                                id="map-topic",
                                options=[{"label": mt("all_topics", lang), "value": "all"}]
                                + [{"label": topic_names[k], "value": k} for k in TOPICS],
                                value=topic, inline=True, className="map-choice",
                            ),
                        ],
                        className="map-choices",
                    ),
                    html.Div(
                        [
                            html.Span(mt("window", lang), className="map-choice-label"),
                            dcc.RadioItems(
                                id="map-window",
                                options=[{"label": mt(f"w_{w}", lang), "value": w} for w in WINDOWS],
                                value=window, inline=True, className="map-choice",
                            ),
                        ],
                        className="map-choices",
                    ),
                    html.A(mt("export", lang), id="map-export", href=export_href(topic, window, lang),
                           className="map-export"),
                    html.A("English" if lang == "zh-CN" else "中文", href=f"/map?lang={other}",
                           className="lang-switch"),
                ],
                className="map-screen-header",
            ),
            dcc.Loading(html.Iframe(id="map-frame", className="map-frame", title=mt("map_title", lang)),
                        parent_className="map-screen-body", type="circle", color="#3fa7ff"),
            dcc.Store(id="map-lang", data=lang),
        ],
        className="map-screen",
        lang=lang,
    )
