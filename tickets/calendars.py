"""Working calendars: which days are working days, and which hours of them, for a source.

The bureau's own tickets count working time on the official Chinese calendar
(``tickets.workcalendar``: statutory holidays and the make-up working days, 调休)
and the SLA policy's working hours. History imported from elsewhere, or a feed
from another country, counts it on its own calendar, so a US city's request
received on 1 May is not held up by China's Labour Day holiday:

- ``official`` — the official Chinese calendar (the default);
- ``weekdays`` — plain Monday to Friday;
- ``holidays:CC`` or ``holidays:CC-SUB`` — Monday to Friday without the public
  holidays of a country (as the package lists them), or of one of its
  subdivisions, from the maintained ``holidays`` package (``holidays:US-MA``:
  Massachusetts, Patriots' Day included).

Each may carry its own working hours (``|08:00-17:00`` or
``|08:30-12:00,13:30-17:30``); without them the SLA policy's hours apply. A
ticket keeps its calendar's key (``Ticket.calendar``; NULL: the bureau's), so
its figures (handling time in working hours) are counted on the calendar its
deadlines were.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, time
from functools import lru_cache
from typing import Any

from tickets.workcalendar import is_working_day as official_working_day

KINDS = ("official", "weekdays", "holidays")
_KEY = re.compile(r"^(official|weekdays|holidays:([A-Z]{2})(?:-([A-Z0-9]{1,4}))?)(?:\|(.+))?$")
_SPAN = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")


class CalendarError(ValueError):
    """A calendar that cannot be: an unknown country or subdivision, hours that are not hours."""


@dataclass(frozen=True)
class Calendar:
    """Working days and (optionally) working hours; see the module's doc."""

    days: str = "official"  # official | weekdays | holidays
    country: str | None = None
    subdivision: str | None = None
    hours: tuple[tuple[time, time], ...] | None = None  # None: the SLA policy's working hours

    @property
    def key(self) -> str:
        """What a ticket keeps: ``official``, ``weekdays|08:00-17:00``, ``holidays:US-MA|08:00-17:00`` …"""
        base = self.days if self.days != "holidays" else \
            f"holidays:{self.country}{'-' + self.subdivision if self.subdivision else ''}"
        if not self.hours:
            return base
        return base + "|" + ",".join(f"{a:%H:%M}-{b:%H:%M}" for a, b in self.hours)

    @property
    def is_official(self) -> bool:
        """The bureau's own: the official calendar and the policy's hours (tickets keep NULL)."""
        return self.days == "official" and not self.hours

    def is_working_day(self, day: date) -> bool:
        if self.days == "official":
            return official_working_day(day)
        if day.weekday() >= 5:
            return False
        return self.days == "weekdays" or day not in _holidays(self.country or "", self.subdivision, day.year)


OFFICIAL = Calendar()


def _holidays(country: str, subdivision: str | None, year: int) -> Any:
    return _holidays_cached(country, subdivision, year)


@lru_cache(maxsize=256)
def _holidays_cached(country: str, subdivision: str | None, year: int) -> Any:
    import holidays

    return holidays.country_holidays(country, subdiv=subdivision, years=year)


def parse_hours(text: str, where: str = "hours") -> tuple[tuple[time, time], ...]:
    """``08:30-12:00,13:30-17:30`` → periods, in order, each ending after it starts, not overlapping."""
    out: list[tuple[time, time]] = []
    for part in str(text).split(","):
        found = _SPAN.match(part.strip())
        if not found:
            raise CalendarError(f"{where}: {part.strip()!r} is not HH:MM-HH:MM")
        h1, m1, h2, m2 = (int(g) for g in found.groups())
        if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2):
            raise CalendarError(f"{where}: {part.strip()!r} is not a time of day")
        start, end = time(h1, m1), time(23, 59, 59) if h2 == 24 else time(h2, m2)
        if end <= start or (out and start < out[-1][1]):
            raise CalendarError(f"{where}: {part.strip()!r} must end after it starts and after the one before")
        out.append((start, end))
    return tuple(out)


def make(days: str = "official", country: str | None = None, subdivision: str | None = None,
         hours: str | None = None) -> Calendar:
    """A calendar, checked: the country (and subdivision) must be known to the ``holidays`` package."""
    if days not in KINDS:
        raise CalendarError(f"calendar: one of {', '.join(KINDS)}, not {days!r}")
    if days == "holidays":
        import holidays

        country = (country or "").strip().upper()
        subdivision = (subdivision or "").strip().upper() or None
        supported = holidays.list_supported_countries()
        if country not in supported:
            raise CalendarError(f"calendar.country: {country!r} is not a country the holidays package knows "
                                "(ISO 3166 alpha-2, e.g. US, GB, DE)")
        if subdivision is not None and subdivision not in supported[country]:
            raise CalendarError(f"calendar.subdivision: {subdivision!r} is not one of {country}'s "
                                f"({', '.join(supported[country][:12])}…)")
    elif country or subdivision:
        raise CalendarError("calendar.country and .subdivision belong to days: holidays")
    return Calendar(days, country or None, subdivision, parse_hours(hours, "calendar.hours") if hours else None)


@lru_cache(maxsize=64)
def from_key(key: str | None) -> Calendar:
    """The calendar a ticket keeps (:attr:`Calendar.key`); None or empty: the bureau's."""
    if not key:
        return OFFICIAL
    found = _KEY.match(key)
    if not found:
        raise CalendarError(f"not a calendar key: {key!r}")
    head, country, subdivision, hours = found.groups()
    days = "holidays" if head.startswith("holidays:") else head
    return make(days, country, subdivision, hours)
