"""The ticket lifecycle (接单-转办-上报-审核-反馈) as an explicit state machine.

    received ─dispatch→ dispatched ─accept→ accepted ─contact→ contacted ─report→ reported
    reported ─approve→ approved ─reply→ replied ─close→ closed
    reported ─send_back→ contacted (重办 after review)        replied ─redo→ contacted (不满意)
    dispatched|accepted ─return→ returned ─dispatch→ dispatched (退单, re-routed)
    dispatched ─dispatch→ dispatched (a level-2 unit passes it down)
    any open status ─merge→ merged

Every step checks the status it starts from and who takes it (``roles``),
changes the ticket, and records its event (timeline + outbox) in the caller's
transaction. An illegal step raises :class:`IllegalStep` and an unauthorised
one :class:`roles.NotAllowed`, both with the reason; neither changes anything.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tickets import sla
from tickets.events import record_event
from tickets.models import ExtensionRequest, IntakeRecord, Ticket, TicketEvent, Unit
from tickets.roles import SYSTEM, Actor, NotAllowed, check
from tickets.vocabulary import STATUSES

OPEN = frozenset({"received", "dispatched", "returned", "accepted", "contacted", "reported", "approved", "replied"})

# step -> (statuses it may start from, status it leads to; None = stays)
TRANSITIONS: dict[str, tuple[frozenset[str], str | None]] = {
    "dispatch": (frozenset({"received", "returned", "dispatched"}), "dispatched"),
    "return": (frozenset({"dispatched", "accepted"}), "returned"),
    "accept": (frozenset({"dispatched"}), "accepted"),
    "contact": (frozenset({"dispatched", "accepted"}), "contacted"),
    "report": (frozenset({"contacted"}), "reported"),
    "approve": (frozenset({"reported"}), "approved"),
    "send_back": (frozenset({"reported"}), "contacted"),
    "reply": (frozenset({"approved"}), "replied"),
    "close": (frozenset({"replied"}), "closed"),
    "redo": (frozenset({"replied"}), "contacted"),
    "request_extension": (frozenset({"dispatched", "accepted", "contacted", "reported"}), None),
    "decide_extension": (OPEN, None),
    "merge": (OPEN, "merged"),
}


class IllegalStep(Exception):
    """A step that the ticket's current status does not allow."""


def _guard(ticket: Ticket, step: str, at: datetime, actor: Actor) -> str | None:
    allowed_from, to = TRANSITIONS[step]
    if ticket.status not in allowed_from:
        raise IllegalStep(
            f"工单 {ticket.number}: cannot {step} a ticket that is {ticket.status} "
            f"({STATUSES.get(ticket.status, ticket.status)}); allowed from {sorted(allowed_from)}"
        )
    if at.tzinfo is None:
        raise IllegalStep(f"工单 {ticket.number}: {step} time {at!r} has no time zone")
    if at < ticket.received_at:
        raise IllegalStep(f"工单 {ticket.number}: {step} at {at.isoformat()} is before it was received")
    check(actor, step, ticket.unit_id)
    return to


def _record(session: Session, ticket: Ticket, step: str, at: datetime, actor: Actor,
            note: str | None = None, data: dict[str, Any] | None = None) -> None:
    record_event(session, ticket, step, at, actor=actor.name, actor_id=actor.user_id, note=note, data=data)


def set_deadlines(ticket: Ticket, start: datetime, tz: Any, extra_working_hours: float = 0.0) -> None:
    plan = sla.schedule(ticket.sla_class, start, tz, topic=ticket.topic, channel=ticket.channel,
                        extra_working_hours=extra_working_hours)
    ticket.contact_due_at, ticket.contact_warn_at = plan.contact_due, plan.contact_warn
    ticket.resolve_due_at, ticket.resolve_warn_at = plan.resolve_due, plan.resolve_warn


# ------------------------------------------------------------------ routing
def dispatch(session: Session, ticket: Ticket, unit: Unit, at: datetime, tz: Any,
             actor: Actor = SYSTEM, note: str | None = None) -> None:
    """Send the ticket to ``unit``. The first dispatch starts the deadlines; a
    re-dispatch (after 退单, or a level-2 unit passing it down) keeps them: the
    citizen has been waiting since the first one."""
    if ticket.status == "dispatched":
        # Only the level-2 unit holding the ticket may pass it to one of its own units.
        current = ticket.unit
        if current is None or current.level != 2 or unit.parent_id != current.id:
            raise IllegalStep(f"工单 {ticket.number}: a dispatched ticket can only be passed down by its level-2 unit")
    elif actor.role == "handler":
        raise NotAllowed(f"{actor.name} may not route a ticket that is {ticket.status}")
    _guard(ticket, "dispatch", at, actor)
    first = ticket.dispatched_at is None
    ticket.status = "dispatched"
    ticket.unit = unit
    ticket.unit_id = unit.id
    if first:
        ticket.dispatched_at = at
        # 直办: straight from the city level to a level-3 unit, decided at the first dispatch.
        ticket.direct_dispatch = unit.level == 3
        sla.refresh_if_stale(session)  # a calendar year loaded by an admin, within 5 minutes
        set_deadlines(ticket, at, tz)
    _record(session, ticket, "dispatched", at, actor, note,
            {"unit_code": unit.code, "direct": bool(ticket.direct_dispatch), "first": first})


def return_ticket(session: Session, ticket: Ticket, at: datetime, actor: Actor, reason: str) -> None:
    """退单: the unit says the ticket is not theirs; the dispatcher must re-route it."""
    if not reason.strip():
        raise IllegalStep(f"工单 {ticket.number}: a return needs a reason")
    _guard(ticket, "return", at, actor)
    ticket.status = "returned"
    _record(session, ticket, "return", at, actor, reason)


# ----------------------------------------------------------------- handling
def accept(session: Session, ticket: Ticket, at: datetime, actor: Actor = SYSTEM, note: str | None = None) -> None:
    _guard(ticket, "accept", at, actor)
    ticket.status, ticket.accepted_at = "accepted", at
    _record(session, ticket, "accept", at, actor, note)


def contact(session: Session, ticket: Ticket, at: datetime, actor: Actor = SYSTEM, note: str | None = None) -> None:
    _guard(ticket, "contact", at, actor)
    if ticket.accepted_at is None:
        ticket.accepted_at = at  # contacting the citizen is taking the ticket on
    ticket.status, ticket.contacted_at = "contacted", at
    _record(session, ticket, "contact", at, actor, note)


def report(session: Session, ticket: Ticket, at: datetime, actor: Actor = SYSTEM, note: str | None = None) -> None:
    _guard(ticket, "report", at, actor)
    ticket.status, ticket.reported_at = "reported", at
    _record(session, ticket, "report", at, actor, note)


def approve(session: Session, ticket: Ticket, at: datetime, actor: Actor = SYSTEM, note: str | None = None) -> None:
    _guard(ticket, "approve", at, actor)
    ticket.status = "approved"
    _record(session, ticket, "approve", at, actor, note)


def send_back(session: Session, ticket: Ticket, at: datetime, actor: Actor, reason: str) -> None:
    """审核不通过: back to the unit to redo; the deadline stands."""
    if not reason.strip():
        raise IllegalStep(f"工单 {ticket.number}: sending back needs a reason")
    _guard(ticket, "send_back", at, actor)
    ticket.status = "contacted"
    ticket.redo_count = (ticket.redo_count or 0) + 1
    _record(session, ticket, "send_back", at, actor, reason)


def reply(session: Session, ticket: Ticket, at: datetime, actor: Actor = SYSTEM, text: str | None = None) -> None:
    """反馈: the answer goes to the citizen; the follow-up starts (see ``followup``)."""
    _guard(ticket, "reply", at, actor)
    ticket.status, ticket.replied_at = "replied", at
    _record(session, ticket, "reply", at, actor, text)


def close(session: Session, ticket: Ticket, at: datetime, actor: Actor = SYSTEM, note: str | None = None) -> None:
    if (ticket.escalation_level or 1) >= 3 and not (note or "").strip():
        # 三级回访: a city-level case closes only with the findings of the inquiry.
        raise IllegalStep(f"工单 {ticket.number}: a level-3 ticket closes only with findings")
    _guard(ticket, "close", at, actor)
    ticket.status, ticket.closed_at = "closed", at
    _record(session, ticket, "close", at, actor, note, {"satisfaction": ticket.satisfaction})


def redo(session: Session, ticket: Ticket, at: datetime, tz: Any, level: int,
         actor: Actor = SYSTEM, note: str | None = None) -> None:
    """重办 after an unsatisfied follow-up: a new resolve deadline from now."""
    _guard(ticket, "redo", at, actor)
    ticket.status = "contacted"
    ticket.redo_count = (ticket.redo_count or 0) + 1
    ticket.escalation_level = level
    sla.refresh_if_stale(session)
    plan = sla.schedule(ticket.sla_class, at, tz, topic=ticket.topic, channel=ticket.channel)
    ticket.resolve_due_at, ticket.resolve_warn_at = plan.resolve_due, plan.resolve_warn
    _record(session, ticket, "redo", at, actor, note, {"level": level})


# --------------------------------------------------------------- extensions
def request_extension(session: Session, ticket: Ticket, at: datetime, actor: Actor,
                      working_hours: float, reason: str) -> ExtensionRequest:
    """延期申请: only before the resolve deadline, one pending request at a time."""
    _guard(ticket, "request_extension", at, actor)
    if ticket.extension_pending:
        raise IllegalStep(f"工单 {ticket.number}: an extension request is already pending")
    if ticket.resolve_due_at is not None and at >= ticket.resolve_due_at:
        raise IllegalStep(f"工单 {ticket.number}: extensions must be asked for before the deadline")
    if not 0 < working_hours <= 75:
        raise IllegalStep(f"工单 {ticket.number}: an extension is 0–75 working hours, not {working_hours}")
    if not reason.strip():
        raise IllegalStep(f"工单 {ticket.number}: an extension request needs a reason")
    request = ExtensionRequest(ticket_id=ticket.id, requested_by_id=actor.user_id, requested_at=at,
                               working_hours=working_hours, reason=reason)
    session.add(request)
    ticket.extension_pending = True
    _record(session, ticket, "request_extension", at, actor, reason, {"working_hours": working_hours})
    return request


def decide_extension(session: Session, request: ExtensionRequest, at: datetime, tz: Any, actor: Actor,
                     approve: bool, note: str | None = None) -> None:
    """The platform office decides; an approved extension moves the resolve deadline."""
    ticket = session.get(Ticket, request.ticket_id)
    assert ticket is not None
    if request.status != "pending":
        raise IllegalStep(f"工单 {ticket.number}: this extension request was already {request.status}")
    _guard(ticket, "decide_extension", at, actor)
    request.status = "approved" if approve else "rejected"
    request.decided_by_id, request.decided_at, request.decision_note = actor.user_id, at, note
    ticket.extension_pending = False
    policy = sla.policy_for(ticket.topic, ticket.channel)
    data: dict[str, Any] = {"approved": approve, "working_hours": request.working_hours}
    if policy.pause_while_extension_pending:  # the clock stood still while the request was pending
        data["paused_working_hours"] = sla.working_hours_between(request.requested_at, at, tz, policy)
    if (approve or data.get("paused_working_hours")) and ticket.dispatched_at is not None:
        _extend_resolve(session, ticket, tz, policy)
    _record(session, ticket, "extension_decided", at, actor, note, data)


def _extend_resolve(session: Session, ticket: Ticket, tz: Any, policy: sla.Policy) -> None:
    """Resolve deadline from the current round's start (dispatch, or the last 重办) plus the
    working hours of the round's approved extensions and, if the policy pauses the clock,
    the working hours its decided requests were pending."""
    sla.refresh_if_stale(session)
    redos = session.scalars(select(TicketEvent.at).where(TicketEvent.ticket_id == ticket.id,
                                                         TicketEvent.kind == "redo"))
    start = max(redos, default=ticket.dispatched_at)
    extra = 0.0
    for r in session.scalars(select(ExtensionRequest).where(ExtensionRequest.ticket_id == ticket.id)):
        if r.status == "pending" or r.requested_at < start:
            continue
        if r.status == "approved":
            extra += r.working_hours
        if policy.pause_while_extension_pending and r.decided_at is not None:
            extra += sla.working_hours_between(r.requested_at, r.decided_at, tz, policy)
    plan = sla.schedule(ticket.sla_class, start, tz, extra_working_hours=extra, policy=policy)
    ticket.resolve_due_at, ticket.resolve_warn_at = plan.resolve_due, plan.resolve_warn


# -------------------------------------------------------------------- merge
def merge(session: Session, ticket: Ticket, into: Ticket, at: datetime, actor: Actor, note: str | None = None) -> None:
    """Fold a duplicate into ``into``: its intake records move there, flagged as merged."""
    if into.id == ticket.id:
        raise IllegalStep(f"工单 {ticket.number}: cannot merge a ticket into itself")
    if into.status not in OPEN:
        raise IllegalStep(f"工单 {ticket.number}: target {into.number} is {into.status}; merge into an open ticket")
    _guard(ticket, "merge", at, actor)
    moved = []
    for record in session.scalars(select(IntakeRecord).where(IntakeRecord.ticket_id == ticket.id)):
        record.ticket_id = into.id
        record.merged = True
        moved.append(record.received_at.isoformat())
    ticket.status, ticket.merged_into_id = "merged", into.id
    # The live figures move these records to the target's unit, counted as merged.
    _record(session, ticket, "merge", at, actor, note,
            {"into": into.number, "into_ticket_id": into.id, "into_unit_id": into.unit_id, "record_times": moved})
