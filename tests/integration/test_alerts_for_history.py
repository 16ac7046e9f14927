"""Alerts that are right (issue 16): rows dated days back or a year's imported history
raise no surge, no recurring issue and no supervision order; a real burst still does
(tests/integration/test_alerts.py)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

import settings as settings_module
from dashboard import Platform, create_platform
from feeds import cad110
from feeds.importer import run_import
from feeds.mapping import Mapping
from feeds.simulator import Simulator
from tests.helpers import BOSTON_MAPPING, BOSTON_SAMPLE, ROOT, TZ
from tickets import housekeeping, services
from tickets.alerts import detect
from tickets.models import Alert, SupervisionOrder, Ticket
from tickets.schema import upgrade
from tickets.units import load_bureau
from tickets.uow import unit_of_work

SAMPLE = ROOT / "examples" / "cad110_sample.csv"  # six rows of 2026-11-23
DEMO_DAY = datetime(2026, 12, 3, 0, 0, tzinfo=TZ)  # ten days later, as in the issue


def _count(platform: Any, model: Any, *where: Any) -> int:
    with platform.factory() as s:
        return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def test_the_110_sample_days_back_then_a_simulated_morning_raise_no_alert(jinan_platform: Platform) -> None:
    """The six rows of 11-23 are one day with data, not the start of nine empty days: the
    simulated feed's busy morning (hundreds of tickets per district) is no surge against them."""
    report = cad110.import_file(jinan_platform.factory, SAMPLE, tz=TZ)
    assert report.counts["accepted"] == 6
    simulator = Simulator(seed=16, rate_per_hour=600, tz=TZ)
    start, end = DEMO_DAY + timedelta(hours=6), DEMO_DAY + timedelta(hours=12)
    requests = simulator.requests_between(start, end)
    for n in range(0, len(requests), 500):
        with unit_of_work(jinan_platform.factory) as s:
            services.receive(s, requests[n:n + 500], now=end)
    # Enough for the floor: many (topic, district) series have ten or more this morning.
    with jinan_platform.factory() as s:
        busy = s.execute(select(Ticket.topic, Ticket.district, func.count()).where(Ticket.received_at >= start)
                         .group_by(Ticket.topic, Ticket.district).having(func.count() >= 10)).all()
    assert len(busy) >= 20
    for hour in (8.0, 10.0, 12.0):  # the sweep, again and again
        with unit_of_work(jinan_platform.factory) as s:
            result = detect(s, DEMO_DAY + timedelta(hours=hour), TZ)
        assert result.raised == []
        assert any("1 day(s) with data" in why for why in result.skipped), result.skipped
    assert _count(jinan_platform, Alert) == 0


def _boston(tmp_path: Path) -> Platform:
    cfg = settings_module.load(environ={}, database_url=f"sqlite:///{tmp_path / 'boston.db'}",
                               timezone="America/New_York", demo_accounts_file="none")
    upgrade(cfg.database_url)
    platform = create_platform(cfg, live=False)
    with unit_of_work(platform.factory) as s:
        load_bureau(s, ROOT / "examples" / "boston_bureau.yaml")
    return platform


def test_boston_history_raises_no_alert_and_no_order_even_as_the_bureaus_own_work(tmp_path: Path) -> None:
    """``open.supervise: true`` makes 2015's open cases the bureau's own work (not ``history``):
    still no order for a deadline eleven years gone, and no alert for a year without data now."""
    platform = _boston(tmp_path)
    try:
        mapping = Mapping.load(BOSTON_MAPPING)
        mapping.supervise = True
        now = datetime.now(timezone.utc)
        report = run_import(platform.factory, BOSTON_SAMPLE, mapping, platform.settings.tz, now=now, batch=1000)
        assert report.reconciles
        late = (Ticket.history.is_(False), Ticket.status.in_(("dispatched", "accepted", "contacted")),
                Ticket.resolve_due_at < now - timedelta(days=365))
        assert _count(platform, Ticket, *late) > 10  # what the sweep used to order, "late by 10⁵ hours"
        done = housekeeping.run_sweeps(platform.factory, now, deliver={})
        assert done["supervision"] == {"orders_issued": 0, "digests": 0}
        with unit_of_work(platform.factory) as s:
            result = detect(s, now, platform.settings.tz)
        assert result.raised == [] and _count(platform, Alert) == 0 and _count(platform, SupervisionOrder) == 0
        # The same cases, swept within the window of their deadlines, are supervised as the bureau's own.
        with platform.factory() as s:
            last_due = s.scalar(select(func.max(Ticket.resolve_due_at)).where(*late))
        done = housekeeping.run_sweeps(platform.factory, last_due + timedelta(hours=1), deliver={})
        assert done["supervision"]["orders_issued"] >= 1
    finally:
        platform.stop()
