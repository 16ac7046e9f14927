"""Deadlines on the official Chinese working calendar (DESIGN §3)."""
from __future__ import annotations

from datetime import datetime

from tests.helpers import TZ
from tickets.sla import add_working_hours, amber_instants, deadlines


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_national_day_holiday_is_skipped() -> None:
    # 1.5 working hours on 30 Sep, the holiday 1–7 Oct, then 2.25 h on 8 Oct.
    contact, resolve = deadlines("consultation", at("2026-09-30T16:00:00+08:00"), TZ)
    assert resolve == at("2026-10-08T10:45:00+08:00")
    assert contact == at("2026-09-30T17:00:00+08:00")  # contact runs on the wall clock


def test_make_up_saturday_counts_as_a_working_day() -> None:
    # Dispatched on Friday 9 Oct evening: Saturday 10 Oct 2026 is a make-up working day.
    _, resolve = deadlines("service", at("2026-10-09T20:00:00+08:00"), TZ)
    assert resolve == at("2026-10-10T17:30:00+08:00")


def test_half_day_across_lunch() -> None:
    assert add_working_hours(at("2026-11-23T11:00:00+08:00"), 3.75, TZ) == at("2026-11-23T16:15:00+08:00")


def test_night_dispatch_starts_next_morning() -> None:
    _, resolve = deadlines("consultation", at("2026-11-23T23:10:00+08:00"), TZ)
    assert resolve == at("2026-11-24T13:45:00+08:00")


def test_amber_at_three_quarters() -> None:
    contact_amber, resolve_amber = amber_instants("service", at("2026-11-23T08:30:00+08:00"), TZ)
    assert contact_amber == at("2026-11-23T09:15:00+08:00")
    assert resolve_amber == at("2026-11-23T15:37:30+08:00")  # 3.5 h + 2.125 h = 5.625 working hours
