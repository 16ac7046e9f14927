"""URL → screen layout, with the language taken from ``?lang=``."""
from __future__ import annotations

from urllib.parse import parse_qs

from dash import Dash, Input, Output, html

from layouts import SCREENS
from layouts.i18n import normalise, t


def render(pathname: str | None, search: str | None) -> html.Div:
    query = {k: v[-1] for k, v in parse_qs((search or "").lstrip("?")).items()}
    lang = normalise(query.pop("lang", None))
    screen = SCREENS.get((pathname or "/").rstrip("/") or "/")
    if screen is None:
        return html.Div(html.H1(t("not_found", lang)), className="not-found")
    return screen(lang=lang, **query)


def register(app: Dash) -> None:
    app.callback(Output("page", "children"), Input("url", "pathname"), Input("url", "search"))(render)
