"""One ticket, and its timeline, for the people working on it.

    GET /api/v1/tickets/<number>            the ticket's public view: no citizen's name or phone number
    GET /api/v1/tickets/<number>/events     its timeline, oldest first; a page (dashboard/api/pagination.py)

Users only (kiosks see tickets as the live path pushes them), and only
tickets of the units they may see: any other number is 404, as if unknown.
"""
from __future__ import annotations

from typing import Any

from flask import jsonify
from sqlalchemy import select
from sqlalchemy.orm import Session

from dashboard.api import serializers
from dashboard.api.base import blueprint
from dashboard.api.base import platform as _platform
from dashboard.api.openapi import PAGE, STR, operation, page_of, ref
from dashboard.api.pagination import Key, page
from tickets.services import ticket_in_scope
from dashboard.auth import current_actor, require_login
from tickets.models import Ticket, TicketEvent, Unit
from tickets.roles import ROLES


def _ticket(session: Session, number: str) -> Ticket:
    actor = current_actor()
    assert actor is not None  # require_login
    return ticket_in_scope(session, actor, number)


@blueprint.get("/tickets/<number>")
@operation("A ticket's public view (no citizen's name or phone number)", {200: ref("Ticket")}, roles=ROLES)
@require_login(ROLES)
def get_ticket(number: str) -> Any:
    with _platform().factory() as session:
        ticket = _ticket(session, number)
        return jsonify(serializers.ticket(ticket, ticket.unit))


@blueprint.get("/tickets/<number>/events")
@operation("A ticket's timeline, oldest first", {200: page_of("TimelineEvent", number=STR)}, params=PAGE,
           roles=ROLES)
@require_login(ROLES)
def ticket_events(number: str) -> Any:
    with _platform().factory() as session:
        ticket = _ticket(session, number)
        stmt = (select(TicketEvent, Unit).outerjoin(Unit, Unit.id == TicketEvent.unit_id)
                .where(TicketEvent.ticket_id == ticket.id))
        return jsonify(number=ticket.number, **page(session, stmt, (Key(TicketEvent.at), Key(TicketEvent.id)),
                                                    serializers.timeline_event))
