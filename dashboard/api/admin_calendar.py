"""The platform office's working calendar (issue 19): the years known, a year day by day, and
entering a year's official schedule or marking one date.

    GET  /api/v1/admin/calendar[?year=2027]          admin, supervisor: the years and one year's days
    POST /api/v1/admin/calendar/schedule             admin: {year, holidays: [{name, first, last}], workdays: [date]}
    POST /api/v1/admin/calendar/file                 admin: {text}: the file ``calendar load`` reads
    POST /api/v1/admin/calendar/day                  admin: {day, mark: holiday | workday | default[, note]}

The schedule also takes the page's flat form: ``holiday<i>_name``, ``holiday<i>_first``,
``holiday<i>_last`` and ``workdays`` (dates separated by commas or spaces).

Each write is one command of ``tickets.workcalendar`` (role check, change, audit row, one
transaction); this process re-reads the calendar at once, the others within
``workcalendar.STAMP_CHECK_SECONDS`` (they ask the table whether it changed).
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from flask import jsonify

from dashboard.api.admin import admin_post, after_commit
from dashboard.api.base import blueprint
from dashboard.api.base import platform as _platform
from dashboard.api.errors import BadParameter
from dashboard.api.openapi import ANY_OBJECT, DATE, INT, STR, obj, operation
from dashboard.api.params import integer
from dashboard.api.steps import Body
from dashboard.auth import require_login
from dashboard.read_models import admin_calendar as read
from tickets import workcalendar
from tickets.errors import Invalid
from tickets.roles import Actor
from tickets.uow import UnitOfWork

READERS = {"admin", "supervisor"}
MAX_FILE_BYTES = 64 * 1024  # a year's schedule is a page of text
MAX_ENTRIES = 100
DONE = obj({"year": INT, "days": INT})


def _today() -> date:
    return datetime.now(_platform().settings.tz).date()


@blueprint.get("/admin/calendar")
@operation("The years the platform knows, and one year's days with their status",
           {200: obj({"years": {"type": "array", "items": ANY_OBJECT}, "year": ANY_OBJECT,
                      "warnings": {"type": "array", "items": ANY_OBJECT}, "working_hours": ANY_OBJECT})},
           roles=READERS)
@require_login(READERS)
def admin_calendar() -> Any:
    today = _today()
    year = integer("year", today.year, 1950, 2199)
    with _platform().factory() as session:
        return jsonify(years=read.years(session, today), year=read.month_grid(session, year),
                       warnings=workcalendar.calendar_warnings(today), working_hours=read.working_hours())


def _entered(uow: UnitOfWork, year: int, days: int) -> dict[str, Any]:
    """The answer; once the change commits, this process re-reads the calendar (it counts on it
    from the next deadline on)."""
    factory = _platform().factory

    def reload() -> None:
        with factory() as session:
            workcalendar.load_calendar_overrides(session)

    after_commit(uow, reload)
    return {"year": year, "days": days}


def _schedule(data: Any, source: str) -> workcalendar.CalendarYear:
    try:
        return workcalendar.parse_calendar(data, source)
    except workcalendar.CalendarFileError as exc:
        raise Invalid("calendar_invalid", reason=str(exc)) from exc


#: Rows of the page's schedule form (the State Council's notice lists seven holidays).
FORM_ROWS = 7


def _form_holidays(body: Body) -> list[dict[str, Any]]:
    rows = [{"name": body.data.get(f"holiday{i}_name"), "first": body.data.get(f"holiday{i}_first"),
             "last": body.data.get(f"holiday{i}_last")} for i in range(FORM_ROWS)]
    return [r for r in rows if r["first"]]


def _workdays(body: Body) -> list[Any]:
    value = body.data.get("workdays")
    if isinstance(value, str):  # the form's one field
        return [part for part in value.replace("，", ",").replace(",", " ").split() if part]
    return _dates(body, "workdays")


def _dates(body: Body, name: str) -> list[Any]:
    value = body.data.get(name) or []
    if not isinstance(value, list) or len(value) > MAX_ENTRIES:
        raise BadParameter(name, "out_of_range", min=0, max=MAX_ENTRIES, value=len(value) if isinstance(value, list) else -1)
    return value


@admin_post("calendar/schedule", "Enter a year's official schedule (replaces any earlier one of that year)", {
    "year": INT, "source": STR,
    "holidays": {"type": "array", "items": obj({"name": STR, "first": STR, "last": STR}, required=["first"])},
    "workdays": {"oneOf": [{"type": "array", "items": STR}, STR]},  # the form's: dates in one text
    **{f"holiday{i}_{part}": STR for i in range(FORM_ROWS) for part in ("name", "first", "last")}},
    ("year",), answer=DONE)
def calendar_schedule(uow: UnitOfWork, actor: Actor, body: Body) -> dict[str, Any]:
    holidays = []
    for i, entry in enumerate(_dates(body, "holidays") or _form_holidays(body)):
        if not isinstance(entry, dict) or not isinstance(entry.get("first"), str):
            raise BadParameter(f"holidays[{i}]", "missing_parameter")
        first = entry["first"]
        last = entry.get("last") if isinstance(entry.get("last"), str) and entry.get("last") else first
        name = entry.get("name") if isinstance(entry.get("name"), str) and entry.get("name") else None
        holidays.append({"days": first if last == first else f"{first}..{last}", "name": name})
    year = body.data.get("year")
    calendar = _schedule({"year": int(year) if isinstance(year, str) and year.isdigit() else year,
                          "holidays": holidays, "workdays": _workdays(body),
                          "source": body.text("source") or "State Council notice"}, "form")
    return _entered(uow, calendar.year, workcalendar.enter_schedule(uow, actor, calendar))


@admin_post("calendar/file", "Enter a year's official schedule from the file `calendar load` reads (YAML)",
            {"text": STR}, ("text",), answer=DONE)
def calendar_file(uow: UnitOfWork, actor: Actor, body: Body) -> dict[str, Any]:
    # The page reads the chosen file and posts its text (assets/admin_calendar.js).
    text = body.file_text("text", MAX_FILE_BYTES, field="file")
    try:
        calendar = workcalendar.parse_calendar_text(text, "upload")
    except workcalendar.CalendarFileError as exc:
        raise Invalid("calendar_invalid", reason=str(exc)) from exc
    return _entered(uow, calendar.year, workcalendar.enter_schedule(uow, actor, calendar))


@admin_post("calendar/day", "Mark one date a holiday, a working day, or what its weekday says",
            {"day": DATE, "mark": {"type": "string", "enum": list(workcalendar.DAY_MARKS)}, "note": STR},
            ("day", "mark"), answer=DONE)
def calendar_day(uow: UnitOfWork, actor: Actor, body: Body) -> dict[str, Any]:
    day = body.required_text("day")
    try:
        when = date.fromisoformat(day)
    except ValueError as exc:
        raise BadParameter("day", "invalid_date", value=day[:32]) from exc
    workcalendar.mark_day(uow, actor, when, body.required_text("mark"), body.text("note"))
    return _entered(uow, when.year, 1)
