"""The two work queues, one shape: the desk (工作台, a unit's tickets) and the dispatch desk
(派单台, the platform office's), built from the rows and words they are given.

A queue is an AG Grid whose rows are tickets (``getRowId`` = the ticket number),
most urgent first: a working-time countdown on the clock that matters now
(computed in the browser from the deadline instants and the working periods
the page is given, so the server pushes changes, never ticks), amber and red
bands, the topic, the place, the channel, the citizen masked, and the steps
this user may take as buttons. ``assets/queue.js`` keeps the rows current by
push (row transactions) and sends the steps to the API.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import dash_ag_grid as dag
from dash import html

from layouts.i18n import N_, gettext, labels, other_language, switch_label, texts
from layouts.live import marker

# Words the page script writes (each in the page's language).
SCRIPT_TEXT = {
    "left": N_("%(time)s left"),
    "late": N_("%(time)s late"),
    "contact": N_("Contact"),
    "resolve": N_("Resolve"),
    "no_deadline": N_("No deadline"),
    "saved": N_("Done: %(step)s"),
    "failed": N_("Not done: %(message)s"),
    "stale": N_("Someone else changed ticket %(number)s meanwhile; the row shows it as it is now"),
    "confirm": N_("Confirm"),
    "cancel": N_("Cancel"),
    "approve": N_("Approve"),
    "reject": N_("Reject"),
    "merge_it": N_("Merge"),
    "not_duplicate": N_("Not a duplicate"),
    "proposal": N_("Proposed by routing"),
    "days": N_("%(days)sd"),
    "statuses": N_("Status"),
    "working_time": N_("working time"),
    "paused": N_("paused"),
    "paused_why": N_("Outside working hours: this clock resumes at the next working period"),
}
# Each step's button, and what its dialog asks for.
STEP_TEXT = {
    "dispatch": N_("Dispatch"), "pass_down": N_("Pass down"), "return": N_("Return"), "accept": N_("Accept"),
    "contact": N_("Contacted"), "report": N_("Report"), "approve": N_("Approve"), "send_back": N_("Send back"),
    "reply": N_("Reply"), "close": N_("Close with findings"), "request_extension": N_("Ask for more time"),
    "decide_extension": N_("Decide extension"), "merge": N_("Merge into…"), "unmerge": N_("Unmerge"),
}
FIELD_TEXT = {
    "unit": N_("Unit"), "note": N_("Note"), "reason": N_("Reason"), "result": N_("What was done"),
    "text": N_("Answer to the citizen"), "findings": N_("Findings"), "hours": N_("Working hours more"),
    "into": N_("Ticket number it duplicates"), "approve": N_("Approve the extension"),
}
COLUMN_TEXT = {
    "countdown": N_("Time left"), "number": N_("Ticket"), "status": N_("Status"), "title": N_("Request"),
    "topic": N_("Topic"), "place": N_("Place"), "channel": N_("Channel"), "unit": N_("Unit"),
    "citizen": N_("Citizen"), "actions": N_("Actions"),
}
COUNT_TEXT = {"breached": N_("Breached"), "amber": N_("Near deadline"), "ok": N_("Within time")}
FILTER_TEXT = {"all": N_("All"), "breached": N_("Breached"), "amber": N_("Near deadline")}


def _data(**attributes: Any) -> dict[str, Any]:
    """``data-`` attributes for a component (Dash passes them through to the element)."""
    return {f"data-{name}": value for name, value in attributes.items()}


def nav(items: Sequence[tuple[str, str]], current: str, lang: str) -> html.Nav:
    """The screens this user may open; ``items``: (path, English name)."""
    return html.Nav([html.A(gettext(name, lang), href=f"{path}?lang={lang}",
                            className="nav-item nav-current" if path == current else "nav-item")
                     for path, name in items], className="work-nav")


def header(screen: str, lang: str, title: str, nav_items: Sequence[tuple[str, str]], who: str,
           extra: Sequence[Any] = (), live: bool = True) -> html.Header:
    """A work screen's bar: its name, the screens this user may open, who is logged in, the
    live connection (``live``: a screen that takes pushes), ``extra`` controls (the duty
    console's sound switch), language, log out."""
    return html.Header([
        html.H1(gettext(title, lang), className="work-title"),
        nav(nav_items, f"/{screen}", lang),
        html.Div([
            html.Span(who, className="work-who"),
            html.Span(gettext("Connecting…", lang), id=f"{screen}-conn", className="conn conn-wait") if live else None,
            *extra,
            html.A(switch_label(lang), href=f"?lang={other_language(lang)}", className="lang-switch"),
            html.A(gettext("Log out", lang), href="/logout", className="work-logout"),
        ], className="work-status"),
    ], className="work-header")


def column_defs(screen: str, lang: str) -> list[dict[str, Any]]:
    """The queue's columns. Widths are what each column wants; the grid fits them to its
    width (``responsiveSizeToFit``) down to each ``minWidth``, so a 1920 px screen with the
    dispatcher's side panel shows every column, the actions included, without scrolling."""
    words = texts(COLUMN_TEXT, lang)
    return [
        {"field": "due_at", "colId": "countdown", "headerName": words["countdown"], "width": 230, "minWidth": 215,
         "pinned": "left", "cellRenderer": "Countdown", "sortable": False, "cellDataType": False},
        {"field": "number", "headerName": words["number"], "width": 190, "minWidth": 165, "cellRenderer": "TicketLink"},
        {"field": "status", "headerName": words["status"], "width": 110, "minWidth": 95, "cellRenderer": "Status"},
        {"field": "title", "headerName": words["title"], "width": 360, "minWidth": 150, "tooltipField": "title"},
        {"field": "topic", "headerName": words["topic"], "width": 110, "minWidth": 90, "cellRenderer": "Label",
         "cellRendererParams": {"table": "topics"}},
        {"field": "district", "headerName": words["place"], "width": 180, "minWidth": 120, "cellRenderer": "Place"},
        {"field": "channel", "headerName": words["channel"], "width": 120, "minWidth": 95, "cellRenderer": "Label",
         "cellRendererParams": {"table": "channels_short"}},
        {"field": "unit_name", "headerName": words["unit"], "width": 170, "minWidth": 120, "hide": screen == "desk",
         "tooltipField": "unit_name"},
        {"field": "citizen", "headerName": words["citizen"], "width": 150, "minWidth": 125, "cellRenderer": "Citizen"},
        {"field": "allowed_steps", "colId": "actions", "headerName": words["actions"], "width": 300,
         "minWidth": 190 if screen == "dispatch" else 285 if lang.startswith("zh") else 365,  # the desk's four buttons
         "cellRenderer": "Actions", "sortable": False, "cellDataType": False},
    ]


def layout(screen: str, lang: str, *, title: str, rows: list[dict[str, Any]], position: Mapping[str, Any],
           timezone: str, working: list[list[str]], nav_items: Sequence[tuple[str, str]], who: str,
           units: Sequence[Mapping[str, Any]] = (), suggestions: Sequence[Mapping[str, Any]] = ()) -> html.Div:
    """A queue screen: ``rows`` from ``dashboard.read_models.queues``, read after ``position``."""
    counts = texts(COUNT_TEXT, lang)
    filters = texts(FILTER_TEXT, lang)
    config = {
        "position": dict(position), "working": working, "labels": labels(lang), "units": list(units),
        "text": {**texts(SCRIPT_TEXT, lang), "steps": texts(STEP_TEXT, lang), "fields": texts(FIELD_TEXT, lang),
                 "counts": counts},
    }
    return html.Div([
        header(screen, lang, title, nav_items, who),
        html.Div([
            html.Div([html.Span(counts[k], className="count-label"),
                      html.Span("–", id=f"{screen}-count-{k}", className="count-value")],
                     className=f"count count-{k}") for k in ("breached", "amber", "ok")
        ] + [
            html.Div([html.Button(filters[k], id=f"{screen}-filter-{k}", className="filter" + (" filter-on" if k == "all" else ""),
                                  **_data(clock="" if k == "all" else k)) for k in ("all", "breached", "amber")],
                     className="filters"),
            html.Div("", id=f"{screen}-message", className="work-message", role="status"),
        ], className="work-bar"),
        html.Div([
            dag.AgGrid(
                id=f"{screen}-grid", rowData=rows, columnDefs=column_defs(screen, lang),
                getRowId="params.data.number", columnSize="responsiveSizeToFit",
                defaultColDef={"resizable": True, "sortable": True, "suppressMovable": True},
                dashGridOptions={"rowHeight": 44, "animateRows": False, "suppressCellFocus": True,
                                 "tooltipShowDelay": 300, "localeText": {"noRowsToShow": gettext("Nothing to do", lang)}},
                className="ag-theme-alpine work-grid", style={"height": "100%", "width": "100%"},
            ),
        ] + ([html.Aside([html.H2(gettext("Likely duplicates", lang)),
                          html.Ul(id=f"{screen}-suggestions", className="suggestions",
                                  **_data(initial=len(suggestions)))],
                         className="work-side")] if screen == "dispatch" else []),
            className="work-body"),
        marker(screen, lang, timezone, {**config, "suggestions": list(suggestions)}),
    ], className=f"work work-{screen}", lang=lang)
