"""/map callbacks: a chosen topic and window render the map again (server side,
in the caller's scope) and point the export button at the same map. The wall's
live map panel is rendered here too (:func:`map_document`)."""
from __future__ import annotations

import logging

from dash import Dash, Input, Output, State

from callbacks.screen import ScreenContext, scope
from dashboard.read_models import map as read_map
from layouts import map as map_layout
from layouts.i18n import normalise
from tickets.models import utcnow

log = logging.getLogger(__name__)


def map_document(ctx: ScreenContext, topic: str | None, window: str | None, lang: str, *, live: bool,
                 within: frozenset[int] | None = None, panel: bool = False) -> str:
    """The map for the caller of this request (their scope, narrowed to ``within`` when given);
    ``panel``: a wall's panel (no title box); a placeholder if it cannot be built."""
    try:
        seen = scope(ctx)
        if within is not None:
            seen = within if seen is None else seen & within
        now = utcnow()
        start, end, window = read_map.window_of(window, now)
        with ctx.session() as session:
            data = read_map.map_data(session, settings=ctx.settings, now=now, start=start, end=end, window=window,
                                     topic=read_map.topic_or_none(topic), scope=seen, live=live)
        return map_layout.map_document(data, lang, panel=panel)
    except Exception:  # noqa: BLE001 - a screen must render even when its map cannot
        log.exception("map could not be built")
        return map_layout.placeholder(lang)


def register(app: Dash, ctx: ScreenContext) -> None:
    def update(topic: str | None, window: str | None, lang: str | None) -> tuple[str, str]:
        lang = normalise(lang)
        return map_document(ctx, topic, window, lang, live=False), map_layout.export_href(topic, window, lang)

    app.callback(
        Output("map-frame", "srcDoc"), Output("map-export", "href"),
        Input("map-topic", "value"), Input("map-window", "value"), State("map-lang", "data"),
    )(update)
