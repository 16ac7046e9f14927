"""Screenshots of the screens at 1920×1080 and 3840×2160, into docs/screenshots/.

Starts the platform on a throwaway SQLite database with the simulated feed
(fixed seed, two hours of backfill), waits until the backfill is on the wall,
and photographs it in headless Chromium.

    python docs/make_screenshots.py
"""
from __future__ import annotations

import sys
import tempfile
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


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    db = Path(tempfile.mkdtemp()) / "shots.db"
    platform = PlatformProcess(
        f"sqlite:///{db}", extra_args=["--simulate", "--seed", "7", "--backfill-hours", "2"]
    ).start()
    try:
        # Wait until the simulator has played the backfill, and the wall has it.
        for _ in range(600):
            if "simulator caught up" in platform.log():
                break
            time.sleep(1)
        time.sleep(3)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for name, path, width, height in SHOTS:
                page = browser.new_page(viewport={"width": width, "height": height})
                page.goto(platform.wall_url(path))  # with the demo kiosk token, as on a real wall
                page.wait_for_selector("#wall-conn.conn-ok")
                page.wait_for_timeout(4000)
                page.screenshot(path=str(OUT / name))
                page.close()
                print("wrote", OUT / name)
            browser.close()
    finally:
        platform.stop()


if __name__ == "__main__":
    main()
