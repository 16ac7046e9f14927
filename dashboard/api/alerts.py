"""Early-warning alerts: surges and recurring issues (the rules: geo/surges.py).

    GET /api/v1/alerts[?status=open|closed|all][&kind=surge|recurring][&topic=noise][&unit=CODE][&limit=N]

Newest first (by when the alert was last seen). Any actor may read them, a
wall's kiosk token too; a user sees the alerts of the units they may see (the
city, the platform office and kiosks: all). The periodic detector in the
leader process writes them (tickets/alerts.py); each change is also pushed
live as an ``alert`` event.
"""
from __future__ import annotations

from typing import Any

from flask import jsonify, request
from sqlalchemy import select

from dashboard.api import blueprint, platform
from dashboard.api.figures import BadRequest
from dashboard.api.hotspots import parse_topic
from dashboard.auth import current_actor, require_login
from tickets.alerts import KINDS, STATUSES, alert_view
from tickets.models import Alert, Unit


@blueprint.get("/alerts")
@require_login()
def get_alerts() -> Any:
    actor = current_actor()
    assert actor is not None
    status = request.args.get("status", "open")
    if status not in (*STATUSES, "all"):
        raise BadRequest(f"'status' must be one of {', '.join(STATUSES)} or all, not {status!r}")
    kind = request.args.get("kind")
    if kind is not None and kind not in KINDS:
        raise BadRequest(f"'kind' must be one of {', '.join(KINDS)}, not {kind!r}")
    topic = parse_topic(request.args.get("topic"))
    try:
        limit = max(1, min(1000, int(request.args.get("limit", "200"))))
    except ValueError:
        raise BadRequest("'limit' must be a number") from None
    stmt = select(Alert, Unit).outerjoin(Unit, Unit.id == Alert.unit_id).order_by(
        Alert.last_seen_at.desc(), Alert.id.desc()).limit(limit)
    if status != "all":
        stmt = stmt.where(Alert.status == status)
    if kind:
        stmt = stmt.where(Alert.kind == kind)
    if topic:
        stmt = stmt.where(Alert.topic == topic)
    if actor.visible_unit_ids is not None:
        stmt = stmt.where(Alert.unit_id.in_(sorted(actor.visible_unit_ids)))
    with platform().factory() as session:
        code = request.args.get("unit")
        if code:
            unit = session.scalar(select(Unit).where(Unit.code == code))
            if unit is None or not actor.sees_unit(unit.id):
                raise BadRequest(f"unknown unit {code!r}", 404)
            stmt = stmt.where(Alert.unit_id == unit.id)
        alerts = [alert_view(a, u) for a, u in session.execute(stmt).all()]
    return jsonify(status=status, count=len(alerts), alerts=alerts)
