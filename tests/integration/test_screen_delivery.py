"""What a screen's first load costs: every response a browser fetches for the wall comes
compressed when the browser asks for it, and the charts' plotly.js is the partial bundle
of the trace types the screens draw (through the real Flask app, in-process)."""
from __future__ import annotations

import gzip
import re
from typing import Any

from dashboard import PLOTLY_BUNDLE, PLOTLY_TRACES, PLOTLY_URL, Platform
from tickets import accounts
from tickets.uow import unit_of_work

GZIP = {"Accept-Encoding": "gzip"}


def wall_client(platform: Platform) -> tuple[Any, str]:
    with unit_of_work(platform.factory) as s:
        kiosk = accounts.issue_token(s, "kiosk", label="指挥中心 1 号屏")
    client = platform.server.test_client()
    page = client.get(f"/wall?kiosk={kiosk}", headers=GZIP)
    assert page.status_code == 200
    return client, gzip.decompress(page.data).decode()


def test_every_script_style_and_answer_of_the_wall_is_compressed(jinan_platform: Platform) -> None:
    jinan_platform.aggregator.rebuild()  # the live state the snapshot reads (no live threads here)
    client, html = wall_client(jinan_platform)
    urls = re.findall(r'(?:src|href)="(/[^"]+\.(?:js|css)[^"]*)"', html)
    # Dash's own bundles (renderer, React, components), the platform's assets and vendored scripts.
    assert any("_dash-component-suites/dash/dash-renderer" in u for u in urls)
    assert any(u.startswith("/assets/wall.js") for u in urls) and "/static/vendor/socket.io.min.js" in urls
    for url in [*urls, "/_dash-layout", "/_dash-dependencies", PLOTLY_URL, "/api/v1/live/snapshot"]:
        answer = client.get(url, headers=GZIP)
        assert answer.status_code == 200, url
        if answer.headers.get("Content-Encoding") is None:  # Flask-Compress leaves tiny bodies as they are
            assert len(answer.data) < jinan_platform.server.config["COMPRESS_MIN_SIZE"], url
            continue
        assert answer.headers["Content-Encoding"] == "gzip", url
        assert gzip.decompress(answer.data), url
    plain = client.get("/static/vendor/socket.io.min.js", headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in plain.headers


def test_charts_load_the_partial_plotly_bundle(jinan_platform: Platform) -> None:
    client, _html = wall_client(jinan_platform)
    answer = client.get(PLOTLY_URL, headers=GZIP)
    body = gzip.decompress(answer.data)
    assert body == PLOTLY_BUNDLE.read_bytes() and b"plotly.js (basic" in body[:200]
    assert len(answer.data) < 600_000  # the full bundle is 4.8 MB, 1.5 MB compressed
    assert client.get(PLOTLY_URL, headers={**GZIP, "If-None-Match": answer.headers["ETag"]}).status_code == 304


def test_the_screens_draw_only_trace_types_the_bundle_has() -> None:
    """A screen that starts drawing another trace type (a map, a heat map) needs another bundle."""
    from tests.helpers import ROOT

    drawn: set[str] = set()
    for path in [*(ROOT / "layouts").glob("*.py"), *(ROOT / "callbacks").glob("*.py")]:
        source = path.read_text(encoding="utf-8")
        drawn |= {name.lower() for name in re.findall(r"\bgo\.([A-Z]\w*)\(", source) if name != "Figure"}
        drawn |= set(re.findall(r'\{"type": "(\w+)", "mode"', source))  # a figure given as a dict
    assert "scatter" in drawn and drawn <= PLOTLY_TRACES, drawn
