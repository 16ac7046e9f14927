"""The duty officer's watch (值班台): which clocks are late or near, and who has taken each.

A duty row is one clock of one open ticket: the contact clock (1 hour from dispatch,
on the wall clock, until the citizen is contacted) or the resolve clock (working
time, until the ticket closes), when it is **amber** (past its 75 % warning) or
**breached** (past its deadline). A ticket may have two rows; each says which clock.

An **acknowledgement** says a duty officer has seen one state of one clock and taken
it. It holds for ``DutyRules.acknowledgement_minutes``; after that it lapses and the
row asks for attention again, unless the ticket moved meanwhile (its version is past
the one acknowledged: somebody acted on it), in which case it holds. A clock that
goes from amber to breached is a new state: the amber's acknowledgement does not
cover the breach. Acknowledging never stops or moves a deadline.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from tickets.errors import Conflict, IllegalStep, NotAllowed
from tickets.events import record_event
from tickets.lifecycle import OPEN
from tickets.models import BreachAcknowledgement, Ticket
from tickets.roles import STEP_ROLES, Actor
from tickets.uow import UnitOfWork

CLOCKS = ("contact", "resolve")
STATES = ("amber", "breached")


class Clocked(Protocol):
    """What the clocks are read from: a ticket, or a plain row of its columns."""

    status: str
    contacted_at: datetime | None
    contact_due_at: datetime | None
    contact_warn_at: datetime | None
    resolve_due_at: datetime | None
    resolve_warn_at: datetime | None


@dataclass(frozen=True)
class ClockState:
    clock: str  # contact | resolve
    state: str  # amber | breached
    due_at: datetime
    warn_at: datetime | None


def clock_states(ticket: Clocked, now: datetime) -> list[ClockState]:
    """The ticket's clocks that are amber or breached at ``now`` (none once it is closed)."""
    if ticket.status not in OPEN:
        return []
    out = []
    for clock, due, warn, running in (
        ("contact", ticket.contact_due_at, ticket.contact_warn_at, ticket.contacted_at is None),
        ("resolve", ticket.resolve_due_at, ticket.resolve_warn_at, True),
    ):
        if not running or due is None:
            continue
        if due <= now:
            out.append(ClockState(clock, "breached", due, warn))
        elif warn is not None and warn <= now:
            out.append(ClockState(clock, "amber", due, warn))
    return out


def holds(ack: BreachAcknowledgement, ticket_version: int, now: datetime) -> bool:
    """Does the acknowledgement still hold: not lapsed yet, or the ticket moved since?"""
    return now < ack.lapses_at or ticket_version > ack.ticket_version


def holding(session: Session, versions: dict[int, int], now: datetime
            ) -> dict[tuple[int, str, str], BreachAcknowledgement]:
    """(ticket id, clock, state) → the acknowledgement that holds now, for the tickets of
    ``versions`` (ticket id → its version). The latest of each key wins."""
    if not versions:
        return {}
    out: dict[tuple[int, str, str], BreachAcknowledgement] = {}
    for ack in session.scalars(select(BreachAcknowledgement)
                               .where(BreachAcknowledgement.ticket_id.in_(sorted(versions)))
                               .order_by(BreachAcknowledgement.at, BreachAcknowledgement.id)):
        if holds(ack, versions[ack.ticket_id], now):
            out[(ack.ticket_id, ack.clock, ack.state)] = ack
    return out


def acknowledge(uow: UnitOfWork, ticket: Ticket, clock: str, at: datetime, actor: Actor,
                note: str | None = None) -> BreachAcknowledgement:
    """Take the clock's current state (amber or breached). Refused if the clock is neither
    (the ticket moved on), or somebody's acknowledgement of that state still holds."""
    if actor.role not in STEP_ROLES["acknowledge_breach"] and not actor.is_system:
        raise NotAllowed("role_may_not", user=actor.name, role=actor.role, step="acknowledge")
    if clock not in CLOCKS:
        raise IllegalStep("unknown_clock", number=ticket.number, clock=clock)
    state = next((c.state for c in clock_states(ticket, at) if c.clock == clock), None)
    if state is None:
        raise IllegalStep("nothing_to_acknowledge", number=ticket.number, clock=clock)
    version = ticket.version or 1
    taken = holding(uow, {ticket.id: version}, at).get((ticket.id, clock, state))
    if taken is not None:
        raise Conflict("already_acknowledged", number=ticket.number, clock=clock, by=taken.actor,
                       at=taken.at.isoformat())
    ack = BreachAcknowledgement(
        ticket_id=ticket.id, clock=clock, state=state, user_id=actor.user_id, actor=actor.name, at=at,
        note=(note or "").strip() or None, ticket_version=version,
        lapses_at=at + timedelta(minutes=uow.config.duty.acknowledgement_minutes))
    uow.add(ack)
    # On the timeline, and through the outbox to every console (a second browser sees it taken).
    record_event(uow, ticket, "breach_acknowledged", at, actor=actor.name, actor_id=actor.user_id, note=ack.note,
                 data={"clock": clock, "state": state, "lapses_at": ack.lapses_at.isoformat()})
    return ack
