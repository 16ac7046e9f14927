"""History from elsewhere, judged by its own rules and time: 436 real Los Angeles 311 requests.

The fixture (tests/fixtures/la311_sample.csv.gz, provenance in make_la_sample.py) is
imported with examples/la311.yaml: Pacific time, the scheduled service date as the
deadline, created + 8 working hours where there is none, California's working
calendar (08:00–17:00, Monday–Friday, its public holidays), no contact deadline.

The expected figures are computed here with pandas and a working-time function of
this file's own (the ``holidays`` package directly, not the platform's code), from
DESIGN's definitions: per LAPD division, received, due (closed, or deadline passed),
closed, closed on time, the completion, on-time and response rates, and the median
handling time in working hours. The figures API must give the same; importing the
same file on another day must give the same figures for its period; the open
requests, all long past their deadlines, are refused until confirmed, then imported
as breaches without a single supervision order.
"""
from __future__ import annotations

import statistics
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import holidays
import pandas as pd
import pytest
from sqlalchemy import func, select

import settings as settings_module
from dashboard import create_platform
from feeds.importer import PastDueRefused, run_import
from feeds.mapping import Mapping
from tests.helpers import EXAMPLES, FIXTURES
from tickets import accounts, housekeeping
from tickets.models import ImportRun, SupervisionOrder, Ticket
from tickets.schema import upgrade
from tickets.units import load_bureau
from tickets.uow import unit_of_work

LA = ZoneInfo("America/Los_Angeles")
SAMPLE = FIXTURES / "la311_sample.csv.gz"
MAPPING = EXAMPLES / "la311.yaml"
CLOSED = ("Closed", "Cancelled", "Referred Out")
DAY_START, DAY_END = time(8, 0), time(17, 0)
FIRST, LAST = "2020-01-01", "2020-01-03"


# ------------------------------------------------------------ California working time, written out
def working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in holidays.country_holidays("US", subdiv="CA", years=day.year)


def working_hours(start: datetime, end: datetime) -> float:
    start, end = start.astimezone(LA), end.astimezone(LA)
    total, day = 0.0, start.date()
    while day <= end.date():
        if working_day(day):
            lo = max(start, datetime.combine(day, DAY_START, LA))
            hi = min(end, datetime.combine(day, DAY_END, LA))
            total += max(0.0, (hi - lo).total_seconds())
        day += timedelta(days=1)
    return total / 3600


def plus_working_hours(start: datetime, hours: float) -> datetime:
    left, at = hours * 3600, start.astimezone(LA)
    day = at.date()
    while True:
        if working_day(day):
            lo = max(at, datetime.combine(day, DAY_START, LA))
            hi = datetime.combine(day, DAY_END, LA)
            if hi > lo:
                if (hi - lo).total_seconds() >= left:
                    return lo + timedelta(seconds=left)
                left -= (hi - lo).total_seconds()
        day += timedelta(days=1)
        at = datetime.combine(day, time(0), LA)


def read_date(value: str, end_of_day: bool = False) -> datetime | None:
    if not value:
        return None
    at = datetime.strptime(value, "%m/%d/%y %H:%M").replace(tzinfo=LA)
    if value.endswith(" 0:00") and end_of_day:  # a service date: the end of that day
        at = at.replace(hour=23, minute=59, second=59)
    return at


def expected(now: datetime) -> tuple[pd.DataFrame, int]:
    """Per unit: received, due, closed, closed on time, the rates, the median handling time."""
    df = pd.read_csv(SAMPLE, dtype=str, keep_default_na=False)
    closed = df.status.isin(CLOSED)
    refused = closed & (df.closeddate == "")
    df = df[~refused].copy()
    df["received"] = df.createddate.map(read_date)
    df["closed_at"] = df.closeddate.map(read_date)
    df["due_at"] = [read_date(s, end_of_day=True) or plus_working_hours(r, 8)
                    for s, r in zip(df.servicedate, df.received)]
    df["closed"] = df.status.isin(CLOSED)
    df["due"] = df.closed | (df.due_at <= now)
    df["on_time"] = df.closed & (df.closed_at <= df.due_at)
    df["hours"] = [working_hours(r, c) if k else None for r, c, k in zip(df.received, df.closed_at, df.closed)]
    df["unit"] = ("LA-" + df.policeprecinct.str.replace(r"[\s\-]", "", regex=True).str.upper()) \
        .where(df.policeprecinct != "", "LA-PTB")
    rows = {}
    for unit, g in df.groupby("unit"):
        hours = [h for h in g.hours if pd.notna(h)]
        rows[unit] = {"received": len(g), "due": int(g.due.sum()), "closed": int(g.closed.sum()),
                      "closed_on_time": int(g.on_time.sum()),
                      "completion_rate": g.closed.sum() / g.due.sum() if g.due.sum() else None,
                      "on_time_rate": g.on_time.sum() / g.due.sum() if g.due.sum() else None,
                      "handling_hours_median": round(statistics.median(hours), 4) if hours else None}
    return pd.DataFrame.from_dict(rows, orient="index"), int(refused.sum())


# ------------------------------------------------------------ the platform
def platform_for(path: Path) -> tuple[Any, dict[str, str]]:
    url = f"sqlite:///{path}"
    upgrade(url)
    cfg = settings_module.load(environ={}, database_url=url, timezone="America/Los_Angeles",
                               demo_accounts_file="none")
    platform = create_platform(cfg, live=False)
    with unit_of_work(platform.factory) as s:
        load_bureau(s, EXAMPLES / "la_bureau.yaml")
        admin = accounts.create_user(s, "laadmin", "王建国", "920002", "LA-PTB", "admin", "la-import-2026-12")
        token = accounts.issue_token(s, "api", admin)
    return platform, {"Authorization": f"Bearer {token}"}


def figures(platform: Any, headers: dict[str, str], now: datetime, unit: str | None,
            monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    import dashboard.api.figures as api_figures

    monkeypatch.setattr(api_figures, "utcnow", lambda: now)
    query = f"/api/v1/figures?from={FIRST}&to={LAST}" + (f"&unit={unit}" if unit else "")
    answer = platform.server.test_client().get(query, headers=headers)
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


IMPORTED_ON = datetime(2026, 12, 1, 10, 0, tzinfo=timezone.utc)


def test_la_history_is_judged_by_its_own_rules_calendar_and_time(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    platform, headers = platform_for(tmp_path / "la.db")
    tz = platform.settings.tz
    table, refused = expected(IMPORTED_ON)
    open_rows = int((~pd.read_csv(SAMPLE, dtype=str, keep_default_na=False).status.isin(CLOSED)).sum())

    # The open requests are long past their deadlines: refused as a whole, nothing written.
    with pytest.raises(PastDueRefused) as refusal:
        run_import(platform.factory, SAMPLE, MAPPING, tz, now=IMPORTED_ON)
    assert refusal.value.count == refusal.value.total_open == open_rows == 31
    assert "--yes" in str(refusal.value) and "2020-01-01" in str(refusal.value)
    with platform.factory() as s:
        assert s.scalar(select(func.count()).select_from(Ticket)) == 0
        assert s.scalar(select(func.count()).select_from(ImportRun)) == 0

    report = run_import(platform.factory, SAMPLE, MAPPING, tz, now=IMPORTED_ON, confirm_past_due=True)
    assert report.reconciles and report.counts["rejected"] == refused == 3
    assert report.counts["imported"] == int(table.received.sum()) and report.past_due == 31
    with platform.factory() as s:
        tickets = s.scalars(select(Ticket)).all()
        assert all(t.history and t.calendar == "holidays:US-CA|08:00-17:00" for t in tickets)
        assert all(t.contact_due_at is None for t in tickets)  # the source had no contact deadline
        still_open = [t for t in tickets if t.status != "closed"]
        assert len(still_open) == 31 and all(t.dispatched_at == t.received_at for t in still_open)

    # Per division, and for the city, the figures API says what pandas says.
    after = IMPORTED_ON + timedelta(hours=1)
    for unit, row in table.iterrows():
        answer = figures(platform, headers, after, str(unit), monkeypatch)
        counts = answer["counts"]
        assert (answer["received"], counts["due"], counts["closed"], counts["closed_on_time"]) == (
            row.received, row.due, row.closed, row.closed_on_time), unit
        for rate in ("completion_rate", "on_time_rate"):
            assert answer[rate] == pytest.approx(row[rate], abs=1e-12) if row[rate] is not None \
                else answer[rate] is None, (unit, rate)
        assert answer["response_rate"] is None and counts["response_due"] == 0, unit  # no phantom deadline
        want = row.handling_hours_median
        assert answer["handling_hours_median"] == (pytest.approx(want, abs=1e-3) if want is not None else None), unit
    city = figures(platform, headers, after, None, monkeypatch)
    assert city["received"] == table.received.sum() == 433
    assert city["on_time_rate"] == pytest.approx(table.closed_on_time.sum() / table.due.sum(), abs=1e-12)
    assert city["composite_score"] == pytest.approx(city["on_time_rate"])  # no response, no satisfaction rate yet

    # No supervision order for history, though 31 of its tickets are past their deadlines.
    done = housekeeping.run_sweeps(platform.factory, after)
    assert done["supervision"]["orders_issued"] == 0
    with platform.factory() as s:
        assert s.scalar(select(func.count()).select_from(SupervisionOrder)) == 0
        assert city["breaches_now"] == 31

    # The same file imported three months later: the same figures for its period.
    later, later_headers = platform_for(tmp_path / "la-later.db")
    moved = IMPORTED_ON + timedelta(days=90)
    run_import(later.factory, SAMPLE, Mapping.load(MAPPING), tz, now=moved, confirm_past_due=True)
    for unit in (None, "LA-MISSION", "LA-HOLLYWOOD", "LA-VB"):
        first = figures(platform, headers, after, unit, monkeypatch)
        again = figures(later, later_headers, moved + timedelta(hours=1), unit, monkeypatch)
        assert {k: v for k, v in first.items() if k != "unit"} == {k: v for k, v in again.items() if k != "unit"}


def test_open_past_due_records_closed_or_excluded_by_the_mapping(tmp_path: Path) -> None:
    for choice, imported, excluded in (("exclude", 402, 31), ("close", 433, 0)):
        platform, _ = platform_for(tmp_path / f"la-{choice}.db")
        mapping = Mapping.load(MAPPING)
        mapping.past_due = choice
        report = run_import(platform.factory, SAMPLE, mapping, platform.settings.tz, now=IMPORTED_ON)
        assert report.reconciles, report.text()
        assert (report.counts["imported"], report.counts["excluded"], report.past_due) == (imported, excluded, 31)
        with platform.factory() as s:
            open_now = s.scalar(select(func.count()).select_from(Ticket).where(Ticket.status != "closed"))
            assert open_now == 0
            if choice == "close":
                late = s.scalars(select(Ticket).where(Ticket.closed_at == IMPORTED_ON)).all()
                assert len(late) == 31 and all(t.closed_at > t.resolve_due_at for t in late)
