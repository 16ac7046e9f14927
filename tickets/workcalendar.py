"""The official working calendar: which days are working days.

``is_working_day`` answers, in this order:

1. a year an admin loaded into the ``calendar_days`` table
   (``python app.py calendar load FILE``) is authoritative for every one of
   its days: a listed day is what its row says (holiday or make-up working
   day, 调休), an unlisted day is a working day from Monday to Friday;
2. otherwise ``chinesecalendar`` (statutory holidays and make-up days);
3. otherwise (a year neither knows, e.g. 2027 with chinesecalendar 1.11)
   Monday–Friday, and the year goes into a warning registry
   (:func:`calendar_warnings`, a code and the year) that the duty console
   shows admins, the wall once the year has started, and ``/api/v1/health``.
   Never a crash, and never every day counted as a working day.

The table is read into an in-process map by :func:`load_calendar_overrides`;
``sla.refresh_if_stale`` re-reads it every few minutes, so a process sees a
year loaded by the command line without a restart.
"""
from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import chinese_calendar
import yaml
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from tickets import audit
from tickets.errors import Invalid
from tickets.models import CalendarDay, utcnow
from tickets.administration import require_admin
from tickets.roles import Actor

log = logging.getLogger(__name__)

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

#: Years for which neither a loaded schedule nor chinesecalendar was available
#: and Monday–Friday was assumed (this process only).
unknown_years: set[int] = set()
_warn_lock = threading.Lock()


@dataclass(frozen=True)
class _Overrides:
    years: frozenset[int] = frozenset()
    days: dict[date, bool] = field(default_factory=dict)


# Replaced as a whole (one assignment), so readers never see half a reload.
_overrides = _Overrides()
_loaded_monotonic: float | None = None


class CalendarFileError(ValueError):
    """A calendar file that cannot be loaded; the message names the file and the entry."""


# ------------------------------------------------------------------ lookups
def package_knows(year: int) -> bool:
    """Whether the installed ``chinesecalendar`` has ``year``'s schedule."""
    try:
        chinese_calendar.is_workday(date(year, 6, 1))
    except NotImplementedError:
        return False
    return True


def is_working_day(day: date) -> bool:
    overrides = _overrides
    if day.year in overrides.years:
        listed = overrides.days.get(day)
        return listed if listed is not None else day.weekday() < 5
    known = _package_working_day(day)
    if known is None:
        _assume_monday_to_friday(day.year)
        return day.weekday() < 5
    return known


@lru_cache(maxsize=8192)
def _package_working_day(day: date) -> bool | None:
    """``chinesecalendar``'s answer for ``day`` (None: a year it does not know). Its tables do not
    change while a process runs, and each of its answers validates the date against them (a min and
    a max over every holiday it knows): the weekly bulletin asks ~100,000 times (handling hours)."""
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return None


def _assume_monday_to_friday(year: int) -> None:
    if year in unknown_years:
        return
    with _warn_lock:
        if year in unknown_years:
            return
        unknown_years.add(year)
    log.warning("%s: official calendar not loaded; assuming Monday–Friday until an admin loads it "
                "(python app.py calendar load FILE)", year)


#: The warning's code; screens and /api/v1/health say it in their language.
CALENDAR_YEAR_UNKNOWN = "calendar_year_unknown"


def calendar_warnings(today: date | None = None) -> list[dict[str, Any]]:
    """One warning per year that was assumed Monday–Friday and is still not loaded:
    ``{"code": "calendar_year_unknown", "year": 2027}``. Given ``today`` (the bureau's date),
    each also says whether its year has ``started``: before then only an admin can act on it
    (the duty console tells them how); from then on deadlines are being counted on the
    assumption, which the wall says too."""
    loaded = _overrides.years
    return [{"code": CALENDAR_YEAR_UNKNOWN, "year": year, **({} if today is None else {"started": year <= today.year})}
            for year in sorted(unknown_years) if year not in loaded and (today is None or warn_now(year, today))]


#: The State Council publishes next year's schedule in November (or late October): from then on
#: an unknown next year is worth an admin's action, before then it is nobody's concern.
WARN_FROM_MONTH = 11


def warn_now(year: int, today: date) -> bool:
    """Whether an unknown ``year`` is worth a warning on ``today``."""
    return year <= today.year or (year == today.year + 1 and today.month >= WARN_FROM_MONTH)


def probe_ahead(today: date, days: int = 31) -> None:
    """Consult the calendar for ``today`` and ``days`` later, so a missing year
    is warned about before deadlines reach it (e.g. from 1 December)."""
    for day in (today, today + timedelta(days=days)):
        is_working_day(day)
    if today.month >= WARN_FROM_MONTH:  # next year's schedule is due: is it known?
        is_working_day(date(today.year + 1, 1, 1))


# ---------------------------------------------------------- the overrides map
def load_calendar_overrides(session: Session) -> list[int]:
    """Read every ``calendar_days`` row into this process; returns the years loaded."""
    global _overrides, _loaded_monotonic, _stamp, _checked_monotonic
    rows = session.execute(select(CalendarDay.day, CalendarDay.is_workday, CalendarDay.loaded_at)).all()
    days = {day: bool(working) for day, working, _at in rows}
    _overrides = _Overrides(years=frozenset(d.year for d in days), days=days)
    _stamp = (len(rows), max((at for _d, _w, at in rows), default=None))
    _loaded_monotonic = _checked_monotonic = time.monotonic()
    return sorted(_overrides.years)


#: How often a process asks the table whether it changed since it read it (one small query):
#: a schedule entered on the calendar page counts in every process within these seconds.
STAMP_CHECK_SECONDS = 5.0
_stamp: tuple[int, datetime | None] | None = None
_checked_monotonic: float | None = None


def _table_stamp(session: Session) -> tuple[int, datetime | None]:
    """Rows and the newest ``loaded_at``: every change (store, mark, unmark) changes one of them."""
    count, newest = session.execute(select(func.count(), func.max(CalendarDay.loaded_at))).one()
    return int(count or 0), newest


def table_changed(session: Session) -> bool:
    """Whether the table changed since this process read it (asked at most every
    ``STAMP_CHECK_SECONDS``; False in between)."""
    global _checked_monotonic
    if _checked_monotonic is not None and time.monotonic() - _checked_monotonic < STAMP_CHECK_SECONDS:
        return False
    _checked_monotonic = time.monotonic()
    return _table_stamp(session) != _stamp


def overrides_age_seconds() -> float | None:
    """Seconds since the table was last read in this process (None: never)."""
    return None if _loaded_monotonic is None else time.monotonic() - _loaded_monotonic


def clear_calendar_overrides() -> None:
    """Forget the loaded years and the warnings (tests; a fresh start)."""
    global _overrides, _loaded_monotonic, _stamp, _checked_monotonic
    _overrides = _Overrides()
    _loaded_monotonic = _checked_monotonic = None
    _stamp = None
    with _warn_lock:
        unknown_years.clear()


# -------------------------------------------------------------- year files
@dataclass(frozen=True)
class CalendarYear:
    """One year's official schedule: holidays and make-up working days (调休)."""

    year: int
    holidays: dict[date, str | None]
    workdays: dict[date, str | None]
    source: str | None = None
    placeholder: bool = False


_FILE_KEYS = {"year", "holidays", "workdays", "source", "placeholder"}
_RANGE = re.compile(r"^\s*(\d{4}-\d{2}-\d{2})\s*\.\.\s*(\d{4}-\d{2}-\d{2})\s*$")


def _one_date(value: Any, where: str) -> date:
    if isinstance(value, datetime):
        raise CalendarFileError(f"{where}: {value!r} is a timestamp; write a date (YYYY-MM-DD)")
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise CalendarFileError(f"{where}: {value!r} is not a date (YYYY-MM-DD) or a range (YYYY-MM-DD..YYYY-MM-DD)")


def _expand(value: Any, where: str) -> list[date]:
    if isinstance(value, str) and ".." in value:
        match = _RANGE.match(value)
        if not match:
            raise CalendarFileError(f"{where}: {value!r} is not a range YYYY-MM-DD..YYYY-MM-DD")
        first, last = (_one_date(part, where) for part in match.groups())
        if last < first:
            raise CalendarFileError(f"{where}: range {value!r} ends before it starts")
        return [first + timedelta(days=i) for i in range((last - first).days + 1)]
    return [_one_date(value, where)]


def _entries(data: dict[str, Any], key: str, source: str, year: int) -> dict[date, str | None]:
    raw = data.get(key) or []
    if not isinstance(raw, list):
        raise CalendarFileError(f"{source}: {key}: must be a list of dates or ranges")
    days: dict[date, str | None] = {}
    for i, entry in enumerate(raw):
        where = f"{source}: {key}[{i}]"
        name: str | None = None
        if isinstance(entry, dict):
            unknown = set(entry) - {"days", "name"}
            if unknown or "days" not in entry:
                raise CalendarFileError(f"{where}: an entry with a name is {{days: DATE-or-RANGE, name: TEXT}}"
                                        f"{'; unknown keys ' + str(sorted(unknown)) if unknown else ''}")
            name = None if entry.get("name") is None else str(entry["name"])
            entry = entry["days"]
        for day in _expand(entry, where):
            if day.year != year:
                raise CalendarFileError(f"{where}: {day.isoformat()} is not in {year}")
            days[day] = name
    return days


def parse_calendar(data: Any, source: str) -> CalendarYear:
    """Validate one year's schedule (``source`` names the file in every error)."""
    if not isinstance(data, dict):
        raise CalendarFileError(f"{source}: expected a mapping with year, holidays, workdays")
    unknown = set(data) - _FILE_KEYS
    if unknown:
        raise CalendarFileError(f"{source}: unknown keys {sorted(unknown)}; known: {sorted(_FILE_KEYS)}")
    year = data.get("year")
    if not isinstance(year, int) or isinstance(year, bool) or not 1949 < year < 2200:
        raise CalendarFileError(f"{source}: year: {year!r} is not a year")
    holidays = _entries(data, "holidays", source, year)
    workdays = _entries(data, "workdays", source, year)
    if not holidays:
        raise CalendarFileError(f"{source}: holidays: no holidays for {year}; a year without statutory "
                                "holidays is surely a mistake")
    both = sorted(set(holidays) & set(workdays))
    if both:
        raise CalendarFileError(f"{source}: {', '.join(d.isoformat() for d in both)} listed both as a holiday "
                                "and as a make-up working day")
    for day in sorted(workdays):
        if day.weekday() < 5:
            raise CalendarFileError(
                f"{source}: workdays: {day.isoformat()} is a {WEEKDAYS[day.weekday()]}, already a working day; "
                "make-up working days (调休) are Saturdays or Sundays")
    placeholder = data.get("placeholder", False)
    if not isinstance(placeholder, bool):
        raise CalendarFileError(f"{source}: placeholder: must be true or false")
    note = data.get("source")
    return CalendarYear(year=year, holidays=holidays, workdays=workdays,
                        source=None if note is None else str(note), placeholder=placeholder)


class _DatesAsText(yaml.SafeLoader):
    """Leaves dates as text, so a bad one (2027-13-01) is reported with its entry."""


_DatesAsText.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def read_calendar_file(path: str | Path) -> CalendarYear:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CalendarFileError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    return parse_calendar_text(text, str(path))


def parse_calendar_text(text: str, source: str) -> CalendarYear:
    """A calendar file's text (as ``calendar load`` reads it, or as uploaded on the calendar page)."""
    try:
        data = yaml.load(text, Loader=_DatesAsText)  # noqa: S506 (a SafeLoader)
    except yaml.YAMLError as exc:
        raise CalendarFileError(f"{source}: not valid YAML: {exc}") from exc
    return parse_calendar(data, source)


def store_calendar_year(session: Session, calendar: CalendarYear, *, by: str = "system") -> int:
    """Replace ``calendar.year``'s rows in the table (idempotent); returns the rows written.
    ``by``: who loads it (the audit log's actor)."""
    year = calendar.year
    session.execute(delete(CalendarDay).where(CalendarDay.day >= date(year, 1, 1), CalendarDay.day <= date(year, 12, 31)))
    for days, working in ((calendar.holidays, False), (calendar.workdays, True)):
        for day, name in sorted(days.items()):
            note = name or calendar.source
            session.add(CalendarDay(day=day, is_workday=working, note=note[:64] if note else None))
    session.flush()
    audit.record(session, by, "calendar_load", target=str(year),
                 details={"holidays": len(calendar.holidays), "workdays": len(calendar.workdays),
                          "source": calendar.source})
    return len(calendar.holidays) + len(calendar.workdays)


# ------------------------------------------------- the platform office's commands (issue 19)
_admin = require_admin  # (actor, step): 403 unless an admin or the platform itself


def enter_schedule(session: Session, actor: Actor, calendar: CalendarYear) -> int:
    """An admin enters a year's official schedule (the calendar page's form or file): as
    ``calendar load``, replacing any earlier one of that year; audited."""
    _admin(actor, "calendar_load")
    if calendar.placeholder:
        raise Invalid("calendar_placeholder", year=calendar.year)
    return store_calendar_year(session, calendar, by=actor.name)


DAY_MARKS = ("holiday", "workday", "default")


def mark_day(session: Session, actor: Actor, day: date, mark: str, note: str | None = None) -> None:
    """One date made a holiday, a working day, or what its weekday says (``default``), in a year
    the platform knows. A year only the package knew is copied into the table first, since a
    loaded year is authoritative for all its days (the rest must stay as they were)."""
    _admin(actor, "calendar_day")
    if mark not in DAY_MARKS:
        raise Invalid("not_one_of", field="mark", allowed=", ".join(DAY_MARKS), value=mark)
    view = year_view(session, day.year)
    if view.origin == "unknown":
        raise Invalid("calendar_year_not_loaded", year=day.year)
    if view.origin == "chinesecalendar":
        store_calendar_year(session, CalendarYear(day.year, view.holidays, view.workdays, source="chinesecalendar"),
                            by=actor.name)
    row = session.get(CalendarDay, day)
    before = "default" if row is None else ("workday" if row.is_workday else "holiday")
    if mark == "default" or (mark == "workday") == (day.weekday() < 5):
        if row is not None:
            session.delete(row)
    elif row is None:
        session.add(CalendarDay(day=day, is_workday=mark == "workday", note=(note or "")[:64] or None))
    else:
        row.is_workday, row.note, row.loaded_at = mark == "workday", (note or "")[:64] or row.note, utcnow()
    session.flush()
    audit.record(session, actor.name, "calendar_day", target=day.isoformat(), details={"from": before, "to": mark})


@dataclass(frozen=True)
class YearView:
    """What the platform believes about a year, for ``calendar show``."""

    year: int
    origin: str  # "loaded" | "chinesecalendar" | "unknown"
    holidays: dict[date, str | None]
    workdays: dict[date, str | None]
    loaded_at: datetime | None = None


def year_view(session: Session | None, year: int) -> YearView:
    """The year's holidays and make-up days: from the table if loaded there, else the package."""
    if session is not None:
        rows = list(session.scalars(select(CalendarDay).where(
            CalendarDay.day >= date(year, 1, 1), CalendarDay.day <= date(year, 12, 31)).order_by(CalendarDay.day)))
        if rows:
            return YearView(year, "loaded",
                            {r.day: r.note for r in rows if not r.is_workday},
                            {r.day: r.note for r in rows if r.is_workday},
                            max(r.loaded_at for r in rows))
    if package_knows(year):
        holidays: dict[date, str | None] = {d: str(n) for d, n in chinese_calendar.holidays.items() if d.year == year}
        workdays: dict[date, str | None] = {d: str(n) for d, n in chinese_calendar.workdays.items()
                                            if d.year == year and d.weekday() >= 5}
        return YearView(year, "chinesecalendar", holidays, workdays)
    return YearView(year, "unknown", {}, {})


def runs(days: dict[date, str | None]) -> list[tuple[date, date, str | None]]:
    """Consecutive days with the same note, as (first, last, note)."""
    out: list[tuple[date, date, str | None]] = []
    for day in sorted(days):
        if out and out[-1][1] + timedelta(days=1) == day and out[-1][2] == days[day]:
            out[-1] = (out[-1][0], day, out[-1][2])
        else:
            out.append((day, day, days[day]))
    return out
