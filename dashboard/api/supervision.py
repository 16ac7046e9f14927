"""Supervision orders (督办单) for the duty console.

    GET  /api/v1/supervision/orders[?status=open|answered|closed|all][&unit=CODE][&limit=N]
    POST /api/v1/tickets/<number>/supervision     {"note": "..."}   (one-click order)

Listing needs a login (any role; kiosks do not see it) and shows the orders of
the caller's scope: the city sees all, a level-2 unit its subtree. Issuing
needs a role that may supervise (admin, supervisor, duty officer, leader);
others get 403 with the reason. An open order already on the ticket is 409.
"""
from __future__ import annotations

from typing import Any

from flask import jsonify, request
from sqlalchemy import select

from dashboard.api import blueprint, platform as _platform
from dashboard.auth import current_actor, require_login
from tickets import services, supervision
from tickets.errors import IllegalStep, NotAllowed, NotFound
from tickets.models import SupervisionOrder, Ticket, Unit, utcnow
from tickets.roles import ROLES, STEP_ROLES
from tickets.uow import unit_of_work

STATUSES = ("open", "answered", "closed")


def order_json(order: SupervisionOrder, ticket: Ticket, unit: Unit, now: Any) -> dict[str, Any]:
    return {
        "number": order.number,
        "ticket_number": ticket.number,
        "ticket_title": ticket.title,
        "ticket_status": ticket.status,
        "unit_code": unit.code,
        "unit_name": unit.name,
        "reason": order.reason,
        "reason_label": supervision.ORDER_REASONS.get(order.reason, order.reason),
        "status": order.status,
        "issued_at": order.issued_at.isoformat(),
        "issued_by": order.issued_by,
        "due_at": order.due_at.isoformat(),
        "overdue": order.status == "open" and order.due_at <= now,
        "addressee_id": order.addressee_id,
        "answered_at": order.answered_at.isoformat() if order.answered_at else None,
        "answer": order.answer,
        "note": order.note,
    }


@blueprint.get("/supervision/orders")
@require_login(ROLES)
def supervision_orders() -> Any:
    actor = current_actor()
    assert actor is not None
    status = request.args.get("status", "open")
    if status not in (*STATUSES, "all"):
        return jsonify(error=f"status must be one of {', '.join(STATUSES)} or all, not {status!r}"), 400
    try:
        limit = max(1, min(1000, int(request.args.get("limit", "200"))))
    except ValueError:
        return jsonify(error="limit must be a number"), 400
    query = (select(SupervisionOrder, Ticket, Unit)
             .join(Ticket, Ticket.id == SupervisionOrder.ticket_id)
             .join(Unit, Unit.id == SupervisionOrder.unit_id)
             .order_by(SupervisionOrder.due_at, SupervisionOrder.id).limit(limit))
    if status != "all":
        query = query.where(SupervisionOrder.status == status)
    if actor.visible_unit_ids is not None:
        query = query.where(SupervisionOrder.unit_id.in_(actor.visible_unit_ids))
    code = request.args.get("unit")
    now = utcnow()
    with _platform().factory() as session:
        if code:
            unit = session.scalar(select(Unit).where(Unit.code == code))
            if unit is None or not actor.sees_unit(unit.id):
                return jsonify(error=f"unknown unit {code!r}"), 404
            query = query.where(SupervisionOrder.unit_id == unit.id)
        rows = session.execute(query).all()
        orders = [order_json(o, t, u, now) for o, t, u in rows]
    return jsonify(status=status, count=len(orders), orders=orders)


@blueprint.post("/tickets/<number>/supervision")
@require_login(STEP_ROLES["supervise"])
def issue_supervision(number: str) -> Any:
    actor = current_actor()
    assert actor is not None
    body = request.get_json(silent=True) or {}
    note = body.get("note") if isinstance(body, dict) else None
    if note is not None and not isinstance(note, str):
        return jsonify(error="note must be a string"), 400
    platform = _platform()
    try:
        with unit_of_work(platform.factory) as uow:
            order = services.issue_supervision_order(uow, actor, number, note=note)
            result = order_json(order, order.ticket, order.unit, utcnow())
    except NotFound:
        return jsonify(error=f"unknown ticket {number!r}"), 404
    except NotAllowed as exc:
        return jsonify(error=str(exc)), 403
    except IllegalStep as exc:
        return jsonify(error=str(exc)), 409
    return jsonify(result), 201
