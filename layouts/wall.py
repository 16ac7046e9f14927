"""The command-centre wall (/wall): big counters, ticket flow, the live heat
map, per-unit rates and the latest tickets.

Built for 1920×1080 and 3840×2160 screens that nobody touches: sizes scale
with the viewport (see assets/wall.css). The layout is static; the page's
script (assets/wall.js, on the shared assets/live.js) fills it from a
snapshot and then applies pushed events in place, with the rules and words
this module hands it in the live marker's config.
"""
from __future__ import annotations

from typing import Any

from dash import html

from layouts import live
from layouts import map as map_screen
from layouts.i18n import N_, WARNINGS, gettext, labels, other_language, switch_label, texts
from tickets.vocabulary import CHANNELS

# One colour per channel, stable across screens and sessions.
CHANNEL_COLOURS: dict[str, str] = {
    "hotline_12345": "#3fa7ff",
    "cad_110": "#ff5c5c",
    "call": "#ffb347",
    "service_window": "#7bd88f",
    "director_mailbox": "#c792ea",
    "visit": "#f78c6c",
    "letter": "#ffd866",
    "discipline_hotline": "#ff79c6",
    "open311": "#5ad4e6",
    "import": "#8a8f98",
}

COUNTERS: dict[str, str] = {
    "received_today": N_("Received today"),
    "open_now": N_("Open now"),
    "closed_today": N_("Closed today"),
    "breaches_now": N_("Breaches now"),
    "contact_overdue": N_("Contact overdue"),
    "resolve_overdue": N_("Resolve overdue"),
    "amber_now": N_("Near deadline"),
    "orders_open": N_("Under supervision order"),
}
BIG_COUNTERS = ("received_today", "open_now", "closed_today", "breaches_now")
SMALL_COUNTERS = ("contact_overdue", "resolve_overdue", "amber_now", "orders_open")
# Shown in red while above zero.
ALERT_COUNTERS = ("breaches_now", "contact_overdue", "resolve_overdue")
# A rate at or above a floor takes its class (assets/wall.css); below the last, "band-bad".
RATE_BANDS = {"floors": ((0.95, "band-good"), (0.85, "band-warn")), "below": "band-bad", "none": "band-none"}
# The unit table always lists the territorial bureaus; divisions and the office once they have tickets today.
UNIT_KINDS_ALWAYS = ("branch", "county_bureau")
TICKER_ROWS = 30

# The unit table's columns, in order: ranked by the composite score (DESIGN §4, tickets.figures.rank);
# the rates it is made of, each with its Wilson 95% interval in small type.
UNIT_COLUMNS: dict[str, str] = {
    "col_rank": N_("Rank"),
    "col_unit": N_("Unit"),
    "col_received": N_("Received"),
    "col_score": N_("Score"),
    "col_response": N_("Response"),
    "col_on_time": N_("On time"),
    "col_satisfaction": N_("Satisfaction"),
    "col_breaches": N_("Breaches"),
}
# Words the page script writes (the connection states come with every live screen).
SCRIPT_TEXT: dict[str, str] = {
    "no_place": N_("no place"),
    "warning_separator": N_("; "),
    # The attention banner: what (the kind and topic), where, how many against the baseline.
    "kind_surge": N_("Surge"),
    "kind_recurring": N_("Recurring"),
    "surge_baseline": N_("%(count)s today, usually %(baseline)s a day"),
    "surge_floor": N_("%(count)s today, past the fixed floor of %(threshold)s (no baseline yet)"),
    "recurring_evidence": N_("%(count)s in %(days)s days, %(baseline)s expected"),
    "banner_more": N_("and %(count)s more"),
    "banner_hint": N_("Acknowledge on the duty console"),
}
# The banner lists this many alerts, the oldest first; the rest as "and N more".
BANNER_ROWS = 4
# Served by the platform (dashboard/assets/), the duty console's sound.
ALERT_SOUND = "/assets/duty-alert.wav"
SOUND_ON = ("1", "on", "true", "yes")


def flow_legend(lang: str) -> html.Div:
    """The flow chart's key: the channels' colours in one line of short names beside the title
    (assets/wall.css); the chart itself is drawn by assets/wall.js."""
    names = labels(lang)["channels_short"]
    return html.Div([html.Span(names[code], className="flow-key", style={"--key": CHANNEL_COLOURS[code]})
                     for code in CHANNELS], className="flow-legend")


def unit_table(lang: str) -> html.Table:
    """Per-unit rates today, ranked; the body is filled and kept current by the page script."""
    return html.Table(
        [
            html.Thead(html.Tr([html.Th(gettext(text, lang), className=c) for c, text in UNIT_COLUMNS.items()])),
            html.Tbody(id="wall-units"),
        ],
        className="unit-table",
    )


def unit_note(lang: str, min_tickets: int) -> html.Div:
    return html.Div(gettext("Small type: the 95%% interval. Grey: fewer than %(min)s tickets today, not ranked.",
                            lang, min=min_tickets), className="unit-note")


def _counter(key: str, lang: str, big: bool) -> html.Div:
    return html.Div(
        [
            html.Div(gettext(COUNTERS[key], lang), className="counter-label"),
            # Empty: the page script writes the number (assets/wall.js), React never renders over it.
            html.Div(id=f"wall-count-{key}", className="counter-value"),
        ],
        className=f"counter {'counter-big' if big else 'counter-small'} counter-{key}",
    )


def script_config(lang: str, ticket_links: bool = False, sound: bool = False) -> dict[str, Any]:
    """The rules and words assets/wall.js applies to the snapshot and the pushes;
    ``ticket_links``: the viewer may open tickets, so the ticker's numbers link to them."""
    return {
        "ticket_links": ticket_links,
        "columns": list(UNIT_COLUMNS),
        "banner_rows": BANNER_ROWS,
        "sound": ALERT_SOUND if sound else None,
        "counters": list(COUNTERS),
        "alert_counters": list(ALERT_COUNTERS),
        "bands": RATE_BANDS,
        "unit_kinds_always": list(UNIT_KINDS_ALWAYS),
        "ticker_rows": TICKER_ROWS,
        "channel_colours": CHANNEL_COLOURS,
        "map": map_screen.live_sources(),
        "text": {**texts(SCRIPT_TEXT, lang), "warnings": texts(WARNINGS, lang)},
    }


def layout(lang: str = "zh-CN", *, map_document: str, timezone: str, min_tickets: int, sound: str = "",
           ticket_links: bool = False, title: str | None = None, config: dict[str, Any] | None = None,
           **_query: Any) -> html.Div:
    """The wall; ``map_document``: the live map panel's document, ``timezone``: the bureau's,
    ``min_tickets``: the ranking's minimum volume; ``sound=1`` in the URL: a sound with each new
    alert and breach (off by default: most walls are in a room with people on the phone);
    ``ticket_links``: whether the viewer may open a ticket (a kiosk may not); ``title`` and
    ``config`` (added to the script's): a wall screen's own (layouts/wall_screens.py)."""
    return html.Div(
        [
            html.Header(
                [
                    html.H1(title or gettext("Command centre wall", lang), className="wall-title"),
                    html.Div(id="wall-warnings", className="wall-warnings"),
                    html.Div(
                        [
                            html.Span(live.connection_text("connecting", lang), id="wall-conn",
                                      className="conn conn-wait"),
                            html.Span([gettext("Last update", lang), " ", html.Span(id="wall-updated", className="wall-updated-at")],
                                      className="wall-updated"),
                            html.Span(id="wall-clock", className="wall-clock"),
                            html.A(switch_label(lang), href=f"?lang={other_language(lang)}",
                                   className="lang-switch"),
                        ],
                        className="wall-status",
                    ),
                ],
                className="wall-header",
            ),
            # New surges and recurring issues, until acknowledged on the duty console (assets/wall.js).
            html.Div(id="wall-banner", className="wall-banner", role="alert"),
            html.Section(
                [_counter(k, lang, True) for k in BIG_COUNTERS]
                + [html.Div([_counter(k, lang, False) for k in SMALL_COUNTERS], className="counter-row")],
                className="wall-counters",
            ),
            html.Section(
                [
                    html.Div([html.H2(gettext("Units today, ranked", lang)),
                              html.Div(unit_table(lang), className="unit-table-box"), unit_note(lang, min_tickets)],
                             className="panel panel-units"),
                    html.Div(
                        [
                            # The live heat map (assets/map_live.js feeds it pushed tickets).
                            map_screen.wall_panel(lang, map_document),
                            html.Div(
                                [
                                    html.Div([html.H2(gettext("Tickets per minute, last two hours",
                                                              lang)), flow_legend(lang)], className="flow-head"),
                                    # Empty: assets/wall.js draws the chart (an SVG) and keeps it current.
                                    html.Div(id="wall-flow", className="wall-flow-graph"),
                                ],
                                className="panel panel-flow",
                            ),
                        ],
                        className="wall-middle",
                    ),
                    html.Div(
                        [html.H2(gettext("Latest tickets", lang)), html.Ul(id="wall-ticker", className="ticker")],
                        className="panel panel-ticker",
                    ),
                ],
                className="wall-body",
            ),
            live.marker("wall", lang, timezone,
                        {**script_config(lang, ticket_links, sound.lower() in SOUND_ON), **(config or {})}),
        ],
        className="wall",
        lang=lang,
    )
