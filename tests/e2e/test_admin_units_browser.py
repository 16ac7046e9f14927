"""/admin/units clicked through by an admin in Chromium on PostgreSQL + Redis: a station moved
to another branch in the tree takes its tickets' scope with it at once, without a restart — its
own officer sees the same tickets, the old branch no longer sees them, the new branch does."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from tests.helpers import new_request, wait_until
from tests.servers import PlatformProcess
from tickets import accounts, services
from tickets.bootstrap import session_factory
from tickets.models import utcnow
from tickets.uow import unit_of_work

PASSWORD = "minsheng-demo"  # the demo accounts' (examples/demo_accounts.yaml)
STATION, OLD_BRANCH, NEW_BRANCH = "JN-TQ-01", "JN-TQ", "JN-LX"  # 泺口派出所: 天桥分局 → 历下分局


@pytest.fixture
def units_platform(pg_url: str, redis_url: str) -> Iterator[tuple[PlatformProcess, dict[str, str], set[str]]]:
    platform = PlatformProcess(pg_url, redis_url).start(timeout=120)
    with unit_of_work(session_factory(pg_url)) as s:
        tokens = {}
        for username, role, unit in (("tianqiao", "viewer", OLD_BRANCH), ("lixia", "viewer", NEW_BRANCH),
                                     ("station", "handler", STATION)):
            user = accounts.create_user(s, username, "测试民警", None, unit, role, PASSWORD)
            tokens[username] = accounts.issue_token(s, "api", user, label=username)
        numbers = {services.receive_one(s, replace(new_request(utcnow(), external_id=f"MOVE-{i}"), unit_code=STATION),
                                        now=utcnow()).number for i in range(2)}
    yield platform, tokens, numbers
    platform.stop()


def seen(platform: PlatformProcess, token: str) -> set[str]:
    return {row["number"] for row in platform.get("/api/v1/tickets?limit=200", token)["items"]}


def login(browser: Any, base: str) -> Any:
    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    page.goto(f"{base}/login")
    page.fill("#username", "admin")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url, timeout=30_000)
    return page


def test_a_station_moved_by_clicks_takes_its_scope_along(browser: Any, units_platform: Any) -> None:
    platform, tokens, numbers = units_platform
    assert numbers <= seen(platform, tokens["tianqiao"]) and not numbers & seen(platform, tokens["lixia"])
    assert numbers <= seen(platform, tokens["station"])

    page = login(browser, platform.base_url)
    page.goto(f"{platform.base_url}/admin/units")
    page.click(f"#admin-unit-{STATION}")  # the station in the tree: its panel
    page.wait_for_selector("#admin-unit-selected form.admin-unit-move")
    assert page.locator("#admin-unit-selected .admin-unit-held tbody tr").count() == len(numbers)  # the preview
    page.select_option("#admin-unit-selected form.admin-unit-move select[name=parent]", NEW_BRANCH)
    page.click("#admin-unit-selected form.admin-unit-move button[type=submit]")
    page.click("#admin-dialog-ok")
    row = f"#admin-units-tree tr[data-unit='{STATION}']"
    wait_until(lambda: page.get_attribute(row, "data-parent") == NEW_BRANCH, timeout=10, what="the tree re-rendered")

    # At once, in the running platform: the new branch sees them, the old one no longer, the station the same.
    assert numbers <= seen(platform, tokens["lixia"])
    assert not numbers & seen(platform, tokens["tianqiao"])
    assert numbers <= seen(platform, tokens["station"])
    page.close()
