"""/map callbacks: a chosen topic and window render the map again (server side,
in the actor's scope) and point the export button at the same map."""
from __future__ import annotations

from dash import Dash, Input, Output, State

from layouts.map import export_href, map_document


def update(topic: str | None, window: str | None, lang: str | None) -> tuple[str, str]:
    lang = lang or "zh-CN"
    return map_document(topic, window, lang, live=False), export_href(topic, window, lang)


def register(app: Dash) -> None:
    app.callback(
        Output("map-frame", "srcDoc"), Output("map-export", "href"),
        Input("map-topic", "value"), Input("map-window", "value"), State("map-lang", "data"),
    )(update)
