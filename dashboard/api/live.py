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
from tickets.roles import scope_unit_code

from dashboard.api.base import blueprint
from dashboard.api.base import platform as _platform
from dashboard.api.errors import ApiError
from dashboard.api.openapi import ANY_OBJECT, BOOL, INT, LANG, PUBLIC, STR, TIME, Param, obj, operation, ref
from dashboard.api.params import in_scope
from dashboard.auth import current_actor, public, require_login
from dashboard.build import build_id
from dashboard.live import branch
from dashboard.read_models.live import snapshot

UNIT = Param("unit", STR, "a unit's code (e.g. JN-LX): its subtree only")
HEALTH = obj({"status": STR, "database": STR, "redis": STR, "leader": BOOL, "relayed": INT,
              "pool": ANY_OBJECT, "warnings": {"type": "array"}, "calendar_warnings": {"type": "array"}},
             required=())


@blueprint.get("/live/snapshot")
@operation("Everything a live screen starts from; pushes carry on from counters.seq", {200: obj({
    "counters": ANY_OBJECT, "warnings": {"type": "array"}, "units": {"type": "array"}, "flow": {"type": "array"},
    "ticker": {"type": "array"}, "server_time": TIME, "channels": {"type": "array", "items": STR},
    "labels": ANY_OBJECT, "alerts": {"type": "array", "items": ref("Alert")}, "build": STR,
    "unit": {"type": ["string", "null"]}, "duty": {"type": "array"},
}, required=("counters", "warnings", "units", "flow", "ticker", "server_time", "channels", "labels", "alerts",
             "build", "duty"))}, params=(LANG, UNIT), description="503 with Retry-After while the live state is rebuilt or Redis is away. "
   "With ``unit``: that unit's subtree only (a branch bureau's wall), 403 outside the caller's scope; "
   "without it, the caller's scope (the city, or their unit's subtree).")
@require_login()  # any actor, a wall's kiosk token included
def live_snapshot() -> Any:
    """Everything a live screen starts from; pushes carry on from its ``seq``."""
    platform = _platform()
    code = _unit_asked()
    subtree = _subtree(code)  # outside the caller's scope: 403, whatever the live state
    try:
        if not platform.aggregator.ready():
            raise ApiError(503, "live_rebuilding")
        lang = normalise(request.args.get("lang"))
        if code is None:
            body = snapshot(platform.aggregator, lang)
        else:
            body = snapshot(_Branch(platform, code), lang)
        body["duty"] = branch.duty_list(platform.aggregator, subtree)
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
        raise ApiError(503, "redis_unreachable") from None
    # Read after the live state: an alert raised or acknowledged since its seq is in this list and
    # comes again by push, which the wall applies by the alert's id (the same state twice is harmless).
    actor = current_actor()
    assert actor is not None
    with platform.factory() as session:
        stmt = in_scope(select(Alert, Unit).outerjoin(Unit, Unit.id == Alert.unit_id), Alert.unit_id, actor, session)
        body["alerts"] = [alert_view(a, u) for a, u in session.execute(alerts.calling(stmt))]
    body["build"] = build_id()  # a wall reloads once when it changes: a new release
    return jsonify(body)


@blueprint.get("/live/duty")
@operation("The wall's duty list: breached and amber clocks of open tickets, most late first (public fields)",
           {200: obj({"rows": {"type": "array"}})}, params=(UNIT,))
@require_login()
def live_duty() -> Any:
    platform = _platform()
    try:
        return jsonify({"rows": branch.duty_list(platform.aggregator, _subtree(_unit_asked()))})
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
        raise ApiError(503, "redis_unreachable") from None


def _unit_asked() -> str | None:
    """The unit whose live state is asked for: ``?unit=``, else the caller's own scope (a
    station's officer, a branch's kiosk: their subtree; None, the city, for city-wide callers)."""
    actor = current_actor()
    assert actor is not None
    return request.args.get("unit") or scope_unit_code(actor)


class _Branch:
    """A branch's snapshot in the shape ``read_models.live.snapshot`` completes."""

    def __init__(self, platform: Any, code: str) -> None:
        self.platform, self.code = platform, code

    def snapshot(self) -> dict[str, Any]:
        return branch.branch_snapshot(self.platform.aggregator, self.platform.factory, self.code)


def _subtree(code: str | None) -> set[int] | None:
    """The unit ``code``'s subtree (None: the whole bureau), if the caller may see all of it."""
    if code is None:
        return None
    actor = current_actor()
    assert actor is not None
    try:
        _root, subtree, _children, _pairs = branch.units_below(_platform().factory, code)
    except branch.UnknownUnit:
        raise ApiError(404, "unknown_unit", unit=code) from None
    if actor.visible_unit_ids is not None and not subtree <= actor.visible_unit_ids:
        raise ApiError(403, "outside_scope", unit=code)
    return subtree


@blueprint.get("/live/position")
@operation("The live state's (epoch, seq): a screen reads it before its data, then applies pushes after it",
           {200: obj({"epoch": {"type": ["string", "null"]}, "seq": INT})})
@require_login()
def live_position() -> Any:
    try:
        return jsonify(_platform().aggregator.position())
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
        raise ApiError(503, "redis_unreachable") from None


def _pool(platform: Any) -> dict[str, Any]:
    """This process's connections (size, in use, beyond the size) and, on PostgreSQL, the
    sessions of its database waiting for a lock now: what a stuck writer shows first."""
    engine = platform.factory.kw["bind"]
    pool = engine.pool
    found: dict[str, Any] = {"size": getattr(pool, "size", lambda: None)(),
                             "in_use": getattr(pool, "checkedout", lambda: None)(),
                             "overflow": getattr(pool, "overflow", lambda: None)()}
    if engine.dialect.name == "postgresql":
        try:
            with platform.factory() as session:
                found["lock_waits"] = session.execute(text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND datname = current_database()")).scalar_one()
        except Exception as exc:  # reported, not raised: this is the health check
            found["lock_waits"] = f"error: {exc.__class__.__name__}"
    return found


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
    status["pool"] = _pool(platform)
    # Years assumed Monday–Friday because the official calendar is not loaded:
    # the codes with their English message, and the messages alone as before.
    warnings = [{**w, "message": warning_text(w, "en")} for w in sla.calendar_warnings()]
    status["warnings"] = warnings
    status["calendar_warnings"] = [w["message"] for w in warnings]
    code = 200 if status["database"] == "ok" and status["redis"] == "ok" else 503
    if current_actor() is None:
        return jsonify(status="ok" if code == 200 else "error"), code
    return jsonify(status), code
