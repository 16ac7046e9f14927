"""The accounts section of /admin: its data (``dashboard/read_models/admin_accounts.py``)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from callbacks.screen import ScreenContext
from dashboard.read_models import admin_accounts


def page_data(ctx: ScreenContext, lang: str, query: Mapping[str, str]) -> dict[str, Any]:
    with ctx.session() as session:
        return {"users": admin_accounts.users(session), "units": admin_accounts.units(session),
                "timezone": ctx.settings.timezone}


def summary(ctx: ScreenContext) -> dict[str, Any]:
    with ctx.session() as session:
        return admin_accounts.summary(session)
