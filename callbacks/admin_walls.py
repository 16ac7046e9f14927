"""The walls section of /admin: its data (``dashboard/read_models/admin_walls.py``)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from callbacks.screen import ScreenContext
from dashboard.read_models import admin_walls


def page_data(ctx: ScreenContext, lang: str, query: Mapping[str, str]) -> dict[str, Any]:
    with ctx.session() as session:
        return {"links": admin_walls.links(session), "scopes": admin_walls.scopes(session),
                "timezone": ctx.settings.timezone}


def summary(ctx: ScreenContext) -> dict[str, Any]:
    with ctx.session() as session:
        return admin_walls.summary(session)
