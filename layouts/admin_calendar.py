"""工作日历 (/admin/calendar): the years the platform knows and where each year's schedule comes
from; one year as twelve month grids, each day a working day, a weekend, a holiday or a make-up
working day (调休); the forms that enter the State Council's schedule for a year (its holidays
with their date ranges, its make-up working days) or upload the file ``calendar load`` reads, and
mark any one date; and the working hours of a day, which the deadline rules set (shown here).
Supervisors read it without the forms."""
from __future__ import annotations

import calendar as monthly
from collections.abc import Mapping, Sequence
from typing import Any

from dash import dcc, html

from layouts import admin_forms as shell
from layouts.i18n import ADMIN_WARNINGS, N_, gettext, warning_text

API = "/api/v1/admin/calendar"
TEXT = {
    "years": N_("Years"), "year": N_("Year"), "origin": N_("Schedule"), "show": N_("Show"),
    "loaded": N_("Entered by the platform office"), "chinesecalendar": N_("From the chinesecalendar package"),
    "unknown": N_("Not known: Monday to Friday assumed"),
    "grid": N_("%(year)s day by day"), "loaded_at": N_("entered %(at)s UTC"),
    "workday": N_("Working day"), "weekend": N_("Weekend"), "holiday": N_("Holiday"), "makeup": N_("Make-up working day"),
    "holidays": N_("Holidays"), "workdays": N_("Make-up working days"), "none": N_("None"),
    "schedule": N_("Enter the official schedule for a year"),
    "schedule_hint": N_("As the State Council's notice lists it: each holiday with its first and last day, then the "
                        "make-up working days (Saturdays or Sundays). It replaces any schedule of that year, and "
                        "deadlines in that year count on it at once."),
    "name": N_("Holiday"), "first": N_("First day"), "last": N_("Last day"),
    "workdays_field": N_("Make-up working days, separated by commas"), "source": N_("Notice"),
    "enter": N_("Enter the schedule"), "enter_confirm": N_("Replace this year's schedule with the one entered?"),
    "file": N_("Or upload the file `calendar load` reads (YAML)"), "upload": N_("Upload"),
    "mark": N_("Mark one date"), "day": N_("Date"), "as": N_("As"), "note": N_("Note"), "save": N_("Save"),
    "mark_holiday": N_("a holiday"), "mark_workday": N_("a working day"), "mark_default": N_("what its weekday says"),
    "hours": N_("Working hours"),
    "hours_text": N_("%(periods)s, %(hours)s working hours a day, Monday to Friday and on make-up working days"),
    "hours_where": N_("Set in the deadline rules (the SLA policy file %(file)s), which judge every deadline; "
                      "they are changed there, not here."),
    "summary": N_("%(known)s years known, %(unknown)s unknown"),
}
# The holidays of the State Council's notice, in its order: the form's rows.
FESTIVALS = ("元旦", "春节", "清明节", "劳动节", "端午节", "中秋节", "国庆节")
WEEKDAYS = (N_("Mon"), N_("Tue"), N_("Wed"), N_("Thu"), N_("Fri"), N_("Sat"), N_("Sun"))
MONTHS = (N_("January"), N_("February"), N_("March"), N_("April"), N_("May"), N_("June"), N_("July"),
          N_("August"), N_("September"), N_("October"), N_("November"), N_("December"))
DATE = r"\d{4}-\d{2}-\d{2}"


def summary(lang: str, known: int = 0, unknown: int = 0, **_: Any) -> str:
    return gettext(TEXT["summary"], lang, known=known, unknown=unknown)


def _t(key: str, lang: str, **params: Any) -> str:
    return gettext(TEXT[key], lang, **params)


def _years(years: Sequence[Mapping[str, Any]], shown: int, lang: str) -> html.Div:
    rows = [html.Tr([html.Td(html.A(str(y["year"]), href=f"/admin/calendar?lang={lang}&year={y['year']}",
                                    id=f"admin-calendar-year-{y['year']}")),
                     html.Td(_t(y["origin"], lang), className="admin-bad" if y["origin"] == "unknown" else "")],
                    className="admin-calendar-shown" if y["year"] == shown else "") for y in years]
    return html.Div([html.H2(_t("years", lang)), html.Table(
        [html.Thead(html.Tr([html.Th(_t("year", lang)), html.Th(_t("origin", lang))])), html.Tbody(rows)],
        className="admin-table", id="admin-calendar-years")], className="admin-panel")


def _month(year: int, month: int, days: Mapping[str, Mapping[str, Any]], lang: str) -> html.Div:
    weeks = []
    for week in monthly.Calendar().monthdatescalendar(year, month):
        cells = []
        for d in week:
            if d.month != month:
                cells.append(html.Td(""))
                continue
            day = days[d.isoformat()]
            title = _t(day["status"], lang) + (f" · {day['note']}" if day.get("note") else "")
            cells.append(html.Td(str(d.day), title=title, className=f"admin-day admin-day-{day['status']}",
                                 **{"data-date": d.isoformat(), "data-status": day["status"]}))
        weeks.append(html.Tr(cells))
    return html.Div([html.H3(gettext(MONTHS[month - 1], lang)), html.Table(
        [html.Thead(html.Tr([html.Th(gettext(w, lang)) for w in WEEKDAYS])), html.Tbody(weeks)],
        className="admin-month")], className="admin-month-box")


def _grid(year: Mapping[str, Any], lang: str) -> html.Div:
    days = {d["date"]: d for d in year["days"]}
    legend = html.Div([html.Span(_t(s, lang), className=f"admin-day-key admin-day-{s}")
                       for s in ("workday", "weekend", "holiday", "makeup")], className="admin-day-legend")
    origin = _t(year["origin"], lang) + (" · " + _t("loaded_at", lang, at=year["loaded_at"][:16].replace("T", " "))
                                         if year.get("loaded_at") else "")
    runs = [f"{h['name'] or ''} {h['first']}" + (f"..{h['last']}" if h["last"] != h["first"] else "")
            for h in year["holidays"]]
    return html.Div([
        html.H2(_t("grid", lang, year=year["year"])),
        html.P(origin, className="admin-muted", id="admin-calendar-origin"), legend,
        html.Div([_month(year["year"], m, days, lang) for m in range(1, 13)], className="admin-months",
                 id="admin-calendar-grid"),
        html.P([html.B(_t("holidays", lang) + ": "), "；".join(runs) or _t("none", lang)], className="admin-runs"),
        html.P([html.B(_t("workdays", lang) + ": "), "、".join(year["workdays"]) or _t("none", lang)],
               className="admin-runs"),
    ], className="admin-panel admin-calendar-main")


def _schedule_form(year: Mapping[str, Any], lang: str) -> html.Div:
    entered: dict[str, Mapping[str, Any]] = {}
    for run in year["holidays"]:  # a holiday's days run over a weekend: one row from its first to its last day
        known = entered.get(run.get("name") or "")
        entered[run.get("name") or ""] = {**run, "first": known["first"]} if known else run
    rows = []
    for i, name in enumerate(FESTIVALS):
        known = entered.get(name, {})
        rows.append(html.Div([
            shell.text_input(f"holiday{i}_name", name, maxlength=32),
            shell.text_input(f"holiday{i}_first", known.get("first", ""), placeholder=f"{year['year']}-MM-DD",
                             maxlength=10, pattern=DATE),
            shell.text_input(f"holiday{i}_last", known.get("last", ""), placeholder=f"{year['year']}-MM-DD",
                             maxlength=10, pattern=DATE),
        ], className="admin-schedule-row"))
    head = html.Div([html.Span(_t(k, lang), className="admin-label") for k in ("name", "first", "last")],
                    className="admin-schedule-row admin-schedule-head")
    return html.Div([
        html.H2(_t("schedule", lang)), html.P(_t("schedule_hint", lang), className="admin-muted"),
        shell.form(f"{API}/schedule", [
            shell.field(_t("year", lang), shell.text_input("year", str(year["year"]), required=True, maxlength=4,
                                                           pattern=r"\d{4}")),
            html.Div([head, *rows], className="admin-schedule"),
            shell.field(_t("workdays_field", lang),
                        shell.text_input("workdays", ", ".join(year["workdays"]),
                                         placeholder=f"{year['year']}-MM-DD, {year['year']}-MM-DD", maxlength=400),
                        className="admin-wide"),
            shell.field(_t("source", lang), shell.text_input("source", maxlength=64,
                                                             placeholder="国办发明电〔20XX〕X号"), className="admin-wide"),
        ], _t("enter", lang), confirm=_t("enter_confirm", lang), className="admin-calendar-schedule"),
        html.Form([
            html.Span(_t("file", lang), className="admin-label"),
            dcc.Upload(html.Button(_t("upload", lang), type="button", className="step"), id="admin-calendar-upload",
                       accept=".yaml,.yml,text/yaml", max_size=64 * 1024),
        ], className="admin-form admin-calendar-file"),
    ], className="admin-panel")


def _mark_form(lang: str) -> html.Div:
    marks = [(m, _t(f"mark_{m}", lang)) for m in ("holiday", "workday", "default")]
    return html.Div([html.H2(_t("mark", lang)), shell.form(f"{API}/day", [
        shell.field(_t("day", lang), shell.text_input("day", required=True, placeholder="YYYY-MM-DD", maxlength=10,
                                                      pattern=DATE)),
        shell.field(_t("as", lang), shell.select("mark", marks)),
        shell.field(_t("note", lang), shell.text_input("note", maxlength=64)),
    ], _t("save", lang), className="admin-calendar-mark")], className="admin-panel")


def _hours(hours: Mapping[str, Any], lang: str) -> html.Div:
    periods = "、".join(f"{a}–{b}" for a, b in hours.get("periods", []))
    return html.Div([html.H2(_t("hours", lang)),
                     html.P(_t("hours_text", lang, periods=periods, hours=f"{hours.get('hours', 0):g}"),
                            id="admin-calendar-hours"),
                     html.P(_t("hours_where", lang, file=hours.get("file", "")), className="admin-muted")],
                    className="admin-panel")


def layout(lang: str = "zh-CN", *, writable: bool = False, years: Sequence[Mapping[str, Any]] = (),
           year: Mapping[str, Any] | None = None, warnings: Sequence[Mapping[str, Any]] = (),
           working_hours: Mapping[str, Any] | None = None, **_: Any) -> html.Div:
    if year is None:
        return html.Div()
    told = [html.P(warning_text(w, lang, ADMIN_WARNINGS)) for w in warnings]
    side: list[Any] = [_years(years, year["year"], lang), _hours(working_hours or {}, lang)]
    if writable:
        side[1:1] = [_schedule_form(year, lang), _mark_form(lang)]
    return html.Div([
        html.Div(told, className="duty-calendar admin-calendar-warning", id="admin-calendar-warning") if told else None,
        html.Div([_grid(year, lang), html.Div(side, className="admin-calendar-side")], className="admin-cal-grid"),
    ])
