"""Ticket queues: the rows a work desk, a dispatch desk and ``GET /api/v1/tickets`` show.

A queue is open tickets in the caller's scope, narrowed by filters, sorted by
the time left on **the clock that matters now**: the contact clock (1 hour on
the wall clock) until the citizen has been contacted while the unit holds the
ticket, the resolve clock (working time) after that. Each row says which clock,
its deadline and amber instants, and its state: ``ok``, ``amber`` (75% of the
allowed time gone) or ``breached``. The browser counts down from the instants;
the server sends changes, not ticks. Rows carry the citizen masked (张**
138****5678), never in full (``tickets/personal.py``).
"""
from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Select, and_, case, func, literal, or_, select, type_coerce
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from tickets import dispatch
from tickets.lifecycle import OPEN
from tickets.models import DuplicateSuggestion, Ticket, Unit, UTCDateTime
from tickets.personal import masked
from tickets.roles import Actor
from tickets.services import allowed_steps

CLOCK_STATES = ("ok", "amber", "breached")
# The unit holds the ticket and has not called the citizen yet: the contact clock runs.
CONTACT_PENDING = ("dispatched", "accepted")
# A ticket without a deadline sorts after every ticket with one.
NO_DEADLINE = datetime(9999, 1, 1).astimezone()
MAX_SEARCH = 100


def _on_contact() -> ColumnElement[bool]:
    return and_(Ticket.contacted_at.is_(None), Ticket.status.in_(CONTACT_PENDING))


def due_column() -> ColumnElement[datetime]:
    """The deadline of the clock that matters now, in SQL (sortable, comparable to now)."""
    return type_coerce(case((_on_contact(), Ticket.contact_due_at), else_=Ticket.resolve_due_at), UTCDateTime())


def warn_column() -> ColumnElement[datetime]:
    return type_coerce(case((_on_contact(), Ticket.contact_warn_at), else_=Ticket.resolve_warn_at), UTCDateTime())


def sort_column() -> ColumnElement[datetime]:
    return type_coerce(func.coalesce(due_column(), literal(NO_DEADLINE, UTCDateTime())), UTCDateTime())


@dataclass(frozen=True)
class Filters:
    """What a queue is narrowed to; every field optional."""

    unit_ids: Collection[int] | None = None  # a unit's subtree (already resolved from its code)
    statuses: Sequence[str] = ()
    topics: Sequence[str] = ()
    channels: Sequence[str] = ()
    clock: str | None = None  # ok | amber | breached
    received_from: datetime | None = None
    received_to: datetime | None = None
    text: str | None = None  # in the number, title, content or address
    numbers: Sequence[str] = ()  # these tickets only (a screen refetching what a push named)


def queue(actor: Actor, filters: Filters, now: datetime) -> Select[Ticket]:
    """Open tickets in the actor's scope matching ``filters`` (unordered: the caller pages it)."""
    stmt = select(Ticket).where(Ticket.status.in_(sorted(OPEN)))
    if actor.visible_unit_ids is not None:
        stmt = stmt.where(Ticket.unit_id.in_(sorted(actor.visible_unit_ids)))
    if filters.unit_ids is not None:
        stmt = stmt.where(Ticket.unit_id.in_(sorted(filters.unit_ids)))
    if filters.statuses:
        stmt = stmt.where(Ticket.status.in_(list(filters.statuses)))
    if filters.numbers:
        stmt = stmt.where(Ticket.number.in_(list(filters.numbers)))
    if filters.topics:
        stmt = stmt.where(Ticket.topic.in_(list(filters.topics)))
    if filters.channels:
        stmt = stmt.where(Ticket.channel.in_(list(filters.channels)))
    if filters.received_from is not None:
        stmt = stmt.where(Ticket.received_at >= filters.received_from)
    if filters.received_to is not None:
        stmt = stmt.where(Ticket.received_at < filters.received_to)
    if filters.text:
        pattern = "%" + filters.text[:MAX_SEARCH].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(or_(*(column.like(pattern, escape="\\") for column in
                                (Ticket.number, Ticket.title, Ticket.content, Ticket.address))))
    if filters.clock is not None:
        due, warn = due_column(), warn_column()
        stmt = stmt.where({
            "breached": due <= now,
            "amber": and_(warn <= now, due > now),
            "ok": or_(due.is_(None), and_(due > now, or_(warn.is_(None), warn > now))),
        }[filters.clock])
    return stmt


def clock_of(ticket: Ticket, now: datetime) -> tuple[str | None, datetime | None, datetime | None, str]:
    """(which clock, its deadline, its amber instant, its state) of one ticket, as the SQL decides."""
    contact = ticket.contacted_at is None and ticket.status in CONTACT_PENDING
    name, due, warn = ("contact", ticket.contact_due_at, ticket.contact_warn_at) if contact else \
        ("resolve", ticket.resolve_due_at, ticket.resolve_warn_at)
    if due is None:
        return None, None, None, "ok"
    state = "breached" if due <= now else "amber" if warn is not None and warn <= now else "ok"
    return name, due, warn, state


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


# What a screen's row reads of a ticket (not its content, the longest column, on the ticket page only).
SCREEN_COLUMNS = (Ticket.number, Ticket.version, Ticket.status, Ticket.title, Ticket.topic, Ticket.channel,
                  Ticket.district, Ticket.address, Ticket.unit_id, Ticket.contacted_at, Ticket.contact_due_at,
                  Ticket.contact_warn_at, Ticket.resolve_due_at, Ticket.resolve_warn_at, Ticket.extension_pending,
                  Ticket.escalation_level, Ticket.citizen_name, Ticket.citizen_phone)


def screen_row(ticket: Ticket, unit: Unit | None, actor: Actor, now: datetime,
               steps: dict[tuple[Any, ...], list[str]] | None = None) -> dict[str, Any]:
    """One row of a work screen: what its grid shows and acts on (citizen masked). ``steps``
    remembers the steps offered per kind of ticket across a screen's rows (they depend on a
    handful of columns)."""
    clock, due, warn, state = clock_of(ticket, now)
    citizen = masked(ticket)
    return {
        "number": ticket.number, "version": ticket.version or 1, "status": ticket.status,
        "title": ticket.title, "topic": ticket.topic, "channel": ticket.channel,
        "district": ticket.district, "address": ticket.address,
        "unit_code": unit.code if unit else None, "unit_name": unit.name if unit else None,
        "clock": clock, "due_at": _iso(due), "warn_at": _iso(warn), "clock_state": state,
        "extension_pending": bool(ticket.extension_pending),
        "citizen": citizen.name, "phone": citizen.phone,
        "allowed_steps": _steps(actor, ticket, steps),
    }


def row(ticket: Ticket, unit: Unit | None, actor: Actor, now: datetime) -> dict[str, Any]:
    """One queue row as the API lists it: the screen's row and every clock's instant."""
    return {**screen_row(ticket, unit, actor, now), **_instants(ticket)}


def _instants(ticket: Ticket) -> dict[str, Any]:
    """What an API row has beyond the screen's (``SCREEN_LEAVES_OUT``): a grid shows the clock that
    matters, not every instant, and a desk of 10,000 tickets carries every row in its first page."""
    return {"kind": ticket.kind, "received_at": ticket.received_at.isoformat(),
            "dispatched_at": _iso(ticket.dispatched_at), "contacted_at": _iso(ticket.contacted_at),
            "contact_due_at": _iso(ticket.contact_due_at), "resolve_due_at": _iso(ticket.resolve_due_at),
            "escalation_level": ticket.escalation_level or 1}


def _steps(actor: Actor, ticket: Ticket, seen: dict[tuple[Any, ...], list[str]] | None) -> list[str]:
    if seen is None:
        return allowed_steps(actor, ticket)
    key = (ticket.status, ticket.unit_id, bool(ticket.extension_pending), ticket.escalation_level or 1)
    if key not in seen:
        seen[key] = allowed_steps(actor, ticket)
    return seen[key]


def suggestions(session: Session, actor: Actor, limit: int = 500) -> list[dict[str, Any]]:
    """Open duplicate suggestions in the actor's scope, newest first, with their reasons."""
    new, old = Ticket.__table__.alias("new"), Ticket.__table__.alias("old")
    stmt = (select(DuplicateSuggestion, new.c.number, new.c.title, new.c.unit_id, old.c.number, old.c.title,
                   old.c.status)
            .join(new, new.c.id == DuplicateSuggestion.ticket_id).join(old, old.c.id == DuplicateSuggestion.candidate_id)
            .where(DuplicateSuggestion.status == "open", new.c.status.in_(sorted(OPEN)))
            .order_by(DuplicateSuggestion.created_at.desc(), DuplicateSuggestion.id.desc()).limit(limit))
    if actor.visible_unit_ids is not None:
        stmt = stmt.where(new.c.unit_id.in_(sorted(actor.visible_unit_ids)))
    return [{"id": s.id, "number": n, "title": t, "candidate": cn, "candidate_title": ct, "candidate_status": cs,
             "score": round(s.score, 3), "reasons": list(s.reasons), "created_at": s.created_at.isoformat()}
            for s, n, t, _unit, cn, ct, cs in session.execute(stmt)]


# ------------------------------------------------------------ the two desks
# 工作台: what a unit holds, from dispatch to the citizen's answer (received and returned
# tickets are the dispatcher's).
DESK_STATUSES = ("dispatched", "accepted", "contacted", "reported", "approved", "replied")


def office_id(session: Session) -> int | None:
    return session.scalar(select(Unit.id).where(Unit.kind == "platform_office").limit(1))


def dispatch_work(office: int | None) -> ColumnElement[bool]:
    """派单台: what waits for the platform office: tickets to route (new, returned, or left at the
    office by routing), reports to review (审核) and answers to send (反馈)."""
    waiting = Ticket.status.in_(("received", "returned", "reported", "approved"))
    return or_(waiting, and_(Ticket.status == "dispatched", Ticket.unit_id == office)) if office else waiting


SCREEN_LEAVES_OUT = frozenset({"kind", "received_at", "dispatched_at", "contacted_at", "contact_due_at",
                               "resolve_due_at", "escalation_level"})  # = _instants' keys (a test holds it)


def screen_rows(session: Session, actor: Actor, name: str, filters: Filters, now: datetime,
                limit: int = 10_000) -> list[dict[str, Any]]:
    """The rows of the ``desk`` or the ``dispatch`` screen, most urgent first."""
    stmt = queue(actor, filters, now)
    if name == "desk":
        stmt = stmt.where(Ticket.status.in_(DESK_STATUSES))
    else:
        stmt = stmt.where(dispatch_work(office_id(session)))
    # Plain rows, not ORM tickets, read through the connection (no ORM loading): a desk of 10,000
    # spent more time building objects than reading them.
    plain = stmt.with_only_columns(*SCREEN_COLUMNS).order_by(sort_column(), Ticket.id).limit(limit)
    units = {u.id: u for u in session.scalars(select(Unit))}
    steps: dict[tuple[Any, ...], list[str]] = {}
    out = []
    for found in session.connection().execute(plain):
        ticket: Any = SimpleNamespace(**found._mapping, unit=units.get(found.unit_id))
        out.append(screen_row(ticket, ticket.unit, actor, now, steps))
    if name == "dispatch":  # where routing would send each ticket to route: the dialog's first choice
        tickets = {t.number: t for t in session.scalars(select(Ticket).where(Ticket.number.in_(
            [r["number"] for r in out if "dispatch" in r["allowed_steps"]])))}
        for r in out:
            held = tickets.get(r["number"])
            if held is not None:
                proposed = dispatch.route(session, held)
                r["proposed_unit"] = proposed.code if proposed is not None and proposed.kind != "platform_office" else None
    return out


def dispatch_targets(session: Session, actor: Actor) -> list[dict[str, Any]]:
    """The units the caller may dispatch or pass a ticket down to, for the unit picker:
    active, in the caller's scope, by level then code (the platform office is not one)."""
    parents: dict[int | None, str] = dict(session.execute(select(Unit.id, Unit.code)).tuples().all())
    return [{"code": u.code, "name": u.name, "level": u.level, "parent": parents.get(u.parent_id)}
            for u in session.scalars(select(Unit).where(Unit.active.is_(True), Unit.kind != "platform_office")
                                     .order_by(Unit.level, Unit.code))
            if actor.sees_unit(u.id)]
