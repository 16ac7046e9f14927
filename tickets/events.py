"""The one writer of timeline events and outbox rows.

Every step of a ticket is a timeline row (``ticket_events``) and an outbox
message; nothing else in the platform writes either table. A step recorded
with :func:`record_events` gets an outbox message of its own; the bulk writer
(``tickets.batch``) hands a whole batch's events to :func:`record_rows`, which
puts them into one message (``TICKETS_TOPIC``); alerts announce themselves with
:func:`announce`. All of it is added to the caller's unit of work, so it
commits with the change that caused it or not at all, and every event is
published on the unit of work's bus (``tickets.bus``) as it is written. The
outbox payload is what leaves the database for the live path: it carries no
personal data (names, phone numbers), since it ends up on shared screens.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from types import SimpleNamespace

from tickets.db import bulk_insert, reserve_ids, sequence_ids
from tickets.models import OutboxMessage, Ticket, TicketEvent, Unit
from tickets.uow import UnitOfWork

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
        "version": ticket.version or 1,
        "calendar": ticket.calendar,  # None: the bureau's (tickets.calendars)
        "handling_hours": ticket.handling_hours,
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
    uow: UnitOfWork,
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
    return record_events(uow, [NewEvent(ticket, kind, at, actor, actor_id, unit, note, data)])[0]


def record_events(uow: UnitOfWork, steps: Sequence[NewEvent]) -> list[TicketEvent]:
    """:func:`record_event` for several steps, with one flush for all their ids; the bus hears
    them in order."""
    events = [TicketEvent(id=eid, ticket=e.ticket, kind=e.kind, at=e.at, actor=e.actor, actor_id=e.actor_id,
                          unit_id=e.unit.id if e.unit else e.ticket.unit_id, note=e.note, data=e.data or {})
              for e, eid in zip(steps, sequence_ids(uow, TicketEvent.__table__, len(steps)))]
    uow.add_all(events)
    uow.flush()  # ids for the payloads
    uow.add_all([
        OutboxMessage(id=mid, topic=TICKET_TOPIC, payload={
            "event_id": event.id, "event": e.kind, "at": e.at.isoformat(), "actor": e.actor, "data": e.data or {},
            "ticket": public_view(e.ticket, e.ticket.unit if e.ticket.unit_id else None)})
        for e, event, mid in zip(steps, events, sequence_ids(uow, OutboxMessage.__table__, len(steps)))])
    uow.info["wrote_outbox"] = True
    for e, event in zip(steps, events):
        uow.bus.publish(uow, e.kind, [(e.ticket, event)])
    return events


def event_row(ticket_id: int, kind: str, at: datetime, unit_id: int | None, data: dict[str, Any]) -> dict[str, Any]:
    """A timeline row for :func:`record_rows`, by the system."""
    return {"id": None, "ticket_id": ticket_id, "kind": kind, "at": at, "actor": "system", "actor_id": None,
            "unit_id": unit_id, "note": None, "data": data}


def record_rows(uow: UnitOfWork, rows: list[dict[str, Any]], announced: Sequence[tuple[int, dict[str, Any]]],
                now: datetime, *, publish: Sequence[tuple[dict[str, Any], int]] = ()) -> None:
    """A bulk writer's timeline rows (:func:`event_row`), written with the driver's executemany.

    ``announced``: (position in ``rows``, the ticket's public view) of the events the live
    path needs, which leave in one outbox message, in order. ``publish``: (ticket columns,
    position in ``rows``) of the events the bus hears, published in time order as plain rows.
    """
    for i, eid in zip([i for i, _view in announced], reserve_ids(uow, TicketEvent.__table__, len(announced))):
        rows[i]["id"] = eid  # the outbox payload names its events
    bulk_insert(uow, TicketEvent.__table__, [e for e in rows if e["id"] is not None])
    bulk_insert(uow, TicketEvent.__table__, [e for e in rows if e["id"] is None], without_id=True)
    if announced:
        bulk_insert(uow, OutboxMessage.__table__, [
            {"topic": TICKETS_TOPIC, "created_at": now, "relayed_at": None, "payload": {"events": [
                {"event_id": rows[i]["id"], "event": rows[i]["kind"], "at": rows[i]["at"].isoformat(),
                 "actor": "system", "data": rows[i]["data"], "ticket": view} for i, view in announced]}}])
        uow.info["wrote_outbox"] = True
    by_kind: dict[str, list[tuple[Any, Any]]] = {}
    for columns, i in sorted(publish, key=lambda ci: (rows[ci[1]]["at"], ci[0]["id"])):
        by_kind.setdefault(rows[i]["kind"], []).append((SimpleNamespace(**columns), SimpleNamespace(**rows[i])))
    for kind, items in by_kind.items():
        uow.bus.publish(uow, kind, items)


def announce(uow: UnitOfWork, topic: str, payload: dict[str, Any]) -> None:
    """An outbox message that is not a ticket's step (an alert raised or closed)."""
    uow.add(OutboxMessage(topic=topic, payload=payload))
    uow.info["wrote_outbox"] = True
