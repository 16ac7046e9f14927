"""The exported map (GET /api/v1/map/export) opened from a file in headless Chromium,
with no network: every script and style is inside it."""
from __future__ import annotations

from pathlib import Path
from typing import Any


def test_export_opens_offline_in_chromium(map_export_web: Any, browser: Any, tmp_path: Path) -> None:
    platform, kiosk = map_export_web
    html = platform.server.test_client().get("/api/v1/map/export?window=24h",
                                             headers={"Authorization": f"Bearer {kiosk}"}).get_data(as_text=True)
    file = tmp_path / "map.html"
    file.write_text(html, encoding="utf-8")
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(file.as_uri())
    page.wait_for_function("window.minshengMap && window.minshengMap.ready", timeout=10000)
    assert page.evaluate("window.minshengMap.total()") == 60
    assert page.evaluate("document.querySelectorAll('.ms-rank').length") >= 1  # the top hotspots
    assert [u for u in requests if not u.startswith(("file:", "data:", "blob:", "about:"))] == []
    page.close()
