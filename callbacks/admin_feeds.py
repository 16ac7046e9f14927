"""The feeds section of /admin: its data (``dashboard/read_models/admin_feeds.py``): the 12345
sources of ``settings.hotline_sources_dir`` and the Open311 clients of the settings and the table."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from callbacks.screen import ScreenContext
from dashboard.read_models import admin_feeds
from feeds import hotline
from feeds import open311 as o311
from tickets.models import utcnow

DEFAULT_SOURCE = "hotline_12345"  # the source POST /api/v1/intake/hotline takes (dashboard/api/intake.py)


def _sources(ctx: ScreenContext) -> list[dict[str, Any]]:
    try:
        found = hotline.load_sources(ctx.settings.hotline_sources_dir)
    except hotline.SourceError:  # the push refuses with 500 source_misconfigured and logs it
        return []
    return [{"name": s.name, "label": s.label, "channel": s.channel, "id_prefix": s.id_prefix,
             "has_file_secret": bool(s.secret or ctx.settings.hotline_secret)} for s in found.values()]


def page_data(ctx: ScreenContext, lang: str, query: Mapping[str, str]) -> dict[str, Any]:
    now = utcnow()
    sources = _sources(ctx)
    seeded = sorted(set(o311.parse_keys(ctx.settings.open311_api_keys).values()))
    with ctx.session() as session:
        hotlines = admin_feeds.hotline(session, sources, DEFAULT_SOURCE, now)
        clients = admin_feeds.open311(session, seeded, now)
        letters = admin_feeds.dead_letters(session, sorted({s["channel"] for s in sources} | {"open311"}), now)
        refused = admin_feeds.open311_refused(session, now)
    return {"hotlines": hotlines, "clients": clients, "open311_refused": refused, "dead_letters": letters,
            "timezone": ctx.settings.timezone, "now": now}


def summary(ctx: ScreenContext) -> dict[str, Any]:
    with ctx.session() as session:
        return admin_feeds.summary(session, utcnow())
