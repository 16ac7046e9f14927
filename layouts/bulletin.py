"""每周通报 (/bulletin?week=2026-W48): a week's frozen bulletin on screen, and in meeting mode.

Pure: the bulletin's content (``dashboard/read_models/bulletin.py``, already cut to the
caller's scope) into pages, one ``section.bulletin-page`` each: the bureau's figures and
their trend, the rankings of each group (sortable grids, 红榜/黑榜 marked, ties and the
unranked said), the exceptions, topics and channels, hotspots. Meeting mode
(``assets/bulletin.js``) shows one page at a time, full screen, in large type, stepped
through with the arrow keys; ↑/↓ move the highlight to the unit under discussion.
"""
from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import dash_ag_grid as dag
from dash import dcc, html

from layouts import queue
from layouts.i18n import N_, gettext, labels, percent, texts
from layouts.live import marker

TITLE = N_("Weekly bulletin")
FIGURE_TEXT = {
    "received": N_("Received"), "composite_score": N_("Composite score"), "response_rate": N_("Response rate"),
    "completion_rate": N_("Completion rate"), "on_time_rate": N_("On-time rate"),
    "satisfaction_rate": N_("Satisfaction rate"), "acceptance_rate": N_("Timely acceptance rate"),
    "return_rate": N_("Return rate"), "redo_rate": N_("Redo rate"), "duplicate_rate": N_("Duplicate rate"),
    "direct_dispatch_rate": N_("Direct dispatch rate"),
}
PAGE_TEXT = {
    "bureau": N_("The bureau this week"), "trend": N_("Five weeks"), "branches": N_("Branches ranked"),
    "divisions": N_("Divisions ranked"), "stations": N_("Stations of %(branch)s ranked"),
    "overdue": N_("Overdue tickets"), "closed_late": N_("Closed late"), "unsatisfied": N_("Unsatisfied citizens"),
    "supervision_orders": N_("Supervision orders"), "reminder_letters": N_("Reminder letters"),
    "below_satisfaction": N_("Units below the satisfaction threshold: rectification"),
    "last_week": N_("Last week's exceptions: what became of them"), "topics": N_("Topics"),
    "channels": N_("Channels"), "hotspots": N_("Hotspots"), "provisional": N_("Provisional: the week is not over"),
    "version": N_("Version %(version)s · SLA rules %(policy)s · as of %(at)s"), "meeting": N_("Meeting mode"),
    "previous": N_("Previous week"), "next": N_("Next week"), "none": N_("No bulletin for %(week)s yet"),
    "pdf": N_("PDF"), "xlsx": N_("Excel"), "week_on_week": N_("%(change)s on last week"), "nothing": N_("None"),
    "rose_most": N_("Rose most: %(what)s"), "keys": N_("← → pages · ↑ ↓ the unit under discussion · Esc leaves"),
}
COLUMN_TEXT = {
    "rank": N_("Rank"), "unit": N_("Unit"), "received": N_("Received"), "composite": N_("Composite score"),
    "interval": N_("Confidence interval (95 in 100)"), "tied": N_("Tied with"), "list": N_("List"), "unranked": N_("Not ranked"),
    "number": N_("Ticket"), "title": N_("Request"), "topic": N_("Topic"), "hours_late": N_("Hours late"),
    "outcome": N_("Now"), "count": N_("Count"), "previous": N_("Last week"), "change": N_("Change"),
    "share": N_("Share"), "cell": N_("Cell"), "trend": N_("Trend"),
}
UNRANKED_TEXT = {"min_tickets": N_("too few tickets to rank"), "no_rate": N_("no rate to rank by")}
LIST_TEXT = {"top": N_("Red list (best)"), "bottom": N_("Black list (worst)")}
RATE_COLUMNS = ("response_rate", "completion_rate", "on_time_rate", "satisfaction_rate", "acceptance_rate",
                "return_rate", "redo_rate")
PERCENT = {"function": "params.value == null ? '–' : d3.format('.1%')(params.value)"}


def _page(key: str, title: str, *children: Any) -> html.Section:
    return html.Section([html.H2(title, className="bulletin-page-title"), *children],
                        className="bulletin-page", id=f"bulletin-page-{key}", **queue._data(page=key))


def _grid(key: str, rows: list[dict[str, Any]], columns: list[dict[str, Any]], lang: str) -> dag.AgGrid:
    return dag.AgGrid(id=f"bulletin-grid-{key}", rowData=rows, columnDefs=columns, columnSize="responsiveSizeToFit",
                      defaultColDef={"sortable": True, "resizable": True, "suppressMovable": True},
                      dashGridOptions={"domLayout": "autoHeight", "rowHeight": 40, "rowSelection": "single",
                                       "suppressCellFocus": True, "suppressColumnVirtualisation": True,
                                       "localeText": {"noRowsToShow": gettext(PAGE_TEXT["nothing"], lang)}},
                      className="ag-theme-alpine bulletin-grid")


def _ranking(key: str, title: str, group: Mapping[str, Any], lang: str,
             names: Mapping[str, str] | None = None) -> html.Section:
    words, lists, unranked = texts(COLUMN_TEXT, lang), texts(LIST_TEXT, lang), texts(UNRANKED_TEXT, lang)
    figures = texts(FIGURE_TEXT, lang)
    top, bottom = set(group.get("top", [])), set(group.get("bottom", []))
    rows = [{**u, "interval": "–" if not u.get("composite_interval") else
             f"{percent(u['composite_interval'][0])} – {percent(u['composite_interval'][1])}",
             "tied": "、".join((names or {}).get(c, c) for c in u.get("tied_with") or []),
             "list": lists["top"] if u["unit"] in top else lists["bottom"] if u["unit"] in bottom else "",
             "unranked": unranked.get(u.get("unranked_code") or "", "")} for u in group.get("units", [])]
    columns = [
        {"field": "rank", "headerName": words["rank"], "width": 70, "pinned": "left"},
        {"field": "unit_name", "headerName": words["unit"], "width": 170, "pinned": "left"},
        {"field": "list", "headerName": words["list"], "width": 120,
         "cellClassRules": {"list-top": f"params.value === {json.dumps(lists['top'])}",
                            "list-bottom": f"params.value === {json.dumps(lists['bottom'])}"}},
        {"field": "received", "headerName": words["received"], "width": 80},
        {"field": "composite_score", "headerName": words["composite"], "width": 110, "valueFormatter": PERCENT},
        {"field": "interval", "headerName": words["interval"], "width": 150},
        {"field": "tied", "headerName": words["tied"], "width": 110},
        *({"field": r, "headerName": figures[r], "width": 105, "valueFormatter": PERCENT} for r in RATE_COLUMNS),
        {"field": "unranked", "headerName": words["unranked"], "width": 140},
    ]
    return _page(key, title, _grid(key, rows, columns, lang))


def _bureau(content: Mapping[str, Any], lang: str) -> html.Section:
    bureau = content.get("bureau") or {}
    figures, words = texts(FIGURE_TEXT, lang), texts(PAGE_TEXT, lang)
    change = bureau.get("week_on_week") or {}
    cards = []
    for key in ("received", "composite_score", "response_rate", "completion_rate", "on_time_rate",
                "satisfaction_rate", "acceptance_rate", "return_rate", "redo_rate"):
        value, delta = bureau.get(key), change.get(key)
        shown = str(value) if key == "received" else percent(value)
        moved = "" if delta is None else gettext(PAGE_TEXT["week_on_week"], lang, change=(
            f"{delta:+d}" if key == "received" else f"{delta * 100:+.1f}"))
        cards.append(html.Div([html.Div(figures[key], className="figure-label"),
                               html.Div(shown, className="figure-value", **queue._data(figure=key)),
                               html.Div(moved, className="figure-change")], className="figure-card"))
    trend = list(reversed(bureau.get("trend") or []))
    graph = dcc.Graph(figure={
        "data": [{"type": "scatter", "mode": "lines+markers", "name": figures[r], "x": [t["week"] for t in trend],
                  "y": [t.get(r) for t in trend]} for r in ("response_rate", "on_time_rate", "satisfaction_rate")],
        "layout": {"height": 320, "margin": {"l": 50, "r": 20, "t": 30, "b": 40}, "yaxis": {"tickformat": ".0%"},
                   "title": {"text": words["trend"]}, "font": {"family": "Noto Sans CJK SC, sans-serif"}},
    }, config={"displayModeBar": False, "staticPlot": True}, className="bulletin-trend")
    return _page("bureau", words["bureau"], html.Div(cards, className="figure-cards"), graph)


def _tickets(key: str, title: str, rows: list[dict[str, Any]], lang: str, extra: Sequence[str] = ()) -> html.Section:
    words, topics = texts(COLUMN_TEXT, lang), labels(lang)["topics"]
    shown = [{**r, "topic": topics.get(r.get("topic") or "", r.get("topic"))} for r in rows]
    columns: list[dict[str, Any]] = [
               {"field": "number", "headerName": words["number"], "width": 190},
               {"field": "unit_name" if any("unit_name" in r for r in rows) else "unit", "headerName": words["unit"],
                "width": 160},
               {"field": "title", "headerName": words["title"], "width": 320},
               {"field": "topic", "headerName": words["topic"], "width": 110},
               *({"field": f, "headerName": words.get(f, f), "width": 110} for f in extra)]
    return _page(key, title, _grid(key, shown, columns, lang))


def _split(key: str, title: str, split: Mapping[str, Any] | None, names: Mapping[str, str], lang: str) -> html.Section:
    words, page = texts(COLUMN_TEXT, lang), texts(PAGE_TEXT, lang)
    items = (split or {}).get("items", [])
    rows = [{"name": names.get(i["key"], i["key"]), "count": i["count"], "previous": i.get("previous"),
             "change": i.get("change"), "share": i.get("share")} for i in items]
    rose = "、".join(names.get(k, k) for k in (split or {}).get("rose_most", []))
    columns = [{"field": "name", "headerName": title, "width": 160},
               {"field": "count", "headerName": words["count"], "width": 90},
               {"field": "previous", "headerName": words["previous"], "width": 90},
               {"field": "change", "headerName": words["change"], "width": 90},
               {"field": "share", "headerName": words["share"], "width": 90, "valueFormatter": PERCENT}]
    return _page(key, title, html.P(gettext(PAGE_TEXT["rose_most"], lang, what=rose) if rose else "",
                                    className="bulletin-note"), _grid(key, rows, columns, lang))


def layout(lang: str = "zh-CN", *, content: Mapping[str, Any] | None = None, week: str = "",
           weeks: Sequence[str] = (), timezone: str = "Asia/Shanghai", nav_items: Sequence[tuple[str, str]] = (),
           who: str = "", previous_week: str = "", next_week: str = "", **_query: Any) -> html.Div:
    words = texts(PAGE_TEXT, lang)
    names = labels(lang)
    bar: list[Any] = [html.A(f"← {words['previous']}", href=f"/bulletin?week={previous_week}&lang={lang}",
                             className="bulletin-nav", id="bulletin-previous") if previous_week else None,
                      html.Span(week, className="bulletin-week", id="bulletin-week"),
                      html.A(f"{words['next']} →", href=f"/bulletin?week={next_week}&lang={lang}",
                             className="bulletin-nav", id="bulletin-next") if next_week else None]
    pages: list[Any] = []
    if content is None:
        pages.append(html.Section(html.H2(gettext(PAGE_TEXT["none"], lang, week=week)), className="bulletin-page"))
    else:
        if content.get("provisional"):
            bar.append(html.Span(words["provisional"], className="bulletin-provisional", id="bulletin-provisional"))
        else:
            bar.append(html.Span(gettext(PAGE_TEXT["version"], lang, version=content.get("version"),
                                         policy=content.get("policy_version"),
                                         at=str(content.get("as_of", ""))[:16].replace("T", " ")),
                                 className="bulletin-version"))
        bar += [html.A(words["pdf"], href=f"/api/v1/bulletins/{week}.pdf", target="_blank", className="step"),
                html.A(words["xlsx"], href=f"/api/v1/bulletins/{week}.xlsx", className="step"),
                html.Button(words["meeting"], id="bulletin-meeting", className="step step-primary", type="button")]
        rankings = content.get("rankings") or {}
        unit_names = {code: s.get("unit_name", code) for code, s in (content.get("units") or {}).items()}
        if content.get("bureau"):
            pages.append(_bureau(content, lang))
        if (rankings.get("branches") or {}).get("units"):
            pages.append(_ranking("branches", words["branches"], rankings["branches"], lang, unit_names))
        if (rankings.get("divisions") or {}).get("units"):
            pages.append(_ranking("divisions", words["divisions"], rankings["divisions"], lang, unit_names))
        for branch, group in sorted((rankings.get("stations") or {}).items()):
            if group.get("units"):
                pages.append(_ranking(f"stations-{branch}", gettext(PAGE_TEXT["stations"], lang,
                                                                    branch=unit_names.get(branch, branch)), group, lang, unit_names))
        exceptions = content.get("exceptions") or {}
        pages.append(_tickets("overdue", words["overdue"], exceptions.get("overdue", []), lang, ("hours_late",)))
        for key in ("closed_late", "unsatisfied"):
            pages.append(_tickets(key, words[key], exceptions.get(key, []), lang))
        below = exceptions.get("below_satisfaction", [])
        pages.append(_page("below_satisfaction", words["below_satisfaction"], html.Ul(
            [html.Li(f"{b['unit_name']} · {percent(b.get('satisfaction_rate'))}") for b in below]
            or [html.Li(words["nothing"])], className="bulletin-list")))
        last = (exceptions.get("last_week") or {}).get("items", [])
        pages.append(_tickets("last_week", words["last_week"], last, lang, ("outcome",)))
        if content.get("topics"):
            pages.append(_split("topics", words["topics"], content["topics"], names["topics"], lang))
        if content.get("channels"):
            pages.append(_split("channels", words["channels"], content["channels"], names["channels"], lang))
        cells = (content.get("hotspots") or {}).get("cells", [])
        columns = texts(COLUMN_TEXT, lang)
        pages.append(_page("hotspots", words["hotspots"], _grid("hotspots", [
            {"cell": c["cell"], "count": c["count"], "previous": c.get("previous"), "trend": c.get("trend"),
             "unit": unit_names.get(c.get("unit") or "", c.get("unit"))} for c in cells], [
            {"field": "cell", "headerName": columns["cell"], "width": 170},
            {"field": "unit", "headerName": columns["unit"], "width": 170},
            {"field": "count", "headerName": columns["count"], "width": 90},
            {"field": "previous", "headerName": columns["previous"], "width": 90},
            {"field": "trend", "headerName": columns["trend"], "width": 90}], lang)))
    return html.Div([
        queue.header("bulletin", lang, TITLE, nav_items, who, live=False),
        html.Div([b for b in bar if b is not None], className="bulletin-bar"),
        html.Div(pages, id="bulletin-pages", className="bulletin-pages"),
        html.Div(words["keys"], className="bulletin-keys"),
        marker("bulletin", lang, timezone, {"week": week, "text": {"title": gettext(TITLE, lang)}}),
    ], className="work work-bulletin", lang=lang)
