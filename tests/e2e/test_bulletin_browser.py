"""每周通报 on screen, in Chromium: the running week's bulletin (provisional, said so) shows
the same numbers as its API, and meeting mode steps through its pages with the arrow keys
and highlights the unit under discussion."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.helpers import wait_until
from tests.servers import PlatformProcess


@pytest.fixture
def bulletin_platform(tmp_path: Any) -> Iterator[PlatformProcess]:
    platform = PlatformProcess(f"sqlite:///{tmp_path / 'bulletin.db'}",
                               extra_args=["--simulate", "--seed", "7", "--backfill-hours", "3", "--rate", "200"])
    platform.start(timeout=120)
    wait_until(lambda: "simulator caught up" in platform.log(), timeout=300, what="the simulator's backfill")
    yield platform
    platform.stop()


def test_the_bulletin_on_screen_and_in_meeting_mode(browser: Any, bulletin_platform: PlatformProcess) -> None:
    base = bulletin_platform.base_url
    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    page.goto(f"{base}/login?next=/bulletin")
    page.fill("#username", "leader")
    page.fill("#password", "minsheng-demo")
    page.click("button[type=submit]")
    page.wait_for_selector(".bulletin-page")
    # The running week: provisional, and said so.
    page.click("#bulletin-next") if page.locator("#bulletin-next").count() else None
    page.wait_for_selector("#bulletin-provisional")
    week = page.inner_text("#bulletin-week")
    fetch = "async (w) => (await (await fetch('/api/v1/bulletins/' + w)).json())"
    # The feed goes on, so the running week grows: compare the screen with the API only
    # when the API gave the same count before and after the screen was computed.
    for _ in range(10):
        before = page.evaluate(fetch, week)
        page.reload()
        page.wait_for_selector(".bulletin-page")
        page.click("#bulletin-next") if page.locator("#bulletin-next").count() else None
        page.wait_for_selector("#bulletin-provisional")
        shown = page.inner_text("[data-figure='received']")
        api = page.evaluate(fetch, week)
        if before["bureau"]["received"] == api["bureau"]["received"]:
            break
    assert api["provisional"] is True and api["bureau"]["received"] > 0
    assert shown == str(api["bureau"]["received"])
    rate = api["bureau"]["response_rate"]
    assert page.inner_text("[data-figure='response_rate']") == ("–" if rate is None else f"{rate * 100:.1f}%")
    branches = [u["unit_name"] for u in api["rankings"]["branches"]["units"]]
    assert all(name in page.inner_text("#bulletin-page-branches") for name in branches[:3])
    # Meeting mode: one page at a time; → the next; ↓ highlights a unit.
    page.click("#bulletin-meeting")
    wait_until(lambda: page.evaluate("MinshengBulletin.on"), what="meeting mode")
    visible = "() => [...document.querySelectorAll('.bulletin-page')].filter(p => p.offsetParent !== null).map(p => p.id)"
    assert page.evaluate(visible) == ["bulletin-page-bureau"]
    page.keyboard.press("ArrowRight")
    assert page.evaluate(visible) == ["bulletin-page-branches"]
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    wait_until(lambda: page.locator("#bulletin-page-branches .ag-row-selected").count() > 0, what="the highlight")
    assert page.evaluate("MinshengBulletin.row") == 1
    page.keyboard.press("Escape")
    assert len(page.evaluate(visible)) > 5  # every page again
    page.close()
