"""The ticket lifecycle (接单-转办-上报-审核-反馈) as an explicit state machine.

Each step checks that it is allowed from the ticket's current status, changes
the ticket and records its event in the same transaction. An illegal step
raises :class:`IllegalStep` with the reason, and changes nothing.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from tickets.events import record_event
from tickets.models import Ticket
from tickets.vocabulary import STATUSES

# step -> (statuses it may start from, status it leads to)
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "accept": (frozenset({"dispatched"}), "accepted"),
    "contact": (frozenset({"dispatched", "accepted"}), "contacted"),
    "report": (frozenset({"contacted"}), "reported"),
    "reply": (frozenset({"reported"}), "replied"),
    "close": (frozenset({"contacted", "reported", "replied"}), "closed"),
}


class IllegalStep(Exception):
    """A step that the ticket's current status does not allow."""


# step -> the ticket's timestamp column it sets
STAMPS = {"accept": "accepted_at", "contact": "contacted_at", "close": "closed_at"}


def _step(session: Session, ticket: Ticket, step: str, at: datetime, actor: str, note: str | None) -> None:
    allowed_from, to = TRANSITIONS[step]
    if ticket.status not in allowed_from:
        raise IllegalStep(
            f"工单 {ticket.number}: cannot {step} a ticket that is {ticket.status} "
            f"({STATUSES.get(ticket.status, ticket.status)}); allowed from {sorted(allowed_from)}"
        )
    if at < ticket.received_at:
        raise IllegalStep(f"工单 {ticket.number}: {step} at {at.isoformat()} is before it was received")
    ticket.status = to
    if step in STAMPS:
        setattr(ticket, STAMPS[step], at)
    record_event(session, ticket, step, at, actor=actor, note=note)


def accept(session: Session, ticket: Ticket, at: datetime, actor: str = "system", note: str | None = None) -> None:
    _step(session, ticket, "accept", at, actor, note)


def contact(session: Session, ticket: Ticket, at: datetime, actor: str = "system", note: str | None = None) -> None:
    _step(session, ticket, "contact", at, actor, note)


def report(session: Session, ticket: Ticket, at: datetime, actor: str = "system", note: str | None = None) -> None:
    _step(session, ticket, "report", at, actor, note)


def reply(session: Session, ticket: Ticket, at: datetime, actor: str = "system", note: str | None = None) -> None:
    _step(session, ticket, "reply", at, actor, note)


def close(session: Session, ticket: Ticket, at: datetime, actor: str = "system", note: str | None = None) -> None:
    _step(session, ticket, "close", at, actor, note)
