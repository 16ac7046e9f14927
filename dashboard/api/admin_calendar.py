"""The platform office's working calendar (issue 19): the years known, a year day by day, and
entering a year's official schedule or marking one date.

    GET  /api/v1/admin/calendar[?year=2027]          admin, supervisor: the years and one year's days
    POST /api/v1/admin/calendar/schedule             admin: {year, holidays: [{name, first, last}], workdays: [date]}
    POST /api/v1/admin/calendar/file                 admin: the file ``calendar load`` reads (multipart ``file``,
                                                     or JSON {text})
    POST /api/v1/admin/calendar/day                  admin: {day, mark: holiday | workday | default[, note]}

The schedule also takes the page's flat form: ``holiday<i>_name``, ``holiday<i>_first``,
``holiday<i>_last`` and ``workdays`` (dates separated by commas or spaces).

Each write is one command of ``tickets.workcalendar`` (role check, change, audit row, one
transaction); this process re-reads the calendar at once, the others within
``workcalendar.STAMP_CHECK_SECONDS`` (they ask the table whether it changed).
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from flask import Response, jsonify, request

from dashboard.api.base import blueprint
from dashboard.api.base import platform as _platform
from dashboard.api.errors import BadParameter
from dashboard.api.openapi import ANY_OBJECT, DATE, INT, STR, obj, operation
from dashboard.api.params import integer
from dashboard.api.steps import Body
from dashboard.api.steps import _write as idempotent_write  # the API's one write path
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


def _write(change: Callable[[UnitOfWork, Actor, Body], tuple[int, int]]) -> Response:
    """One command in one transaction, once per Idempotency-Key; then this process re-reads the calendar."""
    def run(uow: UnitOfWork, actor: Actor, body: Body) -> tuple[int, dict[str, Any]]:
        year, days = change(uow, actor, body)
        return 200, {"year": year, "days": days}

    response = idempotent_write(run)
    with _platform().factory() as session:  # this process counts on it from the next deadline on
        workcalendar.load_calendar_overrides(session)
    return response


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


@blueprint.post("/admin/calendar/schedule")
@operation("Enter a year's official schedule (replaces any earlier one of that year)", {200: DONE},
           roles={"admin"}, body={"application/json": obj({
               "year": INT, "source": STR,
               "holidays": {"type": "array", "items": obj({"name": STR, "first": STR, "last": STR},
                                                          required=["first"])},
               "workdays": {"type": "array", "items": STR}}, required=["year", "holidays"])})
@require_login({"admin"})
def admin_calendar_schedule() -> Any:
    def change(uow: UnitOfWork, actor: Actor, body: Body) -> tuple[int, int]:
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
        return calendar.year, workcalendar.enter_schedule(uow, actor, calendar)

    return _write(change)


@blueprint.post("/admin/calendar/file")
@operation("Enter a year's official schedule from the file `calendar load` reads (YAML)", {200: DONE},
           roles={"admin"}, body={"multipart/form-data": obj({"file": {"type": "string", "format": "binary"}}),
                                  "application/json": obj({"text": STR})})
@require_login({"admin"})
def admin_calendar_file() -> Any:
    upload = request.files.get("file")  # read before the write path reads the body

    def change(uow: UnitOfWork, actor: Actor, body: Body) -> tuple[int, int]:
        if upload is not None:
            raw, name = upload.read(MAX_FILE_BYTES + 1), upload.filename or "upload"
        else:
            text = body.data.get("text")
            if not isinstance(text, str):
                raise BadParameter("file", "missing_parameter")
            raw, name = text.encode("utf-8"), "upload"
        if len(raw) > MAX_FILE_BYTES:
            raise BadParameter("file", "out_of_range", min=1, max=MAX_FILE_BYTES, value=len(raw))
        try:
            calendar = workcalendar.parse_calendar_text(raw.decode("utf-8"), name)
        except UnicodeDecodeError as exc:
            raise Invalid("calendar_invalid", reason=f"{name}: not UTF-8 text") from exc
        except workcalendar.CalendarFileError as exc:
            raise Invalid("calendar_invalid", reason=str(exc)) from exc
        return calendar.year, workcalendar.enter_schedule(uow, actor, calendar)

    return _write(change)


@blueprint.post("/admin/calendar/day")
@operation("Mark one date a holiday, a working day, or what its weekday says", {200: DONE}, roles={"admin"},
           body={"application/json": obj({"day": DATE, "mark": {"type": "string", "enum": list(workcalendar.DAY_MARKS)},
                                          "note": STR}, required=["day", "mark"])})
@require_login({"admin"})
def admin_calendar_day() -> Any:
    def change(uow: UnitOfWork, actor: Actor, body: Body) -> tuple[int, int]:
        day = body.required_text("day")
        try:
            when = date.fromisoformat(day)
        except ValueError as exc:
            raise BadParameter("day", "invalid_date", value=day[:32]) from exc
        workcalendar.mark_day(uow, actor, when, body.required_text("mark"), body.text("note"))
        return when.year, 1

    return _write(change)
