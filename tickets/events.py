"""Domain events: every step of a ticket is a timeline row and an outbox message.

A step recorded here gets an outbox message of its own; a bulk writer
(``tickets.history``) puts a whole batch's events into one (``TICKETS_TOPIC``).
Both are added to the caller's session, so they commit with the change that
caused them or not at all. The outbox payload is what leaves the database
for the live path: it carries no personal data (names, phone numbers), since
it ends up on shared screens.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from tickets import bus
from tickets.db import sequence_ids
from tickets.models import OutboxMessage, Ticket, TicketEvent, Unit

TICKET_TOPIC = "ticket"
# Several ticket events committed together by a bulk writer (a pushed batch, an import
# batch): one outbox message ``{"events": [payload, …]}`` instead of one per event, so the
# relay, the stream and the aggregator handle a batch as one entry.
TICKETS_TOPIC = "tickets"


def event_payloads(topic: str, payload: dict[str, Any]) -> list[dict[str, Any]]:
    """The ticket event payloads one outbox message carries, in order (none: not about tickets)."""
    if topic == TICKETS_TOPIC:
        return list(payload["events"])
    return [payload] if topic == TICKET_TOPIC else []


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def public_view(ticket: Ticket, unit: Unit | None) -> dict[str, Any]:
    """The fields of a ticket that may appear on a shared screen."""
    return {
        "ticket_id": ticket.id,
        "number": ticket.number,
        "channel": ticket.channel,
        "kind": ticket.kind,
        "sla_class": ticket.sla_class,
        "topic": ticket.topic,
        "district": ticket.district,
        "status": ticket.status,
        "unit_id": unit.id if unit else None,
        "unit_code": unit.code if unit else None,
        "unit_name": unit.name if unit else None,
        "received_at": ticket.received_at.isoformat(),
        "closed_at": _iso(ticket.closed_at),
        "dispatched_at": _iso(ticket.dispatched_at),
        "contacted_at": _iso(ticket.contacted_at),
        "contact_due_at": _iso(ticket.contact_due_at),
        "contact_warn_at": _iso(ticket.contact_warn_at),
        "resolve_due_at": _iso(ticket.resolve_due_at),
        "resolve_warn_at": _iso(ticket.resolve_warn_at),
        "direct_dispatch": bool(ticket.direct_dispatch),
        "escalation_level": ticket.escalation_level or 1,
        "satisfaction": ticket.satisfaction,
        "lat": round(ticket.lat, 4) if ticket.lat is not None else None,
        "lon": round(ticket.lon, 4) if ticket.lon is not None else None,
    }


@dataclass(frozen=True)
class NewEvent:
    """One step to record (:func:`record_events`)."""

    ticket: Ticket
    kind: str
    at: datetime
    actor: str = "system"
    actor_id: int | None = None
    unit: Unit | None = None
    note: str | None = None
    data: dict[str, Any] | None = None


def record_event(
    session: Session,
    ticket: Ticket,
    kind: str,
    at: datetime,
    *,
    actor: str = "system",
    actor_id: int | None = None,
    unit: Unit | None = None,
    note: str | None = None,
    data: dict[str, Any] | None = None,
) -> TicketEvent:
    """Append ``kind`` to the ticket's timeline and to the outbox, in this transaction."""
    return record_events(session, [NewEvent(ticket, kind, at, actor, actor_id, unit, note, data)])[0]


def record_events(session: Session, steps: Sequence[NewEvent]) -> list[TicketEvent]:
    """:func:`record_event` for several steps, with one flush for all their ids; the bus hears
    them in order."""
    events = [TicketEvent(id=eid, ticket=e.ticket, kind=e.kind, at=e.at, actor=e.actor, actor_id=e.actor_id,
                          unit_id=e.unit.id if e.unit else e.ticket.unit_id, note=e.note, data=e.data or {})
              for e, eid in zip(steps, sequence_ids(session, TicketEvent.__table__, len(steps)))]
    session.add_all(events)
    session.flush()  # ids for the payloads
    session.add_all([
        OutboxMessage(id=mid, topic=TICKET_TOPIC, payload={
            "event_id": event.id, "event": e.kind, "at": e.at.isoformat(), "actor": e.actor, "data": e.data or {},
            "ticket": public_view(e.ticket, e.ticket.unit if e.ticket.unit_id else None)})
        for e, event, mid in zip(steps, events, sequence_ids(session, OutboxMessage.__table__, len(steps)))])
    session.info["wrote_outbox"] = True
    for e, event in zip(steps, events):
        bus.publish(session, e.ticket, event)
    return events
