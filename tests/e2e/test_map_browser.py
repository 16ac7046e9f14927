"""The heat map in headless Chromium: the wall's map gains points by push without
reloading (pan and zoom kept), shows alerts as they are raised, asks nothing of
the outside world; the exported file works offline on its own."""
from __future__ import annotations

import random
import re
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.helpers import ROOT, TZ, new_request, plant, submit, ticket_row, unit_ids, wait_until
from tests.servers import PlatformProcess, demo_kiosk_token
from tickets.bootstrap import session_factory
from tickets.uow import unit_of_work
from tickets.schema import upgrade
from tickets.units import load_bureau

FRAME = "document.getElementById('wall-map').contentWindow"


def outside(requests: list[str], base_url: str) -> list[str]:
    return [u for u in requests if not u.startswith((base_url, "data:", "blob:", "about:"))]


def open_wall(browser: Any, base_url: str, requests: list[str], size: tuple[int, int] = (1920, 1080)) -> Any:
    page = browser.new_page(viewport={"width": size[0], "height": size[1]})
    page.on("request", lambda r: requests.append(r.url))
    page.goto(f"{base_url}/wall?kiosk={demo_kiosk_token()}")
    page.wait_for_selector("#wall-conn.conn-ok", timeout=20000)
    wait_until(lambda: page.evaluate("window.minshengMapLive && window.minshengMapLive.loads") >= 1,
               what="the map's first points")
    return page


def test_wall_heat_layer_gains_pushed_tickets_in_place(browser: Any, served_platform: PlatformProcess) -> None:
    factory = session_factory(served_platform.database_url)
    for _ in range(3):  # already there when the wall opens: fetched, not pushed
        submit(factory, new_request())
    requests: list[str] = []
    page = open_wall(browser, served_platform.base_url, requests)
    wait_until(lambda: page.evaluate(f"{FRAME}.minshengMap.count()") == 3, what="the three earlier tickets")
    # Someone at the wall zoomed in on 历下区; a marker tells whether the map document is reloaded.
    page.evaluate(f"{FRAME}.minshengMap.map.setView([36.66, 117.05], 13, {{animate: false}}); {FRAME}.__kept = 1")
    view = page.evaluate(f"[{FRAME}.minshengMap.map.getZoom(), {FRAME}.minshengMap.map.getCenter().lat]")
    latencies = []
    for i in range(5):
        before = page.evaluate(f"{FRAME}.minshengMap.count()")
        t0 = time.monotonic()
        submit(factory, new_request(lat=36.66 + i * 0.003, lon=117.05))
        wait_until(lambda b=before: page.evaluate(f"{FRAME}.minshengMap.count()") == b + 1, timeout=10,
                   what="the pushed ticket on the heat layer")
        latencies.append(time.monotonic() - t0)
    in_page = page.evaluate("window.minshengMapLive.latencies.slice(-5)")
    print(f"commit -> heat layer: {', '.join(f'{x * 1000:.0f} ms' for x in latencies)}; "
          f"push -> heat layer in the page: {in_page} ms")
    assert max(latencies) < 2.0, latencies  # new tickets appear within two seconds
    assert page.evaluate(f"{FRAME}.minshengMap.count()") == 8
    latlngs = page.evaluate(f"{FRAME}.minshengMap.heat._latlngs.slice(-5)")
    assert [round(p[0], 3) for p in latlngs] == [round(36.66 + i * 0.003, 3) for i in range(5)]
    assert page.evaluate(f"{FRAME}.__kept") == 1, "the map document was reloaded"
    assert page.evaluate(f"[{FRAME}.minshengMap.map.getZoom(), {FRAME}.minshengMap.map.getCenter().lat]") == view
    assert page.evaluate("window.minshengLive.resyncs") == 1
    assert outside(requests, served_platform.base_url) == []
    assert any("/static/vendor/leaflet/leaflet.js" in u for u in requests)
    page.close()


def test_the_rolling_window_and_cap_keep_the_layer_bounded(browser: Any, served_platform: PlatformProcess) -> None:
    requests: list[str] = []
    page = open_wall(browser, served_platform.base_url, requests)
    result = page.evaluate(f"""() => {{
        const m = {FRAME}.minshengMap, now = Date.now() / 1000, pts = [];
        for (let i = 0; i < 30000; i++) {{
            pts.push([36.6 + (i % 300) * 0.0005, 117.0 + Math.floor(i / 300) * 0.0005, 1, now - 200000 + i * 6, 1e6 + i]);
        }}
        const t0 = performance.now();
        m.setPoints(pts);
        const capped = m.count();
        m.heat._frame = null; const r0 = performance.now(); m.heat._redraw(); const redraw = performance.now() - r0;
        const pruned = m.prune();
        const t1 = performance.now();
        m.addPoints([[36.7, 117.1, 1, now, 1e6], [36.7, 117.1, 1, now, 5e6]]);  // 1e6 was dropped: counted again
        return {{capped, pruned, left: m.count(), ms: t1 - t0, redraw}};
    }}""")
    print(f"20,000 points: set + prune {result['ms']:.0f} ms, one full redraw {result['redraw']:.0f} ms")
    assert result["capped"] == 20000  # the cap keeps the newest
    assert result["left"] == 20000 - result["pruned"] + 2
    assert 8930 <= result["pruned"] <= 8936  # the ~8,933 received more than 24 h ago: dropped
    page.close()


def _plant_history(url: str, today: date) -> None:
    """Four weeks of ordinary days before today (points spread in each district), then a
    noisy evening in 历下区: the detector sees a surge and a recurring issue."""
    from geo.districts import random_point_in

    upgrade(url)
    factory = session_factory(url)
    rng = random.Random(5)
    with unit_of_work(factory) as s:
        load_bureau(s, ROOT / "examples" / "jinan_bureau.yaml")
    with unit_of_work(factory) as s:
        ids = unit_ids(s)
        rows = []
        for d in range(1, 29):
            day = today - timedelta(days=d)
            for district, code in (("历下区", "JN-LX"), ("天桥区", "JN-TQ"), ("市中区", "JN-SZ")):
                for topic in ("noise", "theft"):
                    for _ in range(rng.randint(1, 4)):
                        lat, lon = random_point_in(district, rng)
                        at = datetime.combine(day, datetime.min.time(), TZ) + timedelta(hours=rng.uniform(0, 24))
                        rows.append(ticket_row(at, lat, lon, topic, district=district, unit_id=ids[code]))
        plant(s, rows)


def _burst(url: str, topic: str, district: str, code: str, at: tuple[float, float], n: int) -> None:
    factory = session_factory(url)
    now = datetime.now(TZ)
    with unit_of_work(factory) as s:
        uid = unit_ids(s)[code]
        plant(s, [ticket_row(now - timedelta(minutes=i), at[0] + i * 2e-5, at[1], topic, district=district,
                             unit_id=uid) for i in range(n)])


# The alerts' labels the wall's map shows: (text, [left, top, right, bottom]).
LABELS_SHOWN = (f"Array.from({FRAME}.document.querySelectorAll('.ms-alert-label')).filter(e => e.offsetWidth > 0)"
                ".map(e => { const r = e.getBoundingClientRect(); return [e.textContent, [r.left, r.top, r.right, r.bottom]]; })")


def _overlap(a: list[float], b: list[float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def test_alerts_appear_on_the_wall_map_as_they_are_raised(browser: Any, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'alerts.db'}"
    today = datetime.now(TZ).date()
    _plant_history(url, today)
    _burst(url, "noise", "历下区", "JN-LX-01", (36.6612, 117.0305), 16)
    config = tmp_path / "minsheng.yaml"
    config.write_text("extra:\n  alerts:\n    interval_seconds: 1\n", encoding="utf-8")
    proc = PlatformProcess(url, env={"MINSHENG_CONFIG": str(config)}).start()
    try:
        requests: list[str] = []
        page = open_wall(browser, proc.base_url, requests)
        wait_until(lambda: page.evaluate(f"{FRAME}.minshengMap.alertCount()") >= 2, timeout=30,
                   what="the surge and the recurring issue on the map")
        first = page.evaluate(f"{FRAME}.minshengMap.alertCount()")
        page.evaluate(f"{FRAME}.__kept = 1")
        _burst(url, "theft", "天桥区", "JN-TQ-01", (36.7080, 116.9950), 16)  # while the wall is on
        wait_until(lambda: page.evaluate(f"{FRAME}.minshengMap.alertCount()") > first, timeout=20,
                   what="the new alert, pushed")
        labels = page.evaluate(f"Array.from({FRAME}.document.querySelectorAll('.ms-alert-label'))"
                               ".map(e => e.textContent)")
        assert any("噪音扰民 突增" in x for x in labels) and any("盗窃" in x for x in labels), labels
        # Close alerts (here a street's noise surge and recurring issue, and the theft a few km
        # away: close at the panel's size) share one label, "+N" for the others, so every alert is
        # counted by a shown label; no two shown labels overlap (they sat on one another).
        shown = page.evaluate(LABELS_SHOWN)
        counted = sum(1 + int(m.group(1)) if (m := re.search(r"\+(\d+)$", t)) else 1 for t, _box in shown)
        assert counted == page.evaluate(f"{FRAME}.minshengMap.alertCount()") and len(shown) < counted, shown
        assert not [(a, b) for i, a in enumerate(shown) for b in shown[i + 1:] if _overlap(a[1], b[1])], shown
        assert page.evaluate(f"{FRAME}.__kept") == 1
        events = page.evaluate("window.minshengMapLive.loads")
        assert events == 1, "the alert came by push, not by reloading the map's data"
        assert outside(requests, proc.base_url) == []
        page.close()
    finally:
        proc.stop()


# ------------------------------------------------------------------ the whole city in view
JINAN_DISTRICTS = 12
# Each map and the box on its screen it must fill: the wall's panel, /map's body under its header.
MAP_SCREENS = {"/wall": ("wall-map", ".panel-map"), "/map": ("map-frame", ".map-screen-body")}
# In the top page's pixels: the map's frame, the panel around it, each district's boundary box and
# each district name's box (the map document's own pixels, moved by where its frame sits).
MEASURE = """([frameId, panelSelector]) => {
  const frame = document.getElementById(frameId), M = frame.contentWindow.minshengMap;
  const f = frame.getBoundingClientRect(), p = document.querySelector(panelSelector).getBoundingClientRect();
  const box = r => [r.left, r.top, r.right, r.bottom];
  const districts = {}, names = {};
  M.districts.eachLayer(d => {
    const b = d.getBounds(), nw = M.map.latLngToContainerPoint(b.getNorthWest()),
          se = M.map.latLngToContainerPoint(b.getSouthEast());
    districts[d.feature.properties.name] = [f.left + nw.x, f.top + nw.y, f.left + se.x, f.top + se.y];
  });
  frame.contentDocument.querySelectorAll('.ms-label-district').forEach(e => {
    const r = e.getBoundingClientRect();
    names[e.textContent] = [f.left + r.left, f.top + r.top, f.left + r.right, f.top + r.bottom];
  });
  return {frame: box(f), panel: box(p), districts, names, fitted: M.fitted};
}"""


def inside(inner: list[float], outer: list[float], slack: float = 0.5) -> bool:
    return (inner[0] >= outer[0] - slack and inner[1] >= outer[1] - slack
            and inner[2] <= outer[2] + slack and inner[3] <= outer[3] + slack)


def whole_city(page: Any, path: str) -> dict[str, Any]:
    frame, panel = MAP_SCREENS[path]
    page.wait_for_function("id => { const f = document.getElementById(id); return f && f.contentWindow"
                           " && f.contentWindow.minshengMap && f.contentWindow.minshengMap.ready; }", arg=frame,
                           timeout=30000)
    seen: dict[str, Any] = page.evaluate(MEASURE, [frame, panel])
    return seen


def cut_off(seen: dict[str, Any]) -> list[str]:
    """What of the city is not wholly on its panel: boundaries and names past the map's edges."""
    return ([f"frame {seen['frame']} outside panel {seen['panel']}"] * (not inside(seen["frame"], seen["panel"]))
            + [f"{name} {b}" for name, b in seen["districts"].items() if not inside(b, seen["frame"])]
            + [f"label {name} {b}" for name, b in seen["names"].items() if not inside(b, seen["frame"])])


def test_the_whole_city_is_on_every_map_at_both_sizes_in_both_languages(
        browser: Any, served_embedded_platform: PlatformProcess) -> None:
    # A busy evening in 历下区: where the tickets are is not where the view goes (it used to
    # follow them, and 商河县 in the north and 钢城区 in the south-east fell off the panel).
    factory = session_factory(served_embedded_platform.database_url)
    now = datetime.now(TZ)
    with unit_of_work(factory) as s:
        plant(s, [ticket_row(now - timedelta(minutes=5 * i), 36.66 + (i % 6) * 0.002, 117.03 + (i // 6) * 0.002,
                             unit_id=unit_ids(s)["JN-LX-01"]) for i in range(60)])
    names = {"zh-CN": {"商河县", "钢城区", "平阴县"}, "en": {"Shanghe County", "Gangcheng District", "Pingyin County"}}
    for path in MAP_SCREENS:
        for width, height in ((1920, 1080), (3840, 2160)):
            for lang in ("zh-CN", "en"):
                page = browser.new_page(viewport={"width": width, "height": height})
                page.goto(served_embedded_platform.wall_url(f"{path}?lang={lang}"))  # a kiosk token, no login
                seen = whole_city(page, path)
                page.close()
                print(f"{path} {width}x{height} {lang}: zoom {seen['fitted']['zoom']:.2f}, "
                      f"padding {seen['fitted']['padding']}, frame {[round(x) for x in seen['frame']]}")
                assert len(seen["districts"]) == JINAN_DISTRICTS and names[lang] <= set(seen["names"]), seen
                assert cut_off(seen) == [], (path, width, lang, seen)
                # Fitted, not merely inside: the city spans most of the map's width or height.
                left, top, right, bottom = (min(b[i] for b in seen["districts"].values()) if i < 2 else
                                            max(b[i] for b in seen["districts"].values()) for i in range(4))
                f = seen["frame"]
                assert max((right - left) / (f[2] - f[0]), (bottom - top) / (f[3] - f[1])) > 0.75, seen


def test_a_wall_map_fits_again_when_its_screen_changes_size(
        browser: Any, served_embedded_platform: PlatformProcess) -> None:
    # A 5:4 screen: the panel is narrow, and "Gangcheng District" is wider than its district's corner.
    page = browser.new_page(viewport={"width": 1280, "height": 1024})
    page.goto(served_embedded_platform.wall_url("/wall?lang=en"))
    small = whole_city(page, "/wall")
    assert cut_off(small) == [], small
    page.set_viewport_size({"width": 3840, "height": 2160})
    wait_until(lambda: page.evaluate(f"{FRAME}.minshengMap.fitted.zoom") > small["fitted"]["zoom"] + 1,
               what="the map fitted to the larger panel")
    large = whole_city(page, "/wall")
    assert cut_off(large) == [], large
    # Somebody zoomed in by hand: the view stays theirs when the screen changes again.
    page.evaluate(f"{FRAME}.document.querySelector('.leaflet-container')"
                  ".dispatchEvent(new MouseEvent('mousedown', {bubbles: true}))")
    page.evaluate(f"{FRAME}.minshengMap.map.setZoom(12, {{animate: false}})")
    page.set_viewport_size({"width": 1920, "height": 1080})
    page.wait_for_timeout(500)
    assert page.evaluate(f"{FRAME}.minshengMap.map.getZoom()") == 12
    page.close()


def test_a_kiosk_token_opens_every_wall_screen_and_the_map(
        browser: Any, served_embedded_platform: PlatformProcess) -> None:
    from dashboard.screens import SCREENS

    walls = [s.path for s in SCREENS if s.kiosk]
    assert "/wall" in walls and "/map" in walls
    for path in walls:
        page = browser.new_page(viewport={"width": 1920, "height": 1080})
        page.goto(served_embedded_platform.wall_url(path))
        page.wait_for_selector("#page > *", timeout=20000)
        assert page.url.split("?")[0].endswith(path), page.url  # not sent to the login form
        assert page.locator("input[name=password]").count() == 0 and page.locator(".not-found").count() == 0
        page.close()
    # The map's own callback (a topic chosen) answers a kiosk too, and its export downloads.
    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    page.goto(served_embedded_platform.wall_url("/map"))
    whole_city(page, "/map")
    before = page.evaluate("document.getElementById('map-frame').srcdoc.length")
    page.locator("#map-topic label", has_text="盗窃").click()
    wait_until(lambda: "topic=theft" in (page.get_attribute("#map-export", "href") or ""), what="the theft map")
    assert page.evaluate("document.getElementById('map-frame').srcdoc.length") != before
    export = page.request.get(served_embedded_platform.base_url + page.get_attribute("#map-export", "href"))
    assert export.status == 200 and "minshengMap.init" in export.text()
    page.close()
