"""The map: folium with the platform's own scripts only, and the export as one
self-contained HTML file that names no outside host and works offline."""
from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import unquote

import pytest

from geo import maps
from geo.jurisdictions import routing_jurisdictions

# XML namespace names are identifiers, never fetched: the only http(s) strings
# an exported map may contain.
XML_NAMESPACES = ("http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink", "http://www.w3.org/1999/xhtml")


def outside_references(html: str) -> list[str]:
    """Every http(s) URL in a document other than XML namespace names."""
    return [u for u in re.findall(r"https?://[^\s\"'<>)]+", html) if not u.startswith(XML_NAMESPACES)]


def test_the_folium_map_loads_only_the_platforms_own_files() -> None:
    html = maps.render_html(maps.build_map(maps.MapSpec(points=[(36.66, 117.02, 1)],
                                                        jurisdictions=routing_jurisdictions())))
    links = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', html)
    assert set(links) == {"/static/vendor/leaflet/leaflet.js", "/static/vendor/leaflet/leaflet.css",
                          "/static/vendor/leaflet/leaflet-heat.js", "/static/map/minsheng-map.js",
                          "/static/map/minsheng-map.css"}
    for link in links:
        assert (maps.STATIC_DIR / link.removeprefix("/static/")).is_file()
    assert "L.heatLayer" in html
    for name in ("泉城路派出所", "历下区"):  # labels (folium writes JSON with \\u escapes)
        assert name in html or json.dumps(name)[1:-1] in html
    # folium's own Map would have gone to CDNs: the subclass is what keeps it offline.
    import folium

    stock = folium.Map(tiles=None).get_root().render()
    assert "cdn.jsdelivr.net" in stock
    with pytest.raises(ValueError, match="outside the platform"):
        maps.render_html(folium.Map(tiles=None))


def test_export_is_one_self_contained_file(map_export_web: Any) -> None:
    platform, kiosk = map_export_web
    response = platform.server.test_client().get("/api/v1/map/export?topic=noise&window=24h",
                                                  headers={"Authorization": f"Bearer {kiosk}"})
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    disposition = unquote(response.headers["Content-Disposition"])
    assert disposition.startswith("attachment") and "民生警务热力图-noise-24h-" in disposition
    html = response.get_data(as_text=True)
    assert outside_references(html) == []
    assert not re.search(r"https?://", html.replace("http://www.w3.org/2000/svg", "")), "no URL but the SVG namespace"
    assert not re.search(r"<script[^>]+src=|<link[^>]+href=", html), "every script and style inlined"
    assert "Leaflet 1.9.4" in html and "L.HeatLayer" in html and "minshengMap.init" in html
    assert "url(data:image/png;base64," in html  # Leaflet's images too
    assert "济南市公安局 · 噪音扰民热力图" in html and "共 40 起" in html
    assert "张三" not in html and "13812345678" not in html


def test_export_needs_an_actor_and_checks_its_arguments(map_export_web: Any) -> None:
    platform, kiosk = map_export_web
    client = platform.server.test_client()
    assert client.get("/api/v1/map/export").status_code == 401
    assert client.get("/api/v1/map/export?topic=weather", headers={"Authorization": f"Bearer {kiosk}"}).status_code == 400
    points = client.get("/api/v1/map/points?window=24h", headers={"Authorization": f"Bearer {kiosk}"}).get_json()
    assert points["total"] == 60 and points["aggregated"] is False and len(points["points"]) == 60
    assert all(len(p) == 5 and p[2] == 1 and isinstance(p[4], int) for p in points["points"])
    assert [p[3] for p in points["points"]] == sorted(p[3] for p in points["points"])
