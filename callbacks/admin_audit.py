"""The audit section of /admin: the log filtered by person, ticket, action and time, paged by id,
and the chain's state. Read-only for everyone; admins and the supervisors read it (a branch's
supervisor only the rows about its own tickets, as ``GET /api/v1/audit``)."""
from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from time import monotonic
from typing import Any

from sqlalchemy import select

from callbacks.screen import ScreenContext
from dashboard.read_models import admin_audit
from tickets import audit
from tickets.models import Ticket

FILTERS = ("actor", "ticket", "action", "since", "until")


def _day(raw: str | None, tz: Any, *, end: bool = False) -> datetime | None:
    """A local day (YYYY-MM-DD) as the instant it starts (``end``: the next day's start)."""
    try:
        day = date.fromisoformat(raw or "")
    except ValueError:
        return None
    if end:
        day += timedelta(days=1)
    return datetime.combine(day, time(), tz).astimezone(UTC)


def _before(raw: str | None) -> int | None:
    return int(raw) if raw and raw.isdigit() and len(raw) < 12 else None


def page_data(ctx: ScreenContext, lang: str, query: Mapping[str, str]) -> dict[str, Any]:
    tz = ctx.settings.tz
    actor = ctx.actor()
    filters = {k: (query.get(k) or "").strip()[:64] for k in FILTERS}
    action = filters["action"] if filters["action"] in audit.ACTIONS else None
    with ctx.session() as session:
        rows, older = admin_audit.entries(
            session, actor=filters["actor"] or None, ticket=filters["ticket"] or None, action=action,
            since=_day(filters["since"], tz), until=_day(filters["until"], tz, end=True),
            before=_before(query.get("before")),
            tickets=None if actor is None or actor.visible_unit_ids is None else
            select(Ticket.number).where(Ticket.unit_id.in_(sorted(actor.visible_unit_ids))))
        chain = _chain(ctx, session)
    return {"rows": rows, "older": older, "filters": filters, "chain": chain, "timezone": ctx.settings.timezone,
            "actions": list(audit.ACTIONS)}


# The last walk of the chain in this process, by database: the full walk's time and where it ended.
_walked: dict[str, dict[str, Any]] = {}
_walked_lock = threading.Lock()


def _chain(ctx: ScreenContext, session: Any) -> dict[str, Any]:
    """The whole chain walked at most every ``settings.audit_full_check_seconds`` (an edited past row
    shows then); in between only the rows appended since the last walk."""
    key, now = str(ctx.settings.database_url), monotonic()
    with _walked_lock:
        last = _walked.get(key)
    if last is None or last["chain"]["broken_at"] is not None or now - last["full_at"] > \
            ctx.settings.audit_full_check_seconds:
        chain, full_at = admin_audit.chain(session), now
    else:
        head_id, head_hash = last["chain"]["head"]
        chain = admin_audit.chain(session, head_id, head_hash, last["chain"]["checked"])
        full_at = last["full_at"]
    with _walked_lock:
        _walked[key] = {"chain": chain, "full_at": full_at}
    return chain


def summary(ctx: ScreenContext) -> dict[str, Any]:
    with ctx.session() as session:
        return admin_audit.summary(session)
