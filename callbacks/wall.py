"""Wall: the data its layout starts with. Live data never goes through a
server callback: pushes arrive over Socket.IO and the page's scripts
(assets/live.js, assets/wall.js) apply them in the browser, since Dash merges
rapid prop updates and per-event callbacks would lose events.

A branch bureau's wall (``?unit=``) gets its subtree's map and name, or a refusal
when the unit is unknown or outside the caller's scope (the same rule as its
snapshot, ``dashboard/api/live.py``)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select

from callbacks.map import map_document
from callbacks.screen import ScreenContext, scope
from layouts.i18n import gettext
from layouts.map import LIVE_WINDOW
from tickets.figures import RankingPolicy
from tickets.models import Unit
from tickets.roles import scope_unit_code, subtree_of

# Where a ticket's number leads (the ticket page, /ticket/<number>), for whoever may open it.
TICKET_PAGE = "/ticket"


def page_data(ctx: ScreenContext, lang: str, query: Mapping[str, str]) -> dict[str, Any]:
    timezone = ctx.settings.timezone
    links = ctx.may_view(TICKET_PAGE)
    min_tickets = RankingPolicy.from_settings(ctx.settings).min_tickets
    actor = ctx.actor()
    # A caller who sees part of the city (a station's officer, a branch's kiosk) has its unit's wall.
    code = query.get("unit") or (scope_unit_code(actor) if actor is not None else None)
    if not code:
        return {"map_document": map_document(ctx, None, LIVE_WINDOW, lang, live=True), "timezone": timezone,
                "ticket_links": links, "min_tickets": min_tickets}
    with ctx.session() as session:
        rows = session.execute(select(Unit.id, Unit.parent_id, Unit.code, Unit.name)).all()
    found = next(((uid, name) for uid, _p, c, name in rows if c == code), None)
    if found is None:
        return {"refused": gettext("Unknown unit '%(unit)s'", lang, unit=code), "map_document": "",
                "timezone": timezone, "ticket_links": links, "min_tickets": min_tickets}
    subtree = frozenset(subtree_of(((uid, parent) for uid, parent, _c, _n in rows), found[0]))
    seen = scope(ctx)
    if seen is not None and not subtree <= seen:
        return {"refused": gettext("Unit %(unit)s is outside your unit's scope", lang, unit=code),
                "map_document": "", "timezone": timezone, "ticket_links": links, "min_tickets": min_tickets}
    # The points are drawn into the document: the live map script follows the city's stream.
    return {"map_document": map_document(ctx, None, LIVE_WINDOW, lang, live=False, within=subtree, panel=True),
            "timezone": timezone, "unit_name": found[1], "ticket_links": links, "min_tickets": min_tickets,
            "unit": code}
