"""The working calendar as the platform office sees it: the years known, and one year day by day."""
from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import chinese_calendar
from sqlalchemy import extract, select
from sqlalchemy.orm import Session

from tickets import sla, workcalendar
from tickets.models import CalendarDay

# How far around today the page lists years (the package's years reach back to 2004).
YEARS_BACK, YEARS_AHEAD = 1, 2


def years(session: Session, today: date) -> list[dict[str, Any]]:
    """Last year to two years ahead, and any other loaded year: where each year's schedule
    comes from (``loaded`` by an admin, the ``chinesecalendar`` package, or ``unknown``)."""
    loaded = {int(y) for y in session.scalars(select(extract("year", CalendarDay.day)).distinct())}
    wanted = sorted(loaded | set(range(today.year - YEARS_BACK, today.year + YEARS_AHEAD + 1)))
    out = []
    for year in wanted:
        origin = "loaded" if year in loaded else "chinesecalendar" if workcalendar.package_knows(year) else "unknown"
        out.append({"year": year, "origin": origin, "package": workcalendar.package_knows(year)})
    return out


# chinesecalendar names its holidays in English; the notice (and the page) in Chinese.
# (It shortens three: the notice says 清明节, 端午节, 中秋节.)
FESTIVAL_NAMES = {str(h.value): {"清明": "清明节", "端午": "端午节", "中秋": "中秋节"}.get(str(h.chinese), str(h.chinese))
                  for h in chinese_calendar.Holiday}


def month_grid(session: Session, year: int) -> dict[str, Any]:
    """The year's days, each with its status: ``workday``, ``weekend``, ``holiday`` (a listed
    holiday on a weekday or weekend) or ``makeup`` (a make-up working day, 调休), and its note."""
    view = workcalendar.year_view(session, year)
    if view.origin == "chinesecalendar":
        view = replace(view, holidays={d: FESTIVAL_NAMES.get(n or "", n) for d, n in view.holidays.items()},
                       workdays={d: FESTIVAL_NAMES.get(n or "", n) for d, n in view.workdays.items()})
    days: list[dict[str, Any]] = []
    day = date(year, 1, 1)
    while day.year == year:
        if day in view.holidays:
            status, note = "holiday", view.holidays[day]
        elif day in view.workdays:
            status, note = ("makeup" if day.weekday() >= 5 else "workday"), view.workdays[day]
        else:
            status, note = ("weekend" if day.weekday() >= 5 else "workday"), None
        days.append({"date": day.isoformat(), "status": status, "note": note})
        day += timedelta(days=1)
    return {"year": year, "origin": view.origin, "loaded_at": view.loaded_at.isoformat() if view.loaded_at else None,
            "days": days, "holidays": [{"first": a.isoformat(), "last": b.isoformat(), "name": n}
                                       for a, b, n in workcalendar.runs(view.holidays)],
            "workdays": [d.isoformat() for d in sorted(view.workdays)]}


def working_hours() -> dict[str, Any]:
    """The working periods of a day and the policy file they come from (the SLA policy: shown, not edited here)."""
    policy = sla.policy_for()
    return {"periods": [[a.strftime("%H:%M"), b.strftime("%H:%M")] for a, b in policy.working_periods],
            "hours": policy.working_day_hours, "file": sla.policy_path().name}
