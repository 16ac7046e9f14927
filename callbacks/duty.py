"""值班台: what the console starts from (``layouts/duty.py``): the live position first, then
the rows, the working periods for the countdowns, the branches to filter by and the rules
its script applies (how long an acknowledgement holds, when breaches come as a digest).
Everything after that arrives by push and goes through the API (``assets/duty.js``)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select

from callbacks.screen import ScreenContext, who, working_periods
from dashboard.read_models import duty
from tickets import sla
from tickets.alerts import alert_view
from tickets.models import Alert, Ticket, Unit, utcnow

ADMIN = "admin"
# The evidence drawn on the inbox's map: at most this many alerts and tickets behind them.
MAP_ALERTS, MAP_POINTS = 50, 2000


def page_data(ctx: ScreenContext, lang: str, query: Mapping[str, str]) -> dict[str, Any]:
    actor = ctx.actor()
    if actor is None:
        return {}
    position = ctx.live_position()  # before the rows: every later event reaches the page by push
    now = utcnow()
    with ctx.session() as session:
        rows = duty.rows(session, actor, now)
        branches = [{"code": u.code, "name": u.name}
                    for u in session.scalars(select(Unit).where(Unit.level == 2, Unit.active.is_(True))
                                             .order_by(Unit.code)) if actor.sees_unit(u.id)]
        # The open early warnings and the tickets behind them, for the inbox's small map.
        alerts = [a for a in session.scalars(select(Alert).where(Alert.status == "open")
                                             .order_by(Alert.last_seen_at.desc()).limit(MAP_ALERTS))
                  if actor.visible_unit_ids is None or actor.sees_unit(a.unit_id)]
        ids = sorted({tid for a in alerts for tid in (a.ticket_ids or [])})[:MAP_POINTS]
        points = [(lat, lon, 1.0) for lat, lon in session.execute(
            select(Ticket.lat, Ticket.lon).where(Ticket.id.in_(ids), Ticket.lat.is_not(None))).tuples()] if ids else []
        alert_views = [alert_view(a) for a in alerts]
    settings = ctx.settings
    return {"rows": rows, "position": position, "timezone": settings.timezone,
            "working": working_periods(settings.tz, now), "nav_items": ctx.nav(), "who": who(actor, lang),
            "branches": branches, "alerts": alert_views, "alert_points": points,
            "rules": {"acknowledgement_minutes": settings.duty_acknowledgement_minutes,
                      "digest_threshold": settings.duty_digest_threshold},
            # Only an admin can load a year's calendar: the warning and what to do go to them.
            "calendar": sla.calendar_warnings(now.astimezone(settings.tz).date()) if actor.role == ADMIN else None}
