"""Logins and kiosk grants in headless Chromium, against a real `app.py run`:
the wall without credentials goes to the login form, a demo account logs in,
and revoking a wall's kiosk token takes the wall off the air by itself."""
from __future__ import annotations

import time
from typing import Any

from tests.servers import DEMO_ACCOUNTS, PlatformProcess
from tickets import accounts
from tickets.bootstrap import session_factory
from tickets.uow import unit_of_work


def test_run_prints_the_demo_kiosk_url(served_embedded_platform: PlatformProcess) -> None:
    platform = served_embedded_platform
    assert f"/wall?kiosk={platform.kiosk_token}" in platform.log()


def test_wall_without_credentials_shows_the_login_form_then_opens(browser: Any,
                                                                  served_embedded_platform: PlatformProcess) -> None:
    platform = served_embedded_platform
    page = browser.new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(platform.base_url + "/wall")
    assert page.url.startswith(platform.base_url + "/login?next=/wall")
    page.fill("#username", "duty")
    page.fill("#password", accounts.read_demo_accounts(DEMO_ACCOUNTS)["password"])
    page.click("button[type=submit]")
    page.wait_for_selector("#wall-conn.conn-ok", timeout=20000)
    assert page.url == platform.base_url + "/wall"
    assert all(u.startswith(platform.base_url) for u in requests), "nothing from outside, login page included"
    page.close()


def test_revoking_the_kiosk_token_takes_the_wall_off_the_air(browser: Any,
                                                             served_embedded_platform: PlatformProcess) -> None:
    platform = served_embedded_platform
    factory = session_factory(platform.database_url)
    with unit_of_work(factory) as s:
        token = accounts.issue_token(s, "kiosk", label="test wall")
        token_id = accounts.resolve_token(s, token).id
    page = browser.new_page()
    page.goto(platform.wall_url().replace(platform.kiosk_token, token))
    page.wait_for_selector("#wall-conn.conn-ok", timeout=20000)
    with unit_of_work(factory) as s:
        accounts.revoke_token(s, token_id)
    started = time.monotonic()
    # The socket sweep drops the connection, the page re-checks, gets 401 and reloads.
    page.wait_for_selector("text=大屏授权无效或已被撤销", timeout=30000)
    assert time.monotonic() - started < 20
    assert page.query_selector("input[type=password]") is None, "a wall never shows a login form"
    page.close()
