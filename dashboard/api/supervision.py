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
from dashboard.api.errors import BadParameter
from dashboard.api.params import choice, integer, visible_unit
from dashboard.auth import current_actor, require_login
from tickets import supervision
from tickets.db import unit_of_work
from tickets.errors import NotFound
from tickets.models import SupervisionOrder, Ticket, Unit, utcnow
from tickets.roles import ROLES, STEP_ROLES

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
    status = choice("status", "open", (*STATUSES, "all"))
    limit = integer("limit", 200, 1, 1000)
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
            unit = visible_unit(session, code, actor)
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
        raise BadParameter("note", "not_a_string")
    platform = _platform()
    with unit_of_work(platform.factory) as session:
        ticket = session.scalar(select(Ticket).where(Ticket.number == number))
        if ticket is None or not actor.sees_unit(ticket.unit_id):
            raise NotFound("unknown_ticket", number=number)
        order = supervision.issue_order(session, ticket, utcnow(), actor, (note or "").strip() or None,
                                        platform.settings.tz)
        result = order_json(order, ticket, order.unit, utcnow())
    return jsonify(result), 201
