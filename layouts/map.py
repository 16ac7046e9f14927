"""The heat map, full screen (/map), and the wall's live map panel.

The map is a folium document (geo/maps.py) in an ``<iframe srcdoc>`` without
a sandbox: same origin, so the wall's script reaches the map's objects and
adds pushed tickets to the heat layer without reloading it. On /map a topic
and a window are chosen (callbacks/map.py renders the map again), and the
export button downloads the same map as one file.

:func:`map_document` names a map's content (``dashboard/read_models/map.py``)
in the page's language and renders it; the map's own script
(static/map/minsheng-map.js) gets its words in the map's options.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import urlencode

from dash import dcc, html

from geo import maps
from geo.hotspots import WINDOWS
from layouts.i18n import N_, gettext, labels, normalise, other_language, switch_label, texts
from tickets.vocabulary import TOPICS

# The window choices on /map, and how a map's subtitle names them.
WINDOW_CHOICES: dict[str, str] = {"1h": N_("1 hour"), "24h": N_("24 hours"), "7d": N_("7 days")}
WINDOW_NAMES: dict[str, str] = {"1h": N_("last hour"), "24h": N_("last 24 hours"), "7d": N_("last 7 days")}
# Words inside the map document: its tooltips (geo/maps.py) and its script's legend and alert labels.
MAP_WORDS: dict[str, str] = {
    "hotspot": N_("Hotspot %(rank)s: %(count)s requests (previous window %(previous)s, %(trend)s)"
                  " · responsible unit %(unit)s"),
    "trend_new": N_("new"),
    "trend_up": N_("rising"),
    "trend_down": N_("falling"),
    "trend_flat": N_("steady"),
    "no_unit": N_("no jurisdiction"),
    "few": N_("few"),
    "many": N_("many"),
    "legend_live": N_("%(count)s requests, last %(hours)s h"),
    "legend_alerts": N_("%(count)s alerts"),
    "alert_label": N_("%(topic)s %(kind)s %(count)s"),
    "alert_acknowledged": N_("%(label)s · acknowledged"),
    "kind_surge": N_("surge"),
    "kind_recurring": N_("recurring"),
}
# The wall's live map: the last 24 hours, its heat a little tighter than the full-screen map's.
LIVE_WINDOW = "24h"
LIVE_HEAT = (12, 15)  # radius, blur


class MapContent(Protocol):
    """What a map shows (``dashboard.read_models.map.MapData``); times in the bureau's zone."""

    @property
    def spec(self) -> maps.MapSpec: ...
    @property
    def bureau_name(self) -> str: ...
    @property
    def topic(self) -> str | None: ...
    @property
    def window(self) -> str | None: ...
    @property
    def start(self) -> datetime: ...
    @property
    def end(self) -> datetime: ...
    @property
    def now(self) -> datetime: ...
    @property
    def total(self) -> int: ...
    @property
    def aggregated(self) -> bool: ...
    @property
    def cell_area_km2(self) -> float: ...


def export_href(topic: str | None, window: str | None, lang: str) -> str:
    query = {"window": window if window in WINDOWS else "24h", "lang": normalise(lang)}
    if topic in TOPICS:
        query["topic"] = topic
    return "/api/v1/map/export?" + urlencode(query)


def live_sources() -> dict[str, str]:
    """Where the wall's live map script (assets/map_live.js) loads the window's points
    and the open alerts after each snapshot; pushes carry on from there."""
    return {"points": "/api/v1/map/points?" + urlencode({"window": LIVE_WINDOW}),
            "alerts": "/api/v1/alerts?" + urlencode({"status": "open", "limit": 200})}


def placeholder(lang: str) -> str:
    """Where a map cannot be built: the screen still renders."""
    text = gettext("Map unavailable", lang)
    return (f'<!doctype html><html><body style="margin:0;background:#07101d;color:#7d8ba1;display:flex;'
            f'align-items:center;justify-content:center;height:100vh;font-family:sans-serif">'
            f'{text}</body></html>')


def _local(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M")


# The live panel's document holds no tickets (the page script loads them), so one spec always
# gives the same document: kept, since building it (folium, ~250 KB) took 90-370 ms of each
# wall's first page answer, before which the wall shows nothing (docs/PERFORMANCE.md).
_LIVE_DOCUMENTS: dict[str, str] = {}
_LIVE_DOCUMENTS_KEPT = 16


def _live_document(spec: maps.MapSpec) -> str:
    key = repr(spec)  # every field; the jurisdictions are one object per process
    document = _LIVE_DOCUMENTS.get(key)
    if document is None:
        document = maps.render_html(maps.build_map(spec))
        if len(_LIVE_DOCUMENTS) >= _LIVE_DOCUMENTS_KEPT:
            _LIVE_DOCUMENTS.clear()
        _LIVE_DOCUMENTS[key] = document
    return document


def map_document(data: MapContent, lang: str, *, panel: bool = False) -> str:
    """The map as an HTML document, its title, subtitle and legend in ``lang``; ``panel``: a
    wall's panel, whose heading is the page's (no overlay box to fit the view around)."""
    lang = normalise(lang)
    names = labels(lang)
    spec = replace(data.spec, lang=lang, labels={"topics": names["topics"], "text": texts(MAP_WORDS, lang)})
    if panel and not spec.live:
        return maps.render_html(maps.build_map(replace(spec, heat_radius=LIVE_HEAT[0], heat_blur=LIVE_HEAT[1])))
    if spec.live:  # the wall's panel: points, alerts and its legend come from the page script
        return _live_document(replace(spec, heat_radius=LIVE_HEAT[0], heat_blur=LIVE_HEAT[1]))
    topic_name = names["topics"].get(data.topic, data.topic) if data.topic else gettext("All requests", lang)
    total, area = format(data.total, ","), format(data.cell_area_km2, ".2f")
    span = gettext("%(start)s to %(end)s · %(total)s requests", lang, start=_local(data.start),
                   end=_local(data.end), total=total)
    when = gettext(WINDOW_NAMES[data.window], lang) if data.window in WINDOW_NAMES else ""
    legend = gettext("yellow: top %(count)s hotspot cells (about %(area)s km²) · red: surges"
                     " · orange: recurring issues · made %(now)s", lang, count=len(spec.hotspots), area=area,
                     now=_local(data.now))
    if data.aggregated:
        legend = gettext("%(legend)s (points grouped on a ~50 m grid)", lang, legend=legend)
    title = gettext("%(bureau)s · %(topic)s heat map", lang, bureau=data.bureau_name, topic=topic_name)
    subtitle = f"{when} · {span}" if when else span
    return maps.render_html(maps.build_map(replace(spec, title=title, subtitle=subtitle, legend=legend)))


def wall_panel(lang: str, document: str) -> html.Div:
    """The wall's live map: heat of the last 24 hours, updated by push (assets/map_live.js).
    The document waits in ``data-document``: the wall's script puts it into the frame after the
    frame that shows the first numbers (parsing it and drawing the city takes the main thread
    for a few hundred ms, which the numbers used to wait for)."""
    waiting: dict[str, Any] = {"data-document": document}
    return html.Div(
        [
            html.H2(gettext("Heat map, last 24 hours (live)", lang)),
            html.Iframe(id="wall-map", className="map-frame", title=gettext("Request heat map", lang), **waiting),
        ],
        className="panel panel-map",
    )


def layout(lang: str = "zh-CN", topic: str | None = None, window: str | None = None, **_query: Any) -> html.Div:
    lang = normalise(lang)
    topic = topic if topic in TOPICS else "all"
    window = window if window in WINDOWS else "24h"
    topic_names = labels(lang)["topics"]
    return html.Div(
        [
            html.Header(
                [
                    html.H1(gettext("Request heat map", lang), className="map-screen-title"),
                    html.Div(
                        [
                            html.Span(gettext("Topic", lang), className="map-choice-label"),
                            dcc.RadioItems(
                                id="map-topic",
                                options=[{"label": gettext("All", lang), "value": "all"}]
                                + [{"label": topic_names[k], "value": k} for k in TOPICS],
                                value=topic, inline=True, className="map-choice",
                            ),
                        ],
                        className="map-choices",
                    ),
                    html.Div(
                        [
                            html.Span(gettext("Window", lang), className="map-choice-label"),
                            dcc.RadioItems(
                                id="map-window",
                                options=[{"label": gettext(WINDOW_CHOICES[w], lang), "value": w} for w in WINDOWS],
                                value=window, inline=True, className="map-choice",
                            ),
                        ],
                        className="map-choices",
                    ),
                    html.A(gettext("Export map (HTML)", lang), id="map-export", href=export_href(topic, window, lang),
                           className="map-export"),
                    html.A(switch_label(lang), href=f"/map?lang={other_language(lang)}", className="lang-switch"),
                ],
                className="map-screen-header",
            ),
            dcc.Loading(html.Iframe(id="map-frame", className="map-frame", title=gettext("Request heat map", lang)),
                        parent_className="map-screen-body", type="circle", color="#3fa7ff"),
            dcc.Store(id="map-lang", data=lang),
        ],
        className="map-screen",
        lang=lang,
    )
