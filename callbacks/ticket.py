"""The ticket page: its data (``dashboard/read_models/ticket.py``) in the caller's scope, and the one
callback that renders the body again when a push says the ticket changed (``assets/ticket.js``)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

from dash import Dash, Input, Output, State
from dash.development.base_component import Component

from callbacks.screen import ScreenContext, who
from dashboard.read_models import queues
from dashboard.read_models import ticket as ticket_page
from layouts import ticket as layout
from layouts.i18n import normalise
from tickets import personal
from tickets.errors import NotFound
from tickets.models import utcnow
from tickets.roles import STEP_ROLES
from tickets.services import ticket_in_scope


def _data(ctx: ScreenContext, number: str) -> tuple[dict[str, Any] | None, list[dict[str, Any]] | None]:
    actor = ctx.actor()
    if actor is None or not number:
        return None, None
    with ctx.session() as session:
        try:
            ticket = ticket_in_scope(session, actor, number)
        except NotFound:
            return None, None
        page = ticket_page.page(session, actor, ticket, utcnow(), ctx.settings.tz)
        reveals = None
        if actor.role in STEP_ROLES["read_reveals"]:
            reveals = [{"at": r.at.isoformat(), "actor": r.actor, "real_name": r.real_name,
                        "police_number": r.police_number, "remote_addr": r.remote_addr}
                       for r in personal.reveals(session, actor, ticket)]
        return page, reveals


def page_data(ctx: ScreenContext, lang: str, query: Mapping[str, str]) -> dict[str, Any]:
    actor = ctx.actor()
    position = ctx.live_position()  # before the page: a later change reaches it by push
    page, reveals = _data(ctx, query.get("item", ""))
    units: list[dict[str, Any]] = []
    if page is not None and actor is not None and {"dispatch", "pass_down"} & set(page["allowed_steps"]):
        with ctx.session() as session:
            units = queues.dispatch_targets(session, actor)
    return {"page": page, "reveals": reveals, "position": position, "timezone": ctx.settings.timezone,
            "nav_items": ctx.nav(), "who": who(actor, lang), "units": units}


def register(app: Dash, ctx: ScreenContext) -> None:
    def rerender(_refresh: Any, pathname: str | None, search: str | None) -> Component:
        lang = normalise({k: v[-1] for k, v in parse_qs((search or "").lstrip("?")).items()}.get("lang"))
        number = (pathname or "").rstrip("/").rsplit("/", 1)[-1]
        page, reveals = _data(ctx, number)
        return layout.body(page, lang, ctx.settings.timezone, reveals)

    app.callback(Output("ticket-page", "children"), Input("ticket-refresh", "data"),
                 State("url", "pathname"), State("url", "search"), prevent_initial_call=True)(rerender)
