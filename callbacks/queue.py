"""What the two work queues start from (``layouts/queue.py``): the live position first, then
the rows, the working periods for the countdowns, the screens this user may open.
Everything after that arrives by push and goes through the API (``assets/queue.js``)."""
from __future__ import annotations

from typing import Any

from callbacks.screen import ScreenContext, who, working_periods
from dashboard.read_models import queues
from tickets.models import utcnow

def page_data(ctx: ScreenContext, screen: str, lang: str) -> dict[str, Any]:
    actor = ctx.actor()
    if actor is None:
        return {}
    position = ctx.live_position()  # before the rows: every later event reaches the page by push
    now = utcnow()
    tz = ctx.settings.tz
    with ctx.session() as session:
        data: dict[str, Any] = {"rows": queues.screen_rows(session, actor, screen, queues.Filters(), now)}
        if screen == "dispatch":
            data["suggestions"] = queues.suggestions(session, actor)
        data["units"] = queues.dispatch_targets(session, actor)
    return {**data, "position": position, "timezone": ctx.settings.timezone,
            "working": working_periods(tz, now),
            "nav_items": ctx.nav(), "who": who(actor, lang)}
