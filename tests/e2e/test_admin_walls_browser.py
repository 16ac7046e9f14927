"""/admin's walls, clicked through in Chromium as the platform office's admin on PostgreSQL +
Redis: a kiosk link issued by clicks (a branch's rankings screen) opens its wall without a
login, the page says when a wall last connected with it, and revoking it by clicks cuts that
wall off within seconds (its socket dropped, the page saying its grant is gone); and a 12345
source's key rotated on /admin/feeds by clicks takes both keys during the overlap, then only the
new one."""
from __future__ import annotations

import json
import time
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import requests

from tests.helpers import browser_login, signed_headers
from tests.servers import PlatformProcess

SHANGHAI = ZoneInfo("Asia/Shanghai")
OLD_SECRET = "test-hotline-secret"  # conftest's admin_platform: MINSHENG_HOTLINE_SECRET
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


OVERLAP_HOURS = "0.003"  # 10.8 s: long enough to push with both keys, short enough to wait out
ORDER = {"派单时间": "", "来电人": "钱先生", "联系电话": "13912345678", "事发地址": "济南市历下区泉城路",
         "诉求类型": "投诉", "标题": "夜间施工噪音", "诉求内容": "工地每晚施工到凌晨，噪音很大，请求处理。"}


def test_a_12345_key_rotated_by_clicks_takes_both_keys_until_the_overlap_ends(
        browser: Any, admin_platform: PlatformProcess) -> None:
    """The issue's check: rotated on /admin/feeds by clicks, the source's pushes signed with the
    old key and with the new one are both taken during the overlap, and only the new one's after."""
    base = admin_platform.base_url
    serial = iter(range(1, 100))

    def pushed(secret: str) -> int:
        order = {**ORDER, "工单编号": f"GS20261203{next(serial):06d}",
                 "派单时间": datetime.now(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")}
        body = json.dumps(order, ensure_ascii=False).encode("utf-8")
        return requests.post(f"{base}/api/v1/intake/hotline", data=body, headers=signed_headers(body, OLD_SECRET
                             if secret == "old" else secret), timeout=10).status_code

    assert pushed("old") == 201  # the settings' secret seeds the source's key
    admin = browser_login(browser, base, "admin", next_path="/admin/feeds")
    row = "#admin-feed-hotline-hotline_12345"
    admin.wait_for_selector(f"{row} form.admin-rotate")
    admin.fill(f"{row} form.admin-rotate [name=overlap_hours]", OVERLAP_HOURS)
    admin.click(f"{row} form.admin-rotate button[type=submit]")
    admin.click("#admin-dialog-ok")  # "the new key is shown once"
    admin.wait_for_selector("#admin-once-value")
    rotated_at = time.monotonic()
    new_secret = admin.input_value("#admin-once-value")
    assert new_secret and new_secret != OLD_SECRET
    assert pushed(new_secret) == 201 and pushed("old") == 201  # the overlap: both
    admin.click("#admin-once-close")
    time.sleep(max(0.0, float(OVERLAP_HOURS) * 3600 + 1 - (time.monotonic() - rotated_at)))
    assert pushed("old") == 401 and pushed(new_secret) == 201  # after it: only the new one
    admin.reload()
    admin.wait_for_selector(f"{row} li.admin-key.admin-muted")  # the old key shown as expired
    admin.context.close()
