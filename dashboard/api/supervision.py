"""Supervision orders (督办单) and reminder letters (提醒函) for the duty console.

    GET  /api/v1/supervision/orders[?status=open|answered|closed|all][&unit=CODE]   a page (dashboard/api/pagination.py)
    GET  /api/v1/supervision/letters[?reason=unsatisfied|repeated|leader_instruction][&unit=CODE]   a page, newest first
    POST /api/v1/tickets/<number>/supervision     {"note": "..."}   (one-click order)
    GET  /api/v1/supervision/orders/<number>.pdf    the order, printable (A4, Chinese, fonts embedded)
    GET  /api/v1/supervision/letters/<number>.pdf   the letter, printable

Listing needs a login (any role; kiosks do not see it) and shows the orders
and letters of the caller's scope: the city sees all, a level-2 unit its
subtree. Orders come soonest due first. Issuing needs a role that may
supervise (admin, supervisor, duty officer, leader); others get 403 with the
reason. An open order already on the ticket is 409.

A document (dashboard/documents/) is for anyone who may list it; outside the
caller's scope it does not exist (404). A server that cannot print it in
Chinese (no WeasyPrint/Pango, no CJK font) answers 503 ``document_*``.
"""
from __future__ import annotations

import logging
from typing import Any

from flask import Response, jsonify, request
from sqlalchemy import select

from dashboard.api import printed
from dashboard.api.base import blueprint
from dashboard.api.base import platform as _platform
from dashboard.api import serializers
from dashboard.api.errors import BadParameter
from dashboard.api.openapi import INT, PAGE, STR, UNIT, obj, one_of, operation, page_of, ref
from dashboard.api.pagination import Key, page
from dashboard.api.params import choice, in_scope, optional_choice
from dashboard.auth import current_actor, require_login
from dashboard.documents import letter as letter_document
from dashboard.documents import order as order_document
from tickets import services, supervision
from tickets.models import ReminderLetter, SupervisionOrder, Ticket, Unit, utcnow
from tickets.roles import ROLES, STEP_ROLES
from tickets.uow import unit_of_work

log = logging.getLogger(__name__)
STATUSES = ("open", "answered", "closed")


@blueprint.get("/supervision/orders")
@operation("Supervision orders (督办单) in the caller's scope, soonest due first",
           {200: page_of("SupervisionOrder", status=STR, count=INT)},
           params=(one_of("status", (*STATUSES, "all"), default="open"), UNIT, *PAGE), roles=ROLES)
@require_login(ROLES)
def supervision_orders() -> Any:
    actor = current_actor()
    assert actor is not None
    status = choice("status", "open", (*STATUSES, "all"))
    query = (select(SupervisionOrder, Ticket, Unit)
             .join(Ticket, Ticket.id == SupervisionOrder.ticket_id)
             .join(Unit, Unit.id == SupervisionOrder.unit_id))
    if status != "all":
        query = query.where(SupervisionOrder.status == status)
    now = utcnow()
    with _platform().factory() as session:
        query = in_scope(query, SupervisionOrder.unit_id, actor, session)
        body = page(session, query, (Key(SupervisionOrder.due_at), Key(SupervisionOrder.id)),
                    lambda o, t, u: serializers.supervision_order(o, t, u, now))
    return jsonify(status=status, count=len(body["items"]), **body)


@blueprint.get("/supervision/letters")
@operation("Reminder letters (提醒函) in the caller's scope, newest first",
           {200: page_of("ReminderLetter", count=INT)},
           params=(one_of("reason", supervision.LETTER_REASONS), UNIT, *PAGE), roles=ROLES)
@require_login(ROLES)
def reminder_letters() -> Any:
    actor = current_actor()
    assert actor is not None
    reason = optional_choice("reason", list(supervision.LETTER_REASONS))
    query = (select(ReminderLetter, Ticket.number, Unit)
             .outerjoin(Ticket, Ticket.id == ReminderLetter.ticket_id)
             .join(Unit, Unit.id == ReminderLetter.unit_id))
    if reason:
        query = query.where(ReminderLetter.reason == reason)
    with _platform().factory() as session:
        query = in_scope(query, ReminderLetter.unit_id, actor, session)
        body = page(session, query, (Key(ReminderLetter.issued_at, descending=True),
                                     Key(ReminderLetter.id, descending=True)), serializers.reminder_letter)
    return jsonify(count=len(body["items"]), **body)


@blueprint.post("/tickets/<number>/supervision")
@operation("Issue a supervision order on a ticket (one click)", {201: ref("SupervisionOrder")},
           body={"application/json": obj({"note": {"type": ["string", "null"]}}, required=())},
           body_required=False, roles=STEP_ROLES["supervise"],
           description="404: no such ticket in the caller's scope; 409: the ticket is closed or has an open order.")
@require_login(STEP_ROLES["supervise"])
def issue_supervision(number: str) -> Any:
    actor = current_actor()
    assert actor is not None
    body = request.get_json(silent=True) or {}
    note = body.get("note") if isinstance(body, dict) else None
    if note is not None and not isinstance(note, str):
        raise BadParameter("note", "not_a_string")
    platform = _platform()
    with unit_of_work(platform.factory) as uow:
        order = services.issue_supervision_order(uow, actor, number, note=note)
        result = serializers.supervision_order(order, order.ticket, order.unit, utcnow())
    return jsonify(result), 201


# ------------------------------------------------------------ documents
_DOCUMENT_ANSWERS = "404: none of that number in the caller's scope; 503: this server cannot print (no PDF " \
                    "renderer, or no Chinese font), code document_renderer_missing or document_font_missing."


@blueprint.get("/supervision/orders/<number>.pdf")
@operation("A supervision order (督办单) as a printable A4 PDF in Chinese, fonts embedded",
           {200: printed.PDF}, roles=ROLES, description=_DOCUMENT_ANSWERS)
@require_login(ROLES)
def supervision_order_pdf(number: str) -> Response:
    actor = current_actor()
    assert actor is not None
    p = _platform()
    with p.factory() as session:
        order = services.order_in_scope(session, actor, number)
        return printed.send(lambda: order_document.pdf(session, order, p.settings.tz), order_document.filename(order))


@blueprint.get("/supervision/letters/<number>.pdf")
@operation("A reminder letter (提醒函) as a printable A4 PDF in Chinese, fonts embedded",
           {200: printed.PDF}, roles=ROLES, description=_DOCUMENT_ANSWERS)
@require_login(ROLES)
def reminder_letter_pdf(number: str) -> Response:
    actor = current_actor()
    assert actor is not None
    p = _platform()
    with p.factory() as session:
        letter = services.letter_in_scope(session, actor, number)
        return printed.send(lambda: letter_document.pdf(session, letter, p.settings.tz), letter_document.filename(letter))
