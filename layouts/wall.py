"""The command-centre wall (/wall): big counters, ticket flow, latest tickets.

Built for 1920×1080 and 3840×2160 screens that nobody touches: sizes scale
with the viewport (see assets/wall.css). The layout is static; the page's
script fills it from a snapshot and then applies pushed events in place.
"""
from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
from dash import dcc, html

from layouts import map as map_screen
from layouts.i18n import labels, t
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

BIG_COUNTERS = ("received_today", "open_now", "closed_today", "breaches_now")
SMALL_COUNTERS = ("contact_overdue", "resolve_overdue", "amber_now")
FONT_STACK = '"Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC", sans-serif'


def flow_figure(lang: str) -> go.Figure:
    """Empty stacked bars, one trace per channel in ``CHANNELS`` order; the script fills them."""
    names = labels(lang)["channels"]
    fig = go.Figure(
        [
            go.Bar(x=[], y=[], name=names[code], meta=code, marker_color=CHANNEL_COLOURS[code],
                   hovertemplate="%{x} %{y}<extra>" + names[code] + "</extra>")
            for code in CHANNELS
        ]
    )
    fig.update_layout(
        barmode="stack",
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        font={"family": FONT_STACK, "color": "#c9d4e3", "size": 14},
        margin={"l": 48, "r": 16, "t": 8, "b": 40},
        legend={"orientation": "h", "traceorder": "normal", "y": 1.02, "yanchor": "bottom", "x": 0, "font": {"size": 13}},
        xaxis={"type": "category", "nticks": 13, "gridcolor": "#1f2a3a", "tickangle": 0},
        yaxis={"gridcolor": "#1f2a3a", "rangemode": "tozero", "title": None},
        bargap=0.15,
        uirevision="wall-flow",
    )
    return fig


UNIT_COLUMNS = ("col_unit", "col_received", "col_completion", "col_on_time", "col_satisfaction", "col_breaches")


def unit_table(lang: str) -> html.Table:
    """Per-unit rates today; the body is filled and kept current by the page script."""
    return html.Table(
        [
            html.Thead(html.Tr([html.Th(t(c, lang), className=c) for c in UNIT_COLUMNS])),
            html.Tbody(id="wall-units"),
        ],
        className="unit-table",
    )


def _counter(key: str, lang: str, big: bool) -> html.Div:
    return html.Div(
        [
            html.Div(t(key, lang), className="counter-label"),
            html.Div("–", id=f"wall-count-{key}", className="counter-value"),
        ],
        className=f"counter {'counter-big' if big else 'counter-small'} counter-{key}",
    )


def layout(lang: str = "zh-CN", **_query: Any) -> html.Div:
    other = "en" if lang == "zh-CN" else "zh-CN"
    return html.Div(
        [
            html.Header(
                [
                    html.H1(t("wall_title", lang), className="wall-title"),
                    html.Div("", id="wall-warnings", className="wall-warnings"),
                    html.Div(
                        [
                            html.Span(t("connecting", lang), id="wall-conn", className="conn conn-wait"),
                            html.Span([t("last_update", lang), " ", html.Span("–", id="wall-updated")],
                                      className="wall-updated"),
                            html.Span("", id="wall-clock", className="wall-clock"),
                            html.A(t("language_switch", lang), href=f"?lang={other}", className="lang-switch"),
                        ],
                        className="wall-status",
                    ),
                ],
                className="wall-header",
            ),
            html.Section(
                [_counter(k, lang, True) for k in BIG_COUNTERS]
                + [html.Div([_counter(k, lang, False) for k in SMALL_COUNTERS], className="counter-row")],
                className="wall-counters",
            ),
            html.Section(
                [
                    html.Div(
                        [
                            html.Div(
                                [
                                    html.H2(t("flow_title", lang)),
                                    dcc.Graph(
                                        id="wall-flow",
                                        figure=flow_figure(lang),
                                        config={"displayModeBar": False, "responsive": True},
                                        className="wall-flow-graph",
                                    ),
                                ],
                                className="panel panel-flow",
                            ),
                            html.Div([html.H2(t("units_title", lang)), unit_table(lang)], className="panel panel-units"),
                        ],
                        className="wall-left",
                    ),
                    # The live heat map (layouts/map.py; assets/map_live.js feeds it pushed tickets).
                    map_screen.wall_panel(lang),
                    html.Div(
                        [html.H2(t("ticker_title", lang)), html.Ul(id="wall-ticker", className="ticker")],
                        className="panel panel-ticker",
                    ),
                ],
                className="wall-body",
            ),
            # The page script reads these to know which screen it drives, in which language.
            html.Div(id="live-screen", className="live-screen", **{"data-screen": "wall", "data-lang": lang}),
        ],
        className="wall",
        lang=lang,
    )
