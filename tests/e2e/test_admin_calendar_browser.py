"""/admin/calendar clicked through by an admin in Chromium on PostgreSQL: the 2027 schedule
entered on the page (the Spring Festival week, its make-up Sunday) and one date marked by hand
move a 2027 deadline as ``app.py sla deadline``, a process of its own, computes it."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from tests.helpers import run_app, wait_until
from tests.servers import PlatformProcess
from tickets import sla
from tickets.config import SHANGHAI

PASSWORD = "minsheng-demo"  # the demo accounts' (examples/demo_accounts.yaml)
pytestmark = pytest.mark.usefixtures("fresh_sla_state")  # this process asks the calendar too
EVE = "2027-02-05T16:00:00+08:00"  # the Friday afternoon before the 2027 Spring Festival


@pytest.fixture
def calendar_platform(pg_url: str, redis_url: str) -> Iterator[PlatformProcess]:
    platform = PlatformProcess(pg_url, redis_url).start(timeout=120)
    yield platform
    platform.stop()


def deadline(platform: PlatformProcess, dispatched_at: str) -> str:
    done = run_app("sla", "deadline", "--sla-class", "consultation", "--dispatched-at", dispatched_at,
                   DATABASE_URL=platform.database_url)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def status(page: Any, day: str) -> str | None:
    value: str | None = page.get_attribute(f"#admin-calendar-grid td[data-date='{day}']", "data-status")
    return value


def test_a_2027_schedule_entered_by_clicks_moves_a_2027_deadline(browser: Any, calendar_platform: Any) -> None:
    platform = calendar_platform
    # Before: 2027 unknown, Monday–Friday assumed, the deadline on the Monday (as `sla deadline` says on an
    # empty calendar: tests/integration/test_sla_cli.py; asked here without a process of its own).
    assert sla.schedule("consultation", datetime.fromisoformat(EVE), SHANGHAI).resolve_due.date().isoformat() == "2027-02-08"

    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    page.goto(f"{platform.base_url}/login")
    page.fill("#username", "admin")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url, timeout=30_000)
    page.goto(f"{platform.base_url}/admin/calendar")
    page.click("#admin-calendar-year-2027")
    page.wait_for_selector("#admin-calendar-grid td[data-date='2027-02-08']")
    assert status(page, "2027-02-08") == "workday"
    form = "form.admin-calendar-schedule"
    page.fill(f"{form} [name=holiday0_first]", "2027-01-01")  # 元旦
    page.fill(f"{form} [name=holiday1_first]", "2027-02-06")  # 春节
    page.fill(f"{form} [name=holiday1_last]", "2027-02-13")
    page.fill(f"{form} [name=workdays]", "2027-02-14")
    page.click(f"{form} button[type=submit]")
    page.click("#admin-dialog-ok")
    wait_until(lambda: status(page, "2027-02-08") == "holiday", timeout=10, what="the grid re-rendered")
    assert status(page, "2027-02-14") == "makeup" and status(page, "2027-02-15") == "workday"
    assert deadline(platform, EVE).startswith("2027-02-14")  # past the holiday, on the make-up Sunday

    mark = "form.admin-calendar-mark"
    page.fill(f"{mark} [name=day]", "2027-02-15")
    page.select_option(f"{mark} select[name=mark]", "holiday")
    page.click(f"{mark} button[type=submit]")
    wait_until(lambda: status(page, "2027-02-15") == "holiday", timeout=10, what="the date marked")
    assert deadline(platform, "2027-02-14T16:00:00+08:00").startswith("2027-02-16")  # 15th now a day off
    page.close()
