"""每周通报: the week asked for (``?week=2026-W48``; by default the newest frozen one, or the
running week's provisional one if none is frozen yet), as the caller may see it."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from callbacks.screen import ScreenContext, who
from dashboard.read_models import bulletin as read_bulletin
from tickets import bulletin
from tickets.errors import DomainError
from tickets.models import utcnow


def page_data(ctx: ScreenContext, lang: str, query: Mapping[str, str]) -> dict[str, Any]:
    actor = ctx.actor()
    if actor is None:
        return {}
    now = utcnow()
    tz = ctx.settings.tz
    running = bulletin.week_of(now.astimezone(tz).date())
    with ctx.session() as session:
        frozen = read_bulletin.weeks(session)
        week = query.get("week") or (frozen[0] if frozen else running)
        try:
            content: dict[str, Any] | None = read_bulletin.for_caller(session, actor, week, now)
        except (DomainError, ValueError):  # a week not begun or not made yet, or not a week at all
            content = None
    try:
        previous, following = bulletin.shift(week, -1), bulletin.shift(week, 1)
    except ValueError:
        previous, following = running, ""
    return {"content": content, "week": week, "weeks": frozen, "timezone": ctx.settings.timezone,
            "nav_items": ctx.nav(), "who": who(actor, lang), "previous_week": previous,
            "next_week": following if following <= running else ""}
