"""URL → screen, with the language taken from ``?lang=`` (slapdash style: the
shell's ``dcc.Location`` drives one callback that renders the page)."""
from __future__ import annotations

from urllib.parse import parse_qs

from dash import Dash, Input, Output, html
from dash.development.base_component import Component

from callbacks.screen import ScreenContext, Screens
from layouts.i18n import gettext, normalise


def render(pathname: str | None, search: str | None, screens: Screens, ctx: ScreenContext) -> Component:
    query = {k: v[-1] for k, v in parse_qs((search or "").lstrip("?")).items()}
    lang = normalise(query.pop("lang", None))
    query.pop("kiosk", None)  # the wall's grant, read by dashboard.auth; never a layout argument
    path = (pathname or "/").rstrip("/") or "/"
    screen = screens.find(path)
    if screen is None and (below := screens.covering(path)) is not None and below.items:
        screen, query["item"] = below, path[len(below.path) + 1:]
    if screen is None:
        return html.Div(html.H1(gettext("Page not found", lang)), className="not-found")
    if not ctx.may_view(path):  # the page gate checked the URL; a callback can name any path
        return html.Div(html.H1(gettext("Not allowed here; please log in", lang)), className="not-found")
    return screen.page(ctx, lang, query)


def register(app: Dash, screens: Screens, ctx: ScreenContext) -> None:
    app.callback(Output("page", "children"), Input("url", "pathname"), Input("url", "search"))(
        lambda pathname, search: render(pathname, search, screens, ctx))
