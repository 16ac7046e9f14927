"""Live state for screens, and the health check."""
from __future__ import annotations

from typing import Any

import redis
from flask import jsonify, request
from sqlalchemy import text

from layouts.i18n import labels, normalise
from tickets import sla
from tickets.vocabulary import CHANNELS

from dashboard.api import blueprint, platform as _platform
from dashboard.auth import current_actor, public, require_login


@blueprint.get("/live/snapshot")
@require_login()  # any actor, a wall's kiosk token included
def live_snapshot() -> Any:
    """Everything a live screen starts from; pushes carry on from its ``seq``."""
    platform = _platform()
    try:
        if not platform.aggregator.ready():
            return jsonify(error="live state is being rebuilt from the database; retry shortly"), 503
        snapshot = platform.aggregator.snapshot()
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
        return jsonify(error="Redis is unreachable; retry shortly"), 503
    snapshot["channels"] = list(CHANNELS)
    snapshot["labels"] = labels(normalise(request.args.get("lang")))
    return jsonify(snapshot)


@blueprint.get("/health")
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
    # Years the official calendar does not know are assumed Monday–Friday: said here until an admin loads them.
    status["calendar_warnings"] = sla.calendar_warnings()
    code = 200 if status["database"] == "ok" and status["redis"] == "ok" else 503
    if current_actor() is None:
        return jsonify(status="ok" if code == 200 else "error"), code
    return jsonify(status), code
