"""Early-warning alerts: surges and recurring issues (the rules: geo/surges.py).

    GET /api/v1/alerts[?status=open|closed|all][&kind=surge|recurring][&topic=noise][&unit=CODE]

A page (dashboard/api/pagination.py), newest first (by when the alert was last seen). Any actor may read them, a
wall's kiosk token too; a user sees the alerts of the units they may see (the
city, the platform office and kiosks: all). The periodic detector in the
leader process writes them (tickets/alerts.py); each change is also pushed
live as an ``alert`` event.
"""
from __future__ import annotations

from typing import Any

from flask import jsonify, request
from sqlalchemy import select

from dashboard.api import serializers
from dashboard.api.base import blueprint, platform
from dashboard.api.hotspots import TOPIC, parse_topic
from dashboard.api.openapi import INT, PAGE, STR, UNIT, one_of, operation, page_of
from dashboard.api.pagination import Key, page
from dashboard.api.params import choice, in_scope, optional_choice
from dashboard.auth import current_actor, require_login
from tickets.alerts import KINDS, STATUSES
from tickets.models import Alert, Unit


@blueprint.get("/alerts")
@operation("Early warnings (surges, recurring issues), newest first", {200: page_of("Alert", status=STR, count=INT)},
           params=(one_of("status", (*STATUSES, "all"), default="open"), one_of("kind", KINDS), TOPIC, UNIT, *PAGE))
@require_login()
def get_alerts() -> Any:
    actor = current_actor()
    assert actor is not None
    status = choice("status", "open", (*STATUSES, "all"))
    kind = optional_choice("kind", list(KINDS))
    topic = parse_topic(request.args.get("topic"))
    stmt = select(Alert, Unit).outerjoin(Unit, Unit.id == Alert.unit_id)
    if status != "all":
        stmt = stmt.where(Alert.status == status)
    if kind:
        stmt = stmt.where(Alert.kind == kind)
    if topic:
        stmt = stmt.where(Alert.topic == topic)
    with platform().factory() as session:
        stmt = in_scope(stmt, Alert.unit_id, actor, session)
        body = page(session, stmt, (Key(Alert.last_seen_at, descending=True), Key(Alert.id, descending=True)),
                    serializers.alert)
    return jsonify(status=status, count=len(body["items"]), **body)
