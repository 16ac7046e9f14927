"""The wall's screens, chosen by URL (Grafana's playlists and panel URLs as the anchor).

    /wall                                   the overview (layouts/wall.py)
    /wall?screen=map|rankings|duty          one screen full-screen
    /wall?playlist=overview,map,rankings&every=30
                                            the screens in turn, every 30 s
    /wall?unit=JN-LX                        a branch bureau's wall: its subtree only
                                            (combines with ``screen`` and ``playlist``)

Every screen is the same page: the overview's panels plus the duty list, one live
connection and one live state (assets/wall.js). A screen is a class on the page's root
that says which panels show and how large (assets/wall_screens.css), so rotating is
changing that class (assets/wall_screens.js): no reload, the socket and the counters stay
as they are, and every panel is current when it shows because it was kept current while
hidden. Rankings full-screen is the overview's unit table (the live figures), larger.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dash import html

from layouts import wall
from layouts.i18n import N_, gettext, texts

SCREENS: dict[str, str] = {
    "overview": N_("Overview"),
    "map": N_("Heat map"),
    "rankings": N_("Unit rankings"),
    "duty": N_("Duty list"),
}
DEFAULT_EVERY = 30  # seconds a playlist shows each screen
MIN_EVERY = 5  # a wall that changes faster cannot be read
DUTY_COLUMNS: dict[str, str] = {
    "d-state": N_("State"),
    "d-clock": N_("Clock"),
    "d-number": N_("Ticket"),
    "d-topic": N_("Topic"),
    "d-unit": N_("Unit"),
    "d-due": N_("Due"),
}
# Words the screens' script writes.
SCRIPT_TEXT: dict[str, str] = {
    "breach": N_("Breached"),
    "amber": N_("Near deadline"),
    "contact": N_("Contact"),
    "resolve": N_("Resolve"),
}


def playlist(query: Mapping[str, str]) -> tuple[list[str], int]:
    """The screens a URL asks for, in order, and the seconds each shows; unknown names are
    left out, and a URL naming none shows the overview."""
    names = [n.strip() for n in (query.get("playlist") or query.get("screen") or "").split(",")]
    screens = [n for n in names if n in SCREENS] or ["overview"]
    try:
        every = max(MIN_EVERY, int(query.get("every") or DEFAULT_EVERY))
    except ValueError:
        every = DEFAULT_EVERY
    return screens, every


def duty_panel(lang: str) -> html.Div:
    """The duty list: breached and near-deadline clocks, most late first (filled by the script)."""
    return html.Div(
        [
            html.H2(gettext("Breached and near-deadline tickets", lang)),
            html.Table([html.Thead(html.Tr([html.Th(gettext(t, lang), className=c) for c, t in DUTY_COLUMNS.items()])),
                        html.Tbody(id="wall-duty")], className="duty-table"),
        ],
        className="panel panel-duty",
    )


def layout(lang: str = "zh-CN", *, map_document: str, timezone: str, ticket_links: bool = False,
           min_tickets: int = 0, sound: str = "", unit_name: str | None = None, refused: str | None = None,
           **query: Any) -> html.Div:
    """The wall at the screen(s) the URL names; ``ticket_links``, ``min_tickets``, ``sound``: the
    overview's (layouts/wall.py);
    ``unit_name``: a branch wall's unit;
    ``refused``: why the URL's unit cannot be shown (unknown, or outside the caller's scope)."""
    if refused is not None:
        return html.Div(html.H1(refused), className="not-found")
    screens, every = playlist(query)
    unit = query.get("unit") or None
    title = gettext("%(unit)s wall", lang, unit=unit_name) if unit_name else None
    config: dict[str, Any] = {
        "screens": screens, "every": every, "unit": unit,
        "screen_text": {**texts(SCREENS, lang), **texts(SCRIPT_TEXT, lang)},
    }
    if unit is not None:
        # Its map is drawn for the subtree when the page is built; the live heat layer follows
        # the city's stream, which a branch wall does not receive.
        config.update(map=None, all_units=True)
    page = wall.layout(lang, map_document=map_document, timezone=timezone, min_tickets=min_tickets, sound=sound,
                       ticket_links=ticket_links, title=title, config=config)
    page.children.append(duty_panel(lang))
    page.className = f"wall wall-screen-{screens[0]}"  # type: ignore[attr-defined]  # Dash sets props dynamically
    return page
