"""The units section of /admin: the tree, the topic owners, and the unit picked (``?unit=CODE``)
with the open tickets it holds (the preview before a deactivation)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from callbacks.screen import ScreenContext
from dashboard.read_models import admin_units as read


def page_data(ctx: ScreenContext, lang: str, query: Mapping[str, str]) -> dict[str, Any]:
    with ctx.session() as session:
        units = read.tree(session)
        selected = (query.get("unit") or "").strip()[:32] or None
        if selected is not None and not any(u["code"] == selected for u in units):
            selected = None
        held = read.open_tickets(session, selected) if selected else []
        uploads = read.jurisdiction_uploads(session)
    return {"units": units, "topics": read.topic_owners(units), "selected": selected, "held": held,
            "uploads": uploads}


def summary(ctx: ScreenContext) -> dict[str, Any]:
    with ctx.session() as session:
        units = read.tree(session)
    return {"units": len(units), "inactive": sum(1 for u in units if not u["active"])}
