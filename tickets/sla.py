"""Deadlines (DESIGN §3): contact on the wall clock, resolve in working time.

Working time follows the official Chinese calendar (statutory holidays and
make-up working days, from ``chinesecalendar``) and configurable working
hours. A year the calendar does not know is never silently all working days:
it falls back to Monday–Friday and records a warning that the screens show.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import chinese_calendar

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Policy:
    contact_hours: float = 1.0
    # Working hours allowed to resolve, per sla_class (one working day = 7.5 h).
    resolve_working_hours: tuple[tuple[str, float], ...] = (
        ("consultation", 3.75),
        ("enforcement", 7.5),
        ("service", 7.5),
    )
    working_periods: tuple[tuple[time, time], ...] = (
        (time(8, 30), time(12, 0)),
        (time(13, 30), time(17, 30)),
    )

    def resolve_hours(self, sla_class: str) -> float:
        return dict(self.resolve_working_hours)[sla_class]


DEFAULT_POLICY = Policy()

#: Years for which the official calendar was missing and Mon–Fri was assumed.
unknown_years: set[int] = set()


def is_working_day(day: date) -> bool:
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        if day.year not in unknown_years:
            unknown_years.add(day.year)
            log.warning("official calendar for %s is not known: assuming Monday–Friday until it is loaded", day.year)
        return day.weekday() < 5


def add_working_hours(start: datetime, hours: float, tz: Any, policy: Policy = DEFAULT_POLICY) -> datetime:
    """The instant ``hours`` of working time after ``start`` (aware), in ``tz``."""
    remaining = timedelta(hours=hours)
    local = start.astimezone(tz)
    day = local.date()
    for _ in range(366 * 2):
        if is_working_day(day):
            for begin, end in policy.working_periods:
                p_start = datetime.combine(day, begin, tz)
                p_end = datetime.combine(day, end, tz)
                if p_end <= local:
                    continue
                available = p_end - max(p_start, local)
                if remaining <= available:
                    return max(p_start, local) + remaining
                remaining -= available
        day += timedelta(days=1)
        local = datetime.combine(day, time(0, 0), tz)
    raise ValueError(f"no working time found within two years after {start.isoformat()}")


def deadlines(sla_class: str, dispatched_at: datetime, tz: Any, policy: Policy = DEFAULT_POLICY) -> tuple[datetime, datetime]:
    """(contact deadline, resolve deadline) for a ticket dispatched at ``dispatched_at``."""
    contact_due = dispatched_at + timedelta(hours=policy.contact_hours)
    resolve_due = add_working_hours(dispatched_at, policy.resolve_hours(sla_class), tz, policy)
    return contact_due, resolve_due


def amber_instants(
    sla_class: str, dispatched_at: datetime, tz: Any, policy: Policy = DEFAULT_POLICY, share: float = 0.75
) -> tuple[datetime, datetime]:
    """(contact warning, resolve warning): when ``share`` of the allowed time is used."""
    contact = dispatched_at + timedelta(hours=policy.contact_hours * share)
    resolve = add_working_hours(dispatched_at, policy.resolve_hours(sla_class) * share, tz, policy)
    return contact, resolve


@dataclass(frozen=True)
class Schedule:
    """A ticket's deadlines and their 75% warnings."""

    contact_due: datetime
    contact_warn: datetime
    resolve_due: datetime
    resolve_warn: datetime


def schedule(
    sla_class: str, dispatched_at: datetime, tz: Any, *, topic: str | None = None, channel: str | None = None,
    extra_working_hours: float = 0.0, policy: Policy | None = None,
) -> Schedule:
    """Deadlines for a ticket dispatched at ``dispatched_at``; approved extensions add working hours."""
    policy = policy or DEFAULT_POLICY
    contact_hours = policy.contact_hours
    resolve_hours = policy.resolve_hours(sla_class) + extra_working_hours
    return Schedule(
        contact_due=dispatched_at + timedelta(hours=contact_hours),
        contact_warn=dispatched_at + timedelta(hours=contact_hours * 0.75),
        resolve_due=add_working_hours(dispatched_at, resolve_hours, tz, policy),
        resolve_warn=add_working_hours(dispatched_at, resolve_hours * 0.75, tz, policy),
    )
