"""/admin's walls, clicked through in Chromium as the platform office's admin on PostgreSQL +
Redis: a kiosk link issued by clicks (a branch's rankings screen) opens its wall without a
login, the page says when a wall last connected with it, and revoking it by clicks cuts that
wall off within seconds (its socket dropped, the page saying its grant is gone)."""
from __future__ import annotations

import time
from typing import Any

from tests.helpers import browser_login
from tests.servers import PlatformProcess

CUT_OFF_SECONDS = 2.5  # announced to every process (0.2-0.3 s measured), not left to the 5 s sweep


def test_a_kiosk_link_issued_and_revoked_by_clicks(browser: Any, admin_platform: PlatformProcess) -> None:
    base = admin_platform.base_url
    admin = browser_login(browser, base, "admin", next_path="/admin/walls")
    admin.wait_for_selector("#admin-walls-new")
    form = "#admin-walls-new form"
    admin.fill(f"{form} [name=label]", "历下分局指挥室")
    admin.select_option(f"{form} [name=screen]", "rankings")
    admin.select_option(f"{form} [name=unit]", "JN-LX")
    admin.click(f"{form} button[type=submit]")
    admin.wait_for_selector("#admin-once-value")
    url = admin.input_value("#admin-once-value")
    assert url.startswith(f"{base}/wall?screen=rankings&unit=JN-LX&kiosk=kiosk_"), url
    admin.click("#admin-once-close")
    admin.wait_for_selector("#admin-walls-table >> text=历下分局指挥室")

    wall = browser.new_context(viewport={"width": 1920, "height": 1080}).new_page()
    wall.goto(url)
    wall.wait_for_selector("#wall-conn.conn-ok", timeout=30_000)
    assert wall.url.startswith(f"{base}/wall"), "a kiosk link needs no login"

    admin.reload()  # the wall's socket stamped the link: when it last connected
    row = admin.locator("tr.admin-link", has_text="历下分局指挥室")
    row.wait_for()
    assert "从未" not in row.text_content() and "历下分局" in row.text_content()

    row.locator("button.admin-revoke").click()
    admin.click("#admin-dialog-ok")
    started = time.monotonic()
    wall.wait_for_selector("text=大屏授权无效或已被撤销", timeout=30_000)
    took = time.monotonic() - started
    assert took < CUT_OFF_SECONDS, f"the wall went on for {took:.1f} s after its link was revoked"
    assert wall.query_selector("input[type=password]") is None, "a wall never shows a login form"
    admin.wait_for_selector("tr.admin-link.admin-muted >> text=历下分局指挥室")
    admin.context.close()
    wall.context.close()
