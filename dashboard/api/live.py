"""Live state for screens, and the health check."""
from __future__ import annotations

from typing import Any

import redis
from flask import jsonify, request
from sqlalchemy import select, text

from layouts.i18n import normalise, warning_text
from tickets import alerts, sla
from tickets.alerts import alert_view
from tickets.models import Alert, Unit

from dashboard.api.base import blueprint
from dashboard.api.base import platform as _platform
from dashboard.api.errors import ApiError
from dashboard.api.openapi import ANY_OBJECT, BOOL, INT, LANG, PUBLIC, STR, TIME, obj, operation, ref
from dashboard.api.params import in_scope
from dashboard.auth import current_actor, public, require_login
from dashboard.read_models.live import snapshot

HEALTH = obj({"status": STR, "database": STR, "redis": STR, "leader": BOOL, "relayed": INT,
              "warnings": {"type": "array"}, "calendar_warnings": {"type": "array"}}, required=())


@blueprint.get("/live/snapshot")
@operation("Everything a live screen starts from; pushes carry on from counters.seq", {200: obj({
    "counters": ANY_OBJECT, "warnings": {"type": "array"}, "units": {"type": "array"}, "flow": {"type": "array"},
    "ticker": {"type": "array"}, "server_time": TIME, "channels": {"type": "array", "items": STR},
    "labels": ANY_OBJECT, "alerts": {"type": "array", "items": ref("Alert")},
})}, params=(LANG,), description="503 with Retry-After while the live state is rebuilt or Redis is away.")
@require_login()  # any actor, a wall's kiosk token included
def live_snapshot() -> Any:
    """Everything a live screen starts from; pushes carry on from its ``seq``."""
    platform = _platform()
    try:
        if not platform.aggregator.ready():
            raise ApiError(503, "live_rebuilding")
        body = snapshot(platform.aggregator, normalise(request.args.get("lang")))
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
        raise ApiError(503, "redis_unreachable") from None
    # Read after the live state: an alert raised or acknowledged since its seq is in this list and
    # comes again by push, which the wall applies by the alert's id (the same state twice is harmless).
    actor = current_actor()
    assert actor is not None
    with platform.factory() as session:
        stmt = in_scope(select(Alert, Unit).outerjoin(Unit, Unit.id == Alert.unit_id), Alert.unit_id, actor, session)
        body["alerts"] = [alert_view(a, u) for a, u in session.execute(alerts.calling(stmt))]
    return jsonify(body)


@blueprint.get("/live/position")
@operation("The live state's (epoch, seq): a screen reads it before its data, then applies pushes after it",
           {200: obj({"epoch": {"type": ["string", "null"]}, "seq": INT})})
@require_login()
def live_position() -> Any:
    try:
        return jsonify(_platform().aggregator.position())
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
        raise ApiError(503, "redis_unreachable") from None


@blueprint.get("/health")
@operation("For load balancers: the status, and the details for a logged-in caller", {200: HEALTH, 503: HEALTH},
           auth=PUBLIC)
@public  # for load balancers; the details only for someone logged in
def health() -> Any:
    platform = _platform()
    status: dict[str, Any] = {"database": "ok", "redis": "ok"}
    try:
        with platform.factory() as session:
            session.execute(text("SELECT 1"))
    except Exception as exc:  # report, do not raise: this is the health check
        status["database"] = f"error: {exc.__class__.__name__}"
    try:
        platform.redis.ping()
        status["leader"] = platform.leadership.is_leader()
    except Exception as exc:
        status["redis"] = f"error: {exc.__class__.__name__}"
    status["relayed"] = platform.relay.relayed
    # Years assumed Monday–Friday because the official calendar is not loaded:
    # the codes with their English message, and the messages alone as before.
    warnings = [{**w, "message": warning_text(w, "en")} for w in sla.calendar_warnings()]
    status["warnings"] = warnings
    status["calendar_warnings"] = [w["message"] for w in warnings]
    code = 200 if status["database"] == "ok" and status["redis"] == "ok" else 503
    if current_actor() is None:
        return jsonify(status="ok" if code == 200 else "error"), code
    return jsonify(status), code
