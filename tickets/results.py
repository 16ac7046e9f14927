"""Replies owed to the systems that sent a ticket's work orders.

Every channel that reported a problem gets its reply, merged records included:
when a ticket is replied to (bus handler on ``reply``, same transaction), each
work order pushed to the platform behind it (an intake record whose payload
names its ``source`` and keeps its ``order``) gets a :class:`ConnectorDelivery`
row with the result: who handled it, which unit, when, and the reply text.
The row is the source's own business only at delivery: ``feeds/connectors.py``
puts it into the source's field names and format and sends it after commit.
"""
from __future__ import annotations

from sqlalchemy import select

from tickets.models import ConnectorDelivery, IntakeRecord, Ticket, TicketEvent, Unit, User
from tickets.uow import UnitOfWork


def handler_id(uow: UnitOfWork, event: TicketEvent) -> str:
    """Who replied, as a source knows officers: their police number, else their user name."""
    if event.actor_id is not None:
        user = uow.get(User, event.actor_id)
        if user is not None:
            return user.police_number or user.username
    return event.actor or "system"


def queue_results(uow: UnitOfWork, ticket: Ticket, event: TicketEvent) -> list[ConnectorDelivery]:
    """A delivery per pushed work order behind ``ticket`` (its merged records included)."""
    records = uow.scalars(select(IntakeRecord).where(IntakeRecord.ticket_id == ticket.id)).all()
    pushed = [r for r in records if isinstance(r.payload, dict) and r.payload.get("source")
              and isinstance(r.payload.get("order"), dict)]
    if not pushed:
        return []
    unit = uow.get(Unit, ticket.unit_id) if ticket.unit_id else None
    result = {"handler_id": handler_id(uow, event), "unit_code": unit.code if unit else "",
              "handled_at": event.at.isoformat(), "reply": event.note or ""}
    out = [ConnectorDelivery(connector=str(r.payload["source"]), ticket_id=ticket.id, external_id=r.external_id,
                             payload=dict(result), status="pending", attempts=0, created_at=event.at)
           for r in pushed]
    uow.add_all(out)
    return out
