"""The calendar section of /admin: the years known, the year asked for (``?year=``, else this
one), the unknown-year warning as an admin is told it (from November on for next year), the
working hours. (The upload of the file ``calendar load`` reads is posted to the API by
assets/admin_calendar.js.)"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from callbacks.screen import ScreenContext
from dashboard.read_models import admin_calendar as read
from tickets import workcalendar


def page_data(ctx: ScreenContext, lang: str, query: Mapping[str, str]) -> dict[str, Any]:
    today = datetime.now(ctx.settings.tz).date()
    raw = query.get("year") or ""
    year = int(raw) if raw.isdigit() and 1950 <= int(raw) <= 2199 else today.year
    actor = ctx.actor()
    with ctx.session() as session:
        years = read.years(session, today)
        grid = read.month_grid(session, year)
    workcalendar.probe_ahead(today)  # next year is asked about from November on, so its warning is current
    warnings = workcalendar.calendar_warnings(today) if actor is not None and actor.role == "admin" else []
    return {"years": years, "year": grid, "warnings": warnings, "working_hours": read.working_hours()}


def summary(ctx: ScreenContext) -> dict[str, Any]:
    today = datetime.now(ctx.settings.tz).date()
    with ctx.session() as session:
        years = read.years(session, today)
    return {"known": sum(1 for y in years if y["origin"] != "unknown"),
            "unknown": sum(1 for y in years if y["origin"] == "unknown")}
