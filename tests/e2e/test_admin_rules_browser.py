"""/admin/rules clicked through in Chromium by an admin, on PostgreSQL: the rules in force read in
Chinese, a draft previewed on last week's real tickets (per branch, before → after), a new version
saved for an instant T; then tickets dispatched through the service layer a minute before and a
minute after T (and a day either side) get the old and the new deadlines, and ``app.py sla
deadline`` answers by the version in force at the instant it is given.

T is a day ahead (a version must be at least ``sla_version_lead_minutes`` ahead); the tickets are
dispatched with explicit instants around it, as the service layer allows, so nothing waits."""
from __future__ import annotations

import os

import random
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.helpers import new_request, run_app, submit
from tests.servers import PlatformProcess
from tickets import lifecycle, sla
from tickets.bootstrap import session_factory
from tickets.config import SHANGHAI
from tickets.models import AuditEntry, Ticket
from tickets.roles import SYSTEM
from tickets.uow import unit_of_work

pytestmark = pytest.mark.usefixtures("fresh_sla_state")

PASSWORD = "minsheng-demo"  # the demo accounts' (examples/demo_accounts.yaml)
# The page's screenshots for docs/ are taken only when asked (MINSHENG_SCREENSHOTS=1): a test run
# leaves the checkout as it found it.
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "admin-rules-1920x1080.png"
TAKE_SCREENSHOTS = os.environ.get("MINSHENG_SCREENSHOTS") == "1"
# A station of each of four branches: (district, lat, lon)
PLACES = [("历下区", 36.6640, 117.0230), ("市中区", 36.6580, 116.9930), ("槐荫区", 36.6610, 116.9700),
          ("天桥区", 36.6800, 117.0080)]


@pytest.fixture
def rules_platform(pg_url: str, redis_url: str) -> Iterator[PlatformProcess]:
    platform = PlatformProcess(pg_url, redis_url)
    platform.start(timeout=120)
    yield platform
    platform.stop()


def last_week_tickets(factory: Any, now: datetime) -> None:
    """Four tickets a branch received last week: contacted 20 to 100 minutes after dispatch, most
    closed within one to two working days, the rest left open."""
    rng = random.Random(19)
    monday = (now.astimezone(SHANGHAI) - timedelta(days=now.astimezone(SHANGHAI).weekday() + 7)).replace(
        hour=9, minute=0, second=0, microsecond=0)
    for b, (district, lat, lon) in enumerate(PLACES):
        for i in range(4):
            at = monday + timedelta(days=i % 5, hours=rng.randint(0, 6), minutes=rng.randint(0, 59))
            ticket = submit(factory, new_request(at, district=district, lat=lat, lon=lon), now=at)
            with unit_of_work(factory) as s:
                t = s.get(Ticket, ticket.id)
                lifecycle.contact(s, t, at + timedelta(minutes=rng.randint(20, 100)), SYSTEM)
                if (b + i) % 3:
                    done = at + timedelta(days=1, hours=rng.randint(-3, 26))
                    for step in (lifecycle.report, lifecycle.approve, lifecycle.reply, lifecycle.close):
                        step(s, t, done, SYSTEM)


def test_a_new_version_changes_deadlines_from_its_instant_only(rules_platform: PlatformProcess, pg_url: str,
                                                                browser: Any) -> None:
    factory = session_factory(pg_url)
    now = datetime.now(SHANGHAI)
    last_week_tickets(factory, now)
    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    base = rules_platform.base_url
    page.goto(f"{base}/login")
    page.fill("#username", "admin")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)
    page.goto(f"{base}/admin")
    page.click("#admin-card-rules")
    page.wait_for_selector("#admin-rules-current")
    assert "派单后 1 小时内" in page.inner_text("#admin-rules-current")
    assert "自始施行" in page.inner_text("#admin-rules-versions")

    # The draft: contact within 2 h, a service ticket closed within 2 working days, from T.
    t = (now + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    form = "#admin-rules-form"
    page.fill(f"{form} [name=contact_hours]", "2")
    page.fill(f"{form} [name=resolve_service]", "2")
    page.fill(f"{form} [name=effective_from]", f"{t:%Y-%m-%d %H:%M}")
    page.fill(f"{form} [name=note]", "局务会决定：联系时限放宽至 2 小时")
    page.click("#admin-rules-preview-button")
    page.wait_for_selector(".admin-rules-impact-table")
    impact = page.inner_text("#admin-rules-impact")
    assert "全部单位" in impact and "历下分局" in impact and "→" in impact
    total = page.inner_text(".admin-rules-impact-table tbody tr:last-child")
    assert total.split()[1] == "16"  # the week's 16 tickets, all re-judged
    if TAKE_SCREENSHOTS:
        page.screenshot(path=str(SCREENSHOT), full_page=False)

    page.click("#admin-rules-save")
    page.click("#admin-dialog-ok")  # "cannot be changed afterwards": confirmed
    page.wait_for_function("() => document.querySelector('#admin-message').textContent.trim() !== ''")
    assert "第 2 版已保存" in page.inner_text("#admin-message")
    page.wait_for_function("() => document.querySelector('#admin-rules-versions').innerText.includes('v2')")
    assert "待施行" in page.inner_text("#admin-rules-versions")
    page.locator("#admin-rules-versions").scroll_into_view_if_needed()
    if TAKE_SCREENSHOTS:
        page.screenshot(path=str(SCREENSHOT.with_name("admin-rules-versions-1920x1080.png")))
    with factory() as s:
        audit = s.scalars(select(AuditEntry).where(AuditEntry.action == "sla_version_create")).all()
        assert [(a.actor, a.target) for a in audit] == [("admin", "v2")]
        sla.load_rule_versions(s)  # as every process does within minutes (sla.refresh_if_stale)

    # Tickets dispatched around T, through the service layer, each at its own instant.
    planted = {}
    for name, at in (("day_before", t - timedelta(days=1)), ("just_before", t - timedelta(minutes=1)),
                     ("at_t", t), ("just_after", t + timedelta(minutes=1)), ("day_after", t + timedelta(days=1))):
        ticket = submit(factory, new_request(at), now=at)
        assert ticket.dispatched_at == at
        planted[name] = ticket
    for name in ("day_before", "just_before"):  # the old rules: contact within 1 h
        assert planted[name].contact_due_at - planted[name].dispatched_at == timedelta(hours=1), name
    for name in ("at_t", "just_after", "day_after"):  # the new: 2 h, and two working days
        assert planted[name].contact_due_at - planted[name].dispatched_at == timedelta(hours=2), name
    before, after = planted["just_before"], planted["just_after"]
    hours_before = sla.working_hours_between(before.dispatched_at, before.resolve_due_at, SHANGHAI)
    hours_after = sla.working_hours_between(after.dispatched_at, after.resolve_due_at, SHANGHAI)
    assert (hours_before, hours_after) == (7.5, 15.0)

    # The command line answers by the version in force at the instant it is given.
    for ticket in (before, after):
        done = run_app("sla", "deadline", "--sla-class", "service", "--dispatched-at",
                       ticket.dispatched_at.astimezone(SHANGHAI).isoformat(), DATABASE_URL=pg_url)
        assert done.returncode == 0, done.stderr
        assert datetime.fromisoformat(done.stdout.strip()) == ticket.resolve_due_at
    factory.kw["bind"].dispose()
