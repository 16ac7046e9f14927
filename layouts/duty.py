"""值班台 (/duty): every amber or breached clock in the duty officer's scope, live.

One row per clock (联系 or 办结, named), most late first, its countdown ticking in the
browser (``assets/clock.js``); who acknowledged it and until when; the ticket's
supervision order and reminder letter; one click to acknowledge, to issue a 督办单 or
a 提醒函. Beside it the early-warning inbox (surges and recurring issues). A new
breach sounds once (mutable per browser), flashes its row and counts in the page's
title; many at once from one unit come as one digest (``assets/duty.js``).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import dash_ag_grid as dag
from dash import html

from geo import maps
from layouts import queue
from layouts.i18n import ADMIN_WARNINGS, N_, gettext, labels, texts, warning_text
from layouts.map import MAP_WORDS
from layouts.live import marker

TITLE = N_("Duty console")

COLUMN_TEXT = {
    "countdown": N_("Time left"), "number": N_("Ticket"), "state": N_("State"), "unit": N_("Unit"),
    "branch": N_("Branch"), "topic": N_("Topic"), "channel": N_("Channel"), "title": N_("Request"),
    "late": N_("Minutes late"), "order": N_("Supervision"), "acknowledged": N_("Taken by"),
    "actions": N_("Actions"),
}
COUNT_TEXT = {"breached": N_("Breached"), "amber": N_("Near deadline"), "open": N_("Not yet taken"),
              "supervised": N_("Under supervision order")}
FILTER_TEXT = {"all": N_("All"), "breached": N_("Breached"), "amber": N_("Near deadline"),
               "contact": N_("Contact clock"), "resolve": N_("Resolve clock"), "any_branch": N_("Every branch"),
               "any_topic": N_("Every topic")}
# Words the page script writes.
SCRIPT_TEXT = {
    "state_breached": N_("Late"), "state_amber": N_("Near"),
    "order_none": N_("No order"), "order_open": N_("Order open"), "order_overdue": N_("Order overdue"),
    "order_answered": N_("Order answered"), "order_closed": N_("Order closed"), "automatic": N_("automatic"), "pdf": N_("PDF"),
    "letter": N_("Letter"), "not_taken": N_("Not yet taken"),
    "taken": N_("%(name)s %(at)s"), "lapses": N_("until %(at)s"),
    "digest": N_("%(unit)s: %(count)s tickets breached at once"),
    "sound_on": N_("Sound on"), "sound_off": N_("Sound off"),
    "order_prefill": N_("Ticket %(number)s (%(title)s) is past its %(clock)s deadline by %(late)s minutes. "
                        "Handle it at once and answer this order before its deadline."),
    "order_prefill_ticket": N_("Ticket %(number)s (%(title)s): handle it at once and answer this order before "
                               "its deadline."),
    "alerts_none": N_("No open early warnings"), "alert_evidence": N_("%(count)s against %(baseline)s expected"),
    "alert_taken": N_("acknowledged"), "acknowledge_alert": N_("Acknowledge"), "close_alert": N_("Close…"),
    "close_why": N_("Why close it (dealt with, not a real pattern …)"), "on_map": N_("On the map"),
    "kind_surge": N_("Surge"), "kind_recurring": N_("Recurring"),
    "predicted_none": N_("No ticket is likely to miss its deadline now"),
    "chance": N_("likely to be late: %(percent)s"),
    "why_backlog": N_("holds %(backlog)s open tickets, usually %(usual)s"),
    "why_slow_unit": N_("%(late)s of %(history)s comparable tickets of this unit closed late"),
    "why_time_short": N_("%(left)s of %(allowed)s working hours left"),
}
# The row's buttons (short: three of them share a column).
STEP_TEXT = {"acknowledge": N_("Acknowledge"), "order": N_("Order…"), "remind": N_("Letter…")}
FIELD_TEXT = {"note": N_("Note"), "text": N_("Text")}


def column_defs(lang: str) -> list[dict[str, Any]]:
    words = texts(COLUMN_TEXT, lang)
    return [
        {"field": "due_at", "colId": "countdown", "headerName": words["countdown"], "width": 205, "minWidth": 195,
         "pinned": "left", "cellRenderer": "Countdown", "sortable": False, "cellDataType": False},
        {"field": "number", "headerName": words["number"], "width": 170, "minWidth": 160, "cellRenderer": "TicketLink"},
        {"field": "state", "headerName": words["state"], "width": 85, "minWidth": 80, "cellRenderer": "DutyState"},
        {"field": "unit_name", "headerName": words["unit"], "width": 130, "minWidth": 100, "tooltipField": "unit_name"},
        {"field": "branch_name", "headerName": words["branch"], "width": 95, "minWidth": 85},
        {"field": "topic", "headerName": words["topic"], "width": 85, "minWidth": 75, "cellRenderer": "Label",
         "cellRendererParams": {"table": "topics_short"}},
        {"field": "channel", "headerName": words["channel"], "width": 80, "minWidth": 75, "cellRenderer": "Label",
         "cellRendererParams": {"table": "channels_short"}},
        {"field": "title", "headerName": words["title"], "width": 200, "minWidth": 120, "tooltipField": "title"},
        {"field": "order", "colId": "order", "headerName": words["order"], "width": 175, "minWidth": 150,
         "cellRenderer": "Supervision", "sortable": False, "cellDataType": False},
        {"field": "acknowledged", "colId": "acknowledged", "headerName": words["acknowledged"], "width": 140,
         "minWidth": 110, "cellRenderer": "Acknowledged", "sortable": False, "cellDataType": False},
        {"field": "allowed_steps", "colId": "actions", "headerName": words["actions"], "width": 230, "minWidth": 225,
         "cellRenderer": "DutyActions", "sortable": False, "cellDataType": False},
    ]


def alerts_map(alerts: Sequence[Mapping[str, Any]], points: Sequence[Sequence[float]], lang: str) -> html.Iframe | None:
    """The early warnings' evidence on a small offline map: each alert's marker and the tickets
    behind it (a surge's district, a recurring issue's cell)."""
    placed = [(a["lat"], a["lon"]) for a in alerts if a.get("lat") is not None] + [(p[0], p[1]) for p in points]
    if not placed:
        return None
    lats, lons = [p[0] for p in placed], [p[1] for p in placed]
    pad = 0.01
    spec = maps.MapSpec(points=list(points), alerts=list(alerts), lang=lang, heat_radius=12,
                        focus=(min(lats) - pad, min(lons) - pad, max(lats) + pad, max(lons) + pad),
                        labels={"topics": labels(lang)["topics"], "text": texts(MAP_WORDS, lang)})
    return html.Iframe(srcDoc=maps.render_html(maps.build_map(spec)), className="duty-alerts-map", id="duty-alerts-map")


def calendar_notice(warnings: Sequence[Mapping[str, Any]], lang: str) -> html.Div:
    """The calendar warnings as an admin must read them: what is assumed and what to do
    (kept current by ``assets/duty.js`` from the live frames)."""
    return html.Div([html.P(warning_text(w, lang, ADMIN_WARNINGS)) for w in warnings], id="duty-calendar",
                    className="duty-calendar", role="alert")


def layout(lang: str = "zh-CN", *, rows: list[dict[str, Any]] | None = None, position: Mapping[str, Any] | None = None,
           timezone: str = "Asia/Shanghai", working: list[list[str]] | None = None,
           nav_items: Sequence[tuple[str, str]] = (), who: str = "", branches: Sequence[Mapping[str, str]] = (),
           alerts: Sequence[Mapping[str, Any]] = (), alert_points: Sequence[Sequence[float]] = (),
           rules: Mapping[str, Any] | None = None, calendar: Sequence[Mapping[str, Any]] | None = None,
           **_query: Any) -> html.Div:
    """The console: ``rows`` from ``dashboard.read_models.duty``, read after ``position``;
    ``calendar``: the calendar warnings, for an admin (None: not an admin's console)."""
    counts = texts(COUNT_TEXT, lang)
    filters = texts(FILTER_TEXT, lang)
    names = labels(lang)
    config = {
        "position": dict(position or {}), "working": working or [], "labels": names, "rules": dict(rules or {}),
        "text": {**texts(queue.SCRIPT_TEXT, lang), **texts(SCRIPT_TEXT, lang), "steps": texts(STEP_TEXT, lang),
                 "fields": texts(FIELD_TEXT, lang), "title": gettext(TITLE, lang),
                 "calendar_warnings": texts(ADMIN_WARNINGS, lang)},
    }
    sound = html.Button(gettext("Sound on", lang), id="duty-sound", className="sound-switch", type="button")
    return html.Div([
        queue.header("duty", lang, TITLE, nav_items, who, extra=(sound,)),
        html.Div([
            html.Div([html.Span(counts[k], className="count-label"),
                      html.Span("–", id=f"duty-count-{k}", className="count-value")],
                     className=f"count count-{k}") for k in ("breached", "amber", "open", "supervised")
        ] + [
            html.Div([html.Button(filters[k], id=f"duty-filter-{k}", className="filter" + (" filter-on" if k == "all" else ""),
                                  **queue._data(group="state", value="" if k == "all" else k))
                      for k in ("all", "breached", "amber")], className="filters"),
            html.Div([html.Button(filters[k], id=f"duty-clock-{k}", className="filter" + (" filter-on" if k == "all" else ""),
                                  **queue._data(group="clock", value="" if k == "all" else k))
                      for k in ("all", "contact", "resolve")], className="filters"),
            html.Select([html.Option(filters["any_branch"], value="")] +
                        [html.Option(b["name"], value=b["code"]) for b in branches],
                        id="duty-branch", className="filter-select"),
            html.Select([html.Option(filters["any_topic"], value="")] +
                        [html.Option(label, value=code) for code, label in names["topics"].items()],
                        id="duty-topic", className="filter-select"),
            html.Div("", id="duty-message", className="work-message", role="status"),
        ], className="work-bar"),
        html.Div("", id="duty-digest", className="duty-digest", role="alert"),
        calendar_notice(calendar, lang) if calendar is not None else None,
        html.Div([
            dag.AgGrid(
                id="duty-grid", rowData=rows or [], columnDefs=column_defs(lang),
                getRowId="params.data.id", columnSize="responsiveSizeToFit",
                defaultColDef={"resizable": True, "sortable": True, "suppressMovable": True},
                dashGridOptions={"rowHeight": 44, "animateRows": False, "suppressCellFocus": True,
                                 "tooltipShowDelay": 300,
                                 "localeText": {"noRowsToShow": gettext("Nothing late or near its deadline", lang)}},
                className="ag-theme-alpine work-grid", style={"height": "100%", "width": "100%"},
            ),
            html.Aside([html.H2(gettext("Likely to be late", lang)),
                        html.Ul(id="duty-predicted", className="duty-predicted"),
                        html.H2(gettext("Early warnings", lang)), alerts_map(alerts, alert_points, lang),
                        html.Ul(id="duty-alerts", className="duty-alerts")],
                       className="work-side duty-side"),
        ], className="work-body"),
        marker("duty", lang, timezone, config),
    ], className="work work-duty", lang=lang)
