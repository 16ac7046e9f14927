"""Screenshots of the training space (``app.py drill``) at 1920×1080, zh-CN, into
docs/screenshots/drill-*.png: the drill's wall (its kiosk URL) and the work desk of a trainee
(the dispatcher, logged in with the password the command printed), on a throwaway SQLite drill
of 400 records of the simulated 2026-08-16 from 08:00.

    python docs/drill_screenshots.py
"""
from __future__ import annotations

import re
import shutil
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.servers import CHROMIUM, CHROMIUM_ARGS, PlatformProcess  # noqa: E402

OUT = ROOT / "docs" / "screenshots"


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="drill-shots-"))
    drill = PlatformProcess(f"sqlite:///{folder / 'real.db'}", ready="health",
                            env={"MINSHENG_DRILL_DIR": str(folder / "drill")},
                            command=["drill", "--from-day", "2026-08-16", "--from-time", "08:00", "--speed", "0",
                                     "--limit", "400", "--reset"])
    drill.extra_args = ["--port", str(drill.port)]
    drill.start(timeout=120)
    try:
        for _ in range(300):
            if "drill feed: replay" in drill.log():
                break
            time.sleep(1)
        log = drill.log()
        wall = re.search(r"drill wall \(no login\): (\S+)", log)
        password = re.search(r"trainees' password \(all accounts\): (\S+)", log)
        assert wall and password, log
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
            page.goto(wall.group(1))
            page.wait_for_selector(".ticker-row, .t-number", timeout=30000)
            page.wait_for_timeout(4000)  # the map's tiles and the flow chart
            page.screenshot(path=str(OUT / "drill-wall-1920x1080.png"))
            page.close()
            page = browser.new_page(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
            page.goto(f"{drill.base_url}/login?next={quote('/desk', safe='/')}")
            page.fill("#username", "dispatcher")
            page.fill("#password", password.group(1))
            page.click("button[type=submit]")
            try:
                page.wait_for_selector(".ag-root .ag-row", timeout=30000)
            finally:
                page.wait_for_timeout(1500)
                page.screenshot(path=str(OUT / "drill-desk-1920x1080.png"))
            page.screenshot(path=str(OUT / "drill-desk-1920x1080.png"))
            browser.close()
        print("wrote", OUT / "drill-wall-1920x1080.png", OUT / "drill-desk-1920x1080.png")
    finally:
        drill.stop()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
