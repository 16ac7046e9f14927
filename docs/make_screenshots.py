"""Screenshots of the screens at 1920×1080 and 3840×2160, into docs/screenshots/.

Starts the platform on a throwaway SQLite database with the simulated feed
(fixed seed, two hours of backfill), waits until the backfill is on the wall,
and photographs it in headless Chromium.

    python docs/make_screenshots.py
"""
from __future__ import annotations

import sys
import tempfile
from urllib.parse import quote
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.platform_process import PlatformProcess  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
SHOTS = [
    ("wall-1920x1080.png", "/wall", 1920, 1080),
    ("wall-3840x2160.png", "/wall", 3840, 2160),
    ("wall-en-1920x1080.png", "/wall?lang=en", 1920, 1080),
]
# The full-screen heat map (/map), as a logged-in leader sees it.
MAP_SHOTS = [
    ("map-1920x1080.png", "/map?window=24h", 1920, 1080),
    ("map-3840x2160.png", "/map?topic=noise&window=7d", 3840, 2160),
]
RATE = 200.0  # simulated tickets an hour, for the history and the live feed alike
HISTORY_DAYS = 27


def plant_history(url: str) -> None:
    """Four weeks of simulated tickets before today (planted straight into the
    database, closed), so hotspots have a previous window and early warnings a
    baseline; then a noisy evening at one bar in 历下区 and thefts at one market
    in 天桥区 (recurring issues), and a surge of noise complaints in 钢城区 today,
    which the detector raises as alerts."""
    from datetime import datetime, timedelta

    from feeds.simulator import Simulator
    from geo.jurisdictions import routing_jurisdictions
    from tests.plant import plant, ticket_row, unit_ids
    from tickets.db import make_engine, make_session_factory, unit_of_work
    from tickets.schema import upgrade
    from tickets.units import load_bureau

    import settings as settings_module

    tz = settings_module.load().tz
    upgrade(url)
    factory = make_session_factory(make_engine(url))
    with unit_of_work(factory) as s:
        load_bureau(s, ROOT / "examples" / "jinan_bureau.yaml")
    midnight = datetime.combine(datetime.now(tz).date(), datetime.min.time(), tz)
    requests = Simulator(seed=11, rate_per_hour=RATE, tz=tz).requests_between(
        midnight - timedelta(days=HISTORY_DAYS), midnight)
    codes = routing_jurisdictions().stations_at([r.lat for r in requests], [r.lon for r in requests])
    with unit_of_work(factory) as s:
        ids = unit_ids(s)
        rows = []
        for r, code in zip(requests, codes):
            row = ticket_row(r.received_at, r.lat, r.lon, r.topic, district=r.district, unit_id=ids.get(code or ""),
                             status="closed")
            row.update(channel=r.channel, kind=r.kind, sla_class=r.sla_class, closed_at=r.received_at + timedelta(hours=5))
            rows.append(row)
        now = datetime.now(tz)
        for i in range(26):
            rows.append(ticket_row(now - timedelta(minutes=3 * i + 5), 36.6612 + (i % 4) * 1e-4, 117.0305, "noise",
                                   district="历下区", unit_id=ids["JN-LX-01"]))
        for i in range(9):
            rows.append(ticket_row(now - timedelta(minutes=9 * i + 7), 36.7078, 116.9952 + (i % 3) * 1e-4, "theft",
                                   district="天桥区", unit_id=ids["JN-TQ-01"]))
        for i in range(64):  # a surge: 钢城区 has ~29 noise complaints a day at this rate
            rows.append(ticket_row(now - timedelta(minutes=2 * i + 3), 36.0590 + (i % 8) * 4e-4,
                                   117.8080 + (i // 8) * 4e-4, "noise", district="钢城区", unit_id=ids["JN-GC-01"]))
        plant(s, rows)
    print(f"planted {len(rows)} tickets of history")


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    db = Path(tempfile.mkdtemp()) / "shots.db"
    plant_history(f"sqlite:///{db}")
    platform = PlatformProcess(
        f"sqlite:///{db}", extra_args=["--simulate", "--seed", "7", "--backfill-hours", "2", "--rate", str(RATE)]
    ).start()
    try:
        # Wait until the simulator has played the backfill, and the wall has it.
        for _ in range(600):
            if "simulator caught up" in platform.log():
                break
            time.sleep(1)
        time.sleep(3)
        for _ in range(120):  # the leader's detector raises the planted surge and recurring issues
            if platform.get("/api/v1/alerts")["count"] >= 3:
                break
            time.sleep(1)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for name, path, width, height in SHOTS:
                page = browser.new_page(viewport={"width": width, "height": height})
                for _attempt in range(3):
                    page.goto(platform.wall_url(path))  # with the demo kiosk token, as on a real wall
                    page.wait_for_selector("#wall-conn.conn-ok")
                    page.wait_for_timeout(4000)
                    # Now and then the flow chart stays empty after the first snapshot (a race
                    # between the snapshot's figure patch and dcc.Graph loading): load again.
                    if page.evaluate("document.querySelectorAll('#wall-flow .legend .traces').length"):
                        break
                page.screenshot(path=str(OUT / name))
                page.close()
                print("wrote", OUT / name)
            for name, path, width, height in MAP_SHOTS:
                page = browser.new_page(viewport={"width": width, "height": height})
                page.goto(f"{platform.base_url}/login?next={quote(path, safe='/')}")
                page.fill("#username", "leader")
                page.fill("#password", "minsheng-demo")  # the demo accounts' published password
                page.click("button[type=submit]")
                page.wait_for_selector("#map-frame")
                page.wait_for_function("() => { const f = document.getElementById('map-frame');"
                                       " return f && f.contentWindow && f.contentWindow.minshengMap"
                                       " && f.contentWindow.minshengMap.ready; }", timeout=60000)
                page.wait_for_timeout(2000)
                page.screenshot(path=str(OUT / name))
                page.close()
                print("wrote", OUT / name)
            browser.close()
    finally:
        platform.stop()


if __name__ == "__main__":
    main()
