"""Offline heat maps with folium: every script and style comes from the platform.

folium takes Leaflet, jQuery, Bootstrap and Font Awesome from CDNs by default;
police networks are closed. :class:`OfflineMap` and :class:`OfflineHeatMap`
subclass folium's ``Map`` and ``HeatMap`` with their own ``default_js`` /
``default_css``: Leaflet 1.9.4 (vendored from its npm package), leaflet.heat
(folium's own ``templates/leaflet_heat.min.js``) and the platform's map script
and style, all under Flask's ``dashboard/static/`` (not Dash's ``assets/``,
which Dash would load into every page). Nothing else is loaded: the markers
are ``L.divIcon`` (no Bootstrap or Font Awesome), and :func:`render_html`
refuses a document naming any script or style outside the platform.

The base layer is data, not tiles (``tiles=None``): district boundaries and
station jurisdictions from ``geo/data`` (or the bureau's own files), with
their names. An intranet tile server can be put underneath
(``extra: {map: {tiles_url: ..., tiles_attribution: ...}}`` in the config).

On top: a heat layer of one topic (or all) in one time window, the top
hotspot cells (H3) with their trend, and open alerts as markers.
``static/map/minsheng-map.js`` registers the map's objects as
``window.minshengMap`` inside the map's document, so a page holding the map
in a same-origin ``<iframe srcdoc>`` can add points and alerts to it live,
without reloading it (the wall does, dashboard/assets/map_live.js).

:func:`inline_html` makes the rendered map one self-contained file (scripts,
styles and images inlined) for the weekly meeting or for sending to a unit.
"""
from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import folium
import h3
from branca.element import Element, MacroElement
from folium.plugins import HeatMap
from folium.template import Template

from geo.districts import JIAXIANG_FILE, JINAN_FILE, District, centroid, load_districts
from geo.jurisdictions import JurisdictionSet

ROOT = Path(__file__).resolve().parent.parent
STATIC_DIR = ROOT / "dashboard" / "static"
STATIC_URL = "/static/"
LEAFLET_JS = "vendor/leaflet/leaflet.js"
LEAFLET_CSS = "vendor/leaflet/leaflet.css"
HEAT_JS = "vendor/leaflet/leaflet-heat.js"
MAP_JS = "map/minsheng-map.js"
MAP_CSS = "map/minsheng-map.css"

# Room kept around the fitted view, in CSS pixels at 1920×1080 (the map's script scales it with
# the screen and widens it where a district's name would otherwise be cut).
FIT_PADDING = 16
# A heat gradient that reads on the dark wall palette (dashboard/assets/wall.css).
HEAT_GRADIENT = {0.25: "#1f4fd1", 0.45: "#0bb6d6", 0.62: "#5fd35f", 0.78: "#ffd23f", 0.9: "#ff8a1f", 1.0: "#ff2d2d"}


def static_url(path: str) -> str:
    return STATIC_URL + path


class OfflineMap(folium.Map):
    """folium.Map whose scripts and styles all come from the platform."""

    default_js = [("leaflet", static_url(LEAFLET_JS)), ("minsheng_map", static_url(MAP_JS))]
    default_css = [("leaflet_css", static_url(LEAFLET_CSS)), ("minsheng_map_css", static_url(MAP_CSS))]


class OfflineHeatMap(HeatMap):
    """folium's HeatMap with leaflet.heat served by the platform."""

    default_js = [("leaflet-heat.js", static_url(HEAT_JS))]


class _Register(MacroElement):
    """Hands the map's objects to static/map/minsheng-map.js (``window.minshengMap``):
    the map, its heat layer, its alert markers, the district boundaries and their names."""

    _template = Template("""
        {% macro script(this, kwargs) %}
            window.minshengMap.init({{ this.map.get_name() }}, {{ this.heat.get_name() }},
                {{ this.alerts.get_name() }}, {{ this.districts.get_name() }}, {{ this.names.get_name() }},
                {{ this.options|tojson }});
        {% endmacro %}
    """)

    def __init__(self, map_: folium.Map, heat: HeatMap, alerts: folium.FeatureGroup, districts: folium.GeoJson,
                 names: folium.FeatureGroup, options: dict[str, Any]) -> None:
        super().__init__()
        self._name = "MinshengRegister"
        self.map, self.heat, self.alerts, self.options = map_, heat, alerts, options
        self.districts, self.names = districts, names


# ------------------------------------------------------------------ the base layer
def boundary_districts(names_in_use: Iterable[str] | None = None) -> dict[str, District]:
    """The districts to draw: those of the boundary files that hold a district in use
    (the bureau's units' districts); Jinan's when none matches."""
    files = (JINAN_FILE, JIAXIANG_FILE)
    wanted = set(names_in_use or ())
    out: dict[str, District] = {}
    for path in files:
        districts = load_districts(path)
        if wanted & set(districts):
            out.update(districts)
    return out or dict(load_districts(JINAN_FILE))


@lru_cache(maxsize=8)
def _districts_geojson(names: tuple[str, ...], tolerance: float) -> str:
    from shapely.geometry import mapping

    found = boundary_districts(names)
    return json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": d.name, "name_en": d.name_en},
         "geometry": mapping(d.geometry.simplify(tolerance, preserve_topology=True))}
        for d in found.values()]}, ensure_ascii=False)


def _stations_geojson(js: JurisdictionSet, districts: Mapping[str, District], tolerance: float) -> dict[str, Any]:
    from shapely.geometry import mapping

    features = []
    for j in js:
        if j.district is not None and j.district not in districts:
            continue
        if j.district is None and not any(d.geometry.intersects(j.geometry) for d in districts.values()):
            continue
        features.append({"type": "Feature", "properties": {"unit_code": j.unit_code, "name": j.name or j.unit_code},
                         "geometry": mapping(j.geometry.simplify(tolerance, preserve_topology=True))})
    return {"type": "FeatureCollection", "features": features}


def _label(text: str, css: str) -> folium.DivIcon:
    from markupsafe import escape

    return folium.DivIcon(html=f'<div class="{css}">{escape(text)}</div>', icon_size=(0, 0), icon_anchor=(0, 0),
                          class_name="ms-label-icon")


# ------------------------------------------------------------------ the map
@dataclass
class MapSpec:
    """What to draw. ``points``: (lat, lon, weight[, t_epoch_s, ticket_id]);
    ``hotspots``/``alerts``: the dicts of the hotspots and alerts APIs."""

    points: Sequence[Sequence[Any]] = ()
    hotspots: Sequence[Mapping[str, Any]] = ()
    alerts: Sequence[Mapping[str, Any]] = ()
    title: str = ""
    subtitle: str = ""
    legend: str = ""
    districts_in_use: Sequence[str] = ()
    jurisdictions: JurisdictionSet | None = None
    # The view: (south, west, north, east); None: every district drawn (the bureau's area).
    focus: tuple[float, float, float, float] | None = None
    live: bool = False  # the wall: points arrive by push, a rolling window
    window_seconds: int = 86400
    cap: int = 20000
    tiles_url: str | None = None
    tiles_attribution: str | None = None
    lang: str = "zh-CN"
    # Topic names and the map's words ("text": tooltips, legend, alert labels), in ``lang``.
    labels: dict[str, Any] = field(default_factory=dict)
    heat_max_zoom: int = 14
    heat_radius: int = 14
    heat_blur: int = 16


def build_map(spec: MapSpec) -> OfflineMap:
    districts = boundary_districts(spec.districts_in_use)
    west, south, east, north = _total_bounds(districts.values())
    if spec.focus is not None:
        south, west, north, east = spec.focus
    m = OfflineMap(
        location=[(south + north) / 2, (west + east) / 2], zoom_start=10, tiles=None, min_zoom=6, max_zoom=18,
        control_scale=False, prefer_canvas=True, zoom_control=False if spec.live else "bottomright", zoom_snap=0.1,
        attribution_control=bool(spec.tiles_url),
    )
    if spec.tiles_url:
        folium.TileLayer(tiles=spec.tiles_url, attr=spec.tiles_attribution or "内网底图", name="底图",
                         max_zoom=18, overlay=False, control=False).add_to(m)
    fill = 0.18 if spec.tiles_url else 0.9
    boundaries: Any = folium.GeoJson(
        _districts_geojson(tuple(sorted(districts)), 0.0004), name="区县边界", control=False,
        style_function=lambda _f: {"color": "#4f8fd8", "weight": 1.6, "fillColor": "#0f243b", "fillOpacity": fill},
        interactive=False,
    ).add_to(m)
    if spec.jurisdictions is not None:
        folium.GeoJson(
            _stations_geojson(spec.jurisdictions, districts, 0.0002), name="派出所辖区", control=False,
            style_function=lambda _f: {"color": "#2f5f93", "weight": 0.8, "dashArray": "4 4", "fill": False},
            interactive=False,
        ).add_to(m)
        station_labels = folium.FeatureGroup(name="派出所", control=False).add_to(m)
        for j in spec.jurisdictions:
            if j.district is not None and j.district not in districts:
                continue
            point = j.geometry.representative_point()
            folium.Marker([point.y, point.x], icon=_label(j.name or j.unit_code, "ms-label ms-label-station"),
                          interactive=False).add_to(station_labels)
    district_labels: Any = folium.FeatureGroup(name="区县", control=False).add_to(m)
    for d in districts.values():
        lat, lon = centroid(d.name, districts)
        text = d.name if spec.lang == "zh-CN" else d.name_en
        folium.Marker([lat, lon], icon=_label(text, "ms-label ms-label-district"), interactive=False).add_to(
            district_labels)

    heat: Any = OfflineHeatMap(
        [[round(float(p[0]), 4), round(float(p[1]), 4), float(p[2])] for p in spec.points],
        name="热力", min_opacity=0.35, max_zoom=spec.heat_max_zoom, radius=spec.heat_radius, blur=spec.heat_blur,
        gradient=HEAT_GRADIENT, control=False,
    ).add_to(m)
    if spec.hotspots:
        cells = folium.FeatureGroup(name="热点", control=False).add_to(m)
        for rank, h in enumerate(spec.hotspots, start=1):
            ring = [list(latlon) for latlon in h3.cell_to_boundary(h["cell"])]
            folium.Polygon(ring, color="#ffd23f", weight=2, fill=True, fill_color="#ffd23f", fill_opacity=0.08,
                           tooltip=_hotspot_text(rank, h, _words(spec))).add_to(cells)
            folium.Marker([h["lat"], h["lon"]], icon=folium.DivIcon(
                html=f'<div class="ms-rank">{rank}</div>', icon_size=(0, 0), icon_anchor=(0, 0),
                class_name="ms-label-icon"), tooltip=_hotspot_text(rank, h, _words(spec))).add_to(cells)
    alerts: Any = folium.FeatureGroup(name="预警", control=False).add_to(m)  # add_to returns it (typed Element)
    root: Any = m.get_root()  # a branca Figure at run time, with .html (typed Element)
    if spec.title or spec.legend:
        root.html.add_child(Element(_overlay(spec)))
    if spec.live:
        root.html.add_child(Element('<div class="ms-legend ms-legend-live" id="ms-legend"></div>'))
    points_meta = [[p[3] if len(p) > 3 else None, p[4] if len(p) > 4 else None] for p in spec.points]
    m.add_child(_Register(m, heat, alerts, boundaries, district_labels, {
        "live": spec.live, "windowSeconds": spec.window_seconds, "cap": spec.cap, "alerts": list(spec.alerts),
        "meta": points_meta if spec.live else [], "labels": spec.labels, "lang": spec.lang,
        "stationLabelZoom": 12, "bounds": [[south, west], [north, east]], "fitPadding": FIT_PADDING,
    }))
    return m


def focus_on(names: Iterable[str]) -> tuple[float, float, float, float] | None:
    """(south, west, north, east) around the districts ``names`` (a branch's area: the view a
    map of its scope fits to, the neighbours drawn around it); None if none is known."""
    wanted = set(names)
    found = [d for name, d in boundary_districts(wanted).items() if name in wanted]
    if not found:
        return None
    west, south, east, north = _total_bounds(found)
    return south, west, north, east


def _total_bounds(districts: Iterable[District]) -> tuple[float, float, float, float]:
    import shapely

    return tuple(shapely.total_bounds([d.geometry for d in districts]).tolist())


def _words(spec: MapSpec) -> Mapping[str, str]:
    """The map's words in its language (``labels["text"]``, from the screen's catalogue)."""
    words: Mapping[str, str] = spec.labels.get("text", {})
    return words


def _hotspot_text(rank: int, h: Mapping[str, Any], words: Mapping[str, str]) -> str:
    unit = h.get("unit_name") or h.get("unit_code") or words.get("no_unit", "")
    return words.get("hotspot", "") % {"rank": rank, "count": h["count"], "previous": h.get("previous", 0),
                                       "trend": words.get(f"trend_{h.get('trend', '')}", ""), "unit": unit}


def _overlay(spec: MapSpec) -> str:
    from markupsafe import escape

    stops = ", ".join(f"{colour} {int(stop * 100)}%" for stop, colour in HEAT_GRADIENT.items())
    words = _words(spec)
    return (f'<div class="ms-title"><div class="ms-title-main">{escape(spec.title)}</div>'
            f'<div class="ms-title-sub">{escape(spec.subtitle)}</div>'
            f'<div class="ms-scale"><span>{escape(words.get("few", ""))}</span>'
            f'<i style="background: linear-gradient(90deg, {stops})"></i>'
            f'<span>{escape(words.get("many", ""))}</span></div>'
            f'<div class="ms-title-legend">{escape(spec.legend)}</div></div>')


# ------------------------------------------------------------------ rendering
_LINK = re.compile(r"""<(?:script|link)\b[^>]*\b(?:src|href)\s*=\s*["']([^"']+)["']""", re.IGNORECASE)


def render_html(m: folium.Map) -> str:
    """The map as an HTML document; refuses one that would load anything from outside."""
    html = m.get_root().render()
    outside = [url for url in _LINK.findall(html) if not url.startswith(STATIC_URL)]
    if outside:
        raise ValueError(f"the map would load from outside the platform: {outside}")
    return html


_SCRIPT = re.compile(r'<script src="' + re.escape(STATIC_URL) + r'([^"]+)"></script>')
_STYLE = re.compile(r'<link rel="stylesheet" href="' + re.escape(STATIC_URL) + r'([^"]+)"/>')
_CSS_URL = re.compile(r"url\((['\"]?)(?!data:|#)([^)'\"]+)\1\)")
_SCHEME = re.compile(r"https?://(?!www\.w3\.org/)")


def _static_text(path: str) -> str:
    file = (STATIC_DIR / path).resolve()
    if STATIC_DIR.resolve() not in file.parents:
        raise ValueError(f"not a static file: {path}")
    return file.read_text(encoding="utf-8")


def _data_uri(file: Path) -> str:
    kind = {".png": "image/png", ".svg": "image/svg+xml", ".gif": "image/gif"}.get(file.suffix, "application/octet-stream")
    return f"data:{kind};base64,{base64.b64encode(file.read_bytes()).decode('ascii')}"


def _inline_css(path: str) -> str:
    base = (STATIC_DIR / path).parent

    def image(match: re.Match[str]) -> str:
        file = (base / match.group(2)).resolve()
        return f"url({_data_uri(file)})" if file.is_file() else match.group(0)

    return _CSS_URL.sub(image, _static_text(path))


def inline_html(html: str) -> str:
    """One self-contained document: the platform's scripts, styles and images inlined.

    Comments of the vendored files keep their text but lose the scheme of the
    URLs they cite (Leaflet's attribution link too, which the map hides), so
    the file names no host outside; XML namespace names stay (never fetched).
    """
    def script(match: re.Match[str]) -> str:
        code = _SCHEME.sub("", _static_text(match.group(1))).replace("</script", "<\\/script")
        return f"<script>/* {match.group(1)} */\n{code}\n</script>"

    def style(match: re.Match[str]) -> str:
        return f"<style>/* {match.group(1)} */\n{_SCHEME.sub('', _inline_css(match.group(1)))}\n</style>"

    html = _SCRIPT.sub(script, html)
    html = _STYLE.sub(style, html)
    return html
