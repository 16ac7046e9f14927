"""URL → screen layout, with the language taken from ``?lang=``."""
from __future__ import annotations

from urllib.parse import parse_qs

from dash import Dash, Input, Output, html

from dashboard import auth
from layouts import SCREENS
from layouts.i18n import normalise, t


def render(pathname: str | None, search: str | None) -> html.Div:
    query = {k: v[-1] for k, v in parse_qs((search or "").lstrip("?")).items()}
    lang = normalise(query.pop("lang", None))
    query.pop("kiosk", None)  # the wall's grant, read by dashboard.auth; never a layout argument
    path = (pathname or "/").rstrip("/") or "/"
    screen = SCREENS.get(path)
    if screen is None:
        return html.Div(html.H1(t("not_found", lang)), className="not-found")
    if not auth.may_view(path):  # the page gate checked the URL; a callback can name any path
        return html.Div(html.H1(t("not_allowed", lang)), className="not-found")
    return screen(lang=lang, **query)


def register(app: Dash) -> None:
    app.callback(Output("page", "children"), Input("url", "pathname"), Input("url", "search"))(render)
