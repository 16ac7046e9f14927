"""The rules section of /admin: the versions of the deadline rules, and the preview of a draft
(the page's script puts the form's fields in ``admin-rules-draft``; the draft is re-judged on
last week's tickets here, nothing stored). Saving is the API's (``dashboard/api/admin_rules.py``)."""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, time, timedelta
from itertools import pairwise
from typing import Any
from urllib.parse import parse_qs

from dash import Dash, Input, Output, State
from dash.development.base_component import Component

from callbacks.screen import ScreenContext
from dashboard.read_models import admin_rules as read
from layouts import admin_rules as layout
from layouts.i18n import normalise
from tickets import sla_versions
from tickets.errors import Invalid
from tickets.models import utcnow

WRITERS = frozenset({"admin"})


def page_data(ctx: ScreenContext, lang: str, query: Mapping[str, str]) -> dict[str, Any]:
    now, tz = utcnow(), ctx.settings.tz
    lead = float(ctx.settings.sla_version_lead_minutes)
    with ctx.session() as session:
        versions = read.versions(session, now)
    made = [v for v in versions if v["state"] != "withdrawn"]
    for before, after in pairwise(made):
        after["changes"] = sla_versions.differences(before["rules"], after["rules"])
    last = read.last_made(versions)
    earliest = now + timedelta(minutes=lead)
    if last["effective_from"] is not None:
        earliest = max(earliest, datetime.fromisoformat(last["effective_from"]) + timedelta(minutes=1))
    # Suggested: the next local midnight after the earliest instant (a new day is a clean cut).
    suggested = datetime.combine(earliest.astimezone(tz).date() + timedelta(days=1), time(), tz)
    return {"versions": versions, "timezone": ctx.settings.timezone, "lead": lead,
            "earliest": f"{earliest.astimezone(tz):%Y-%m-%d %H:%M}", "suggested": f"{suggested:%Y-%m-%d %H:%M}",
            "overrides": sla_versions.overrides_text(last["rules"])}


def summary(ctx: ScreenContext) -> dict[str, Any]:
    now = utcnow()
    with ctx.session() as session:
        versions = read.versions(session, now)
    current = next(v for v in versions if v["state"] == "in_force")
    pending = [v for v in versions if v["state"] == "pending"]
    out: dict[str, Any] = {"number": current["number"], "count": len(versions)}
    if pending:
        at = datetime.fromisoformat(pending[0]["effective_from"]).astimezone(ctx.settings.tz)
        out.update(next_number=pending[0]["number"], next_at=f"{at:%Y-%m-%d %H:%M}")
    return out


def register(app: Dash, ctx: ScreenContext) -> None:
    def show(draft: Mapping[str, Any] | None, search: str | None) -> Component:
        lang = normalise(parse_qs((search or "").lstrip("?")).get("lang", [None])[-1])
        actor = ctx.actor()
        if not draft or actor is None or actor.role not in WRITERS or not ctx.may_view("/admin"):
            return layout.preview(lang)
        now = utcnow()
        try:
            with ctx.session() as session:
                base = read.last_made(read.versions(session, now))["rules"]
                result = read.preview(session, sla_versions.draft_from_fields(draft, base), now, ctx.settings.tz)
        except Invalid as exc:
            return layout.preview(lang, error=str(exc.params.get("reason", exc.code)))
        return layout.preview(lang, result)

    app.callback(Output("admin-rules-preview", "children"), Input("admin-rules-draft", "data"),
                 State("url", "search"), prevent_initial_call=True)(show)
