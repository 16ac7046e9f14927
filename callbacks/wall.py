"""Wall: the data its layout starts with. Live data never goes through a
server callback: pushes arrive over Socket.IO and the page's scripts
(assets/live.js, assets/wall.js) apply them in the browser, since Dash merges
rapid prop updates and per-event callbacks would lose events."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from callbacks.map import map_document
from callbacks.screen import ScreenContext
from layouts.map import LIVE_WINDOW
from tickets.figures import RankingPolicy

# Where a ticket's number leads (the ticket page, /ticket/<number>), for whoever may open it.
TICKET_PAGE = "/ticket"


def page_data(ctx: ScreenContext, lang: str, query: Mapping[str, str]) -> dict[str, Any]:
    return {"map_document": map_document(ctx, None, LIVE_WINDOW, lang, live=True), "timezone": ctx.settings.timezone,
            "ticket_links": ctx.may_view(TICKET_PAGE),
            "min_tickets": RankingPolicy.from_settings(ctx.settings).min_tickets}
