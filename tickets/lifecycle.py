"""The ticket lifecycle (接单-转办-上报-审核-反馈) as an explicit state machine.

    received ─dispatch→ dispatched ─accept→ accepted ─contact→ contacted ─report→ reported
    reported ─approve→ approved ─reply→ replied ─close→ closed
    reported ─send_back→ contacted (重办 after review)        replied ─redo→ contacted (不满意)
    dispatched|accepted ─return→ returned ─dispatch→ dispatched (退单, re-routed)
    dispatched ─dispatch→ dispatched (a level-2 unit passes it down)
    any open status ─merge→ merged ─unmerge→ the status it had (replied: approved, to reply again)

Every step checks the status it starts from and who takes it (``roles``),
changes the ticket, and records its event (timeline + outbox, ``events``) in
the caller's unit of work. A refused step raises a ``tickets.errors`` error
with a code and its parameters, and changes nothing. Callers other than the
domain itself go through ``tickets.services``, which finds the ticket in the
caller's scope first.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from tickets import audit, rollups, sla
from tickets.errors import IllegalStep, Invalid, NotAllowed
from tickets.events import record_event
from tickets.figures import handling_time
from tickets.models import ExtensionRequest, IntakeRecord, Ticket, TicketEvent, Unit
from tickets.roles import SYSTEM, Actor, check
from tickets.uow import UnitOfWork

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
    "unmerge": (frozenset({"merged"}), None),
    "rehome": (OPEN, None),  # the platform office moves an open ticket off a unit it retires
}
# An extension is 0–75 working hours (ten working days).
MAX_EXTENSION_HOURS = 75.0


def aware(at: datetime, what: str) -> None:
    if at.tzinfo is None:
        raise Invalid("naive_time", what=what)


def required(text: str | None, what: str, number: str | None = None) -> str:
    """``text`` stripped; an empty one is refused (a reason, an answer, findings …)."""
    if not text or not text.strip():
        raise Invalid("text_required", what=what, number=number)
    return text.strip()


def _guard(ticket: Ticket, step: str, at: datetime, actor: Actor) -> str | None:
    allowed_from, to = TRANSITIONS[step]
    if ticket.status not in allowed_from:
        raise IllegalStep("status_forbids_step", number=ticket.number, step=step, status=ticket.status,
                          allowed=sorted(allowed_from))
    aware(at, step)
    if at < ticket.received_at:
        raise IllegalStep("before_received", number=ticket.number, step=step, at=at.isoformat())
    check(actor, step, ticket.unit_id)
    return to


def _record(uow: UnitOfWork, ticket: Ticket, step: str, at: datetime, actor: Actor,
            note: str | None = None, data: dict[str, Any] | None = None) -> None:
    record_event(uow, ticket, step, at, actor=actor.name, actor_id=actor.user_id, note=note, data=data)
    # Every step goes through here: its audit row, in the same transaction (no note: free text
    # may name the citizen; the timeline keeps it).
    audit.record(uow, actor.name, step, ticket=ticket.number,
                 details={"status": ticket.status, "unit_id": ticket.unit_id, "at": at.isoformat()})


def _advance(uow: UnitOfWork, ticket: Ticket, step: str, at: datetime, actor: Actor, note: str | None = None,
             data: dict[str, Any] | None = None, **columns: Any) -> None:
    """Take ``step``: guarded, the ticket moved to the status ``TRANSITIONS`` gives and ``columns``
    set on it, then recorded (the event and its handlers see the ticket changed)."""
    to = _guard(ticket, step, at, actor)
    assert to is not None, step
    ticket.status = to
    for column, value in columns.items():
        setattr(ticket, column, value)
    _record(uow, ticket, step, at, actor, note, data)


# ------------------------------------------------------------------ routing
def at_office(ticket: Ticket) -> bool:
    """Routing found no unit for it: it waits at the platform office, whose dispatchers send it on."""
    return ticket.unit is not None and ticket.unit.kind == "platform_office"


def dispatch(uow: UnitOfWork, ticket: Ticket, unit: Unit, at: datetime, actor: Actor = SYSTEM,
             note: str | None = None) -> None:
    """Send the ticket to ``unit``. The first dispatch starts the deadlines; a
    re-dispatch (after 退单, or a level-2 unit passing it down) keeps them: the
    citizen has been waiting since the first one."""
    if unit.active is False:
        raise Invalid("unit_inactive", unit=unit.code)
    if ticket.status == "dispatched" and not at_office(ticket):
        # Only the level-2 unit holding the ticket may pass it to one of its own units.
        current = ticket.unit
        if current is None or current.level != 2 or unit.parent_id != current.id:
            raise IllegalStep("pass_down_only", number=ticket.number, unit=unit.code)
    elif actor.role == "handler":
        raise NotAllowed("role_may_not", user=actor.name, role=actor.role, step="dispatch")
    _guard(ticket, "dispatch", at, actor)
    first = ticket.dispatched_at is None
    data: dict[str, Any] = {}
    moving = ticket.id is not None and ticket.unit_id != unit.id
    if moving:  # its intake records count under its unit: out of the old one ...
        rollups.move_records(uow, rollups.records_of([ticket.id]), uow.config.tz, -1)
    ticket.status = "dispatched"
    ticket.unit = unit
    ticket.unit_id = unit.id
    if moving:  # ... into the new
        rollups.move_records(uow, rollups.records_of([ticket.id]), uow.config.tz, +1)
    if first:
        ticket.dispatched_at = at
        # 直办: straight from the city level to a level-3 unit, decided at the first dispatch.
        ticket.direct_dispatch = unit.level == 3
        sla.refresh_if_stale(uow)  # a calendar year loaded by an admin, within 5 minutes
        plan = sla.schedule(ticket.sla_class, at, uow.config.tz, topic=ticket.topic, channel=ticket.channel)
        ticket.contact_due_at, ticket.contact_warn_at = plan.contact_due, plan.contact_warn
        ticket.resolve_due_at, ticket.resolve_warn_at = plan.resolve_due, plan.resolve_warn
        data["deadlines"] = plan.recorded("dispatch")
    _record(uow, ticket, "dispatched", at, actor, note,
            {"unit_code": unit.code, "direct": bool(ticket.direct_dispatch), "first": first, **data})


def rehome(uow: UnitOfWork, ticket: Ticket, unit: Unit, at: datetime, actor: Actor, note: str | None = None) -> None:
    """转移: an open ticket moves to another unit in whatever state it is in, its deadlines kept,
    so that the unit it was with can be deactivated (tickets/units.py); its timeline says from
    where to where."""
    if unit.active is False:
        raise Invalid("unit_inactive", unit=unit.code)
    _guard(ticket, "rehome", at, actor)
    previous = ticket.unit
    if ticket.unit_id == unit.id:
        raise Invalid("rehome_same_unit", number=ticket.number, unit=unit.code)
    rollups.move_records(uow, rollups.records_of([ticket.id]), uow.config.tz, -1)
    ticket.unit = unit
    ticket.unit_id = unit.id
    rollups.move_records(uow, rollups.records_of([ticket.id]), uow.config.tz, +1)
    _record(uow, ticket, "rehome", at, actor, note,
            {"from_unit_code": previous.code if previous else None, "unit_code": unit.code})


def return_ticket(uow: UnitOfWork, ticket: Ticket, at: datetime, actor: Actor, reason: str | None) -> None:
    """退单: the unit says the ticket is not theirs; the dispatcher must re-route it."""
    _advance(uow, ticket, "return", at, actor, required(reason, "reason", ticket.number), returned=True)


# ----------------------------------------------------------------- handling
def accept(uow: UnitOfWork, ticket: Ticket, at: datetime, actor: Actor = SYSTEM, note: str | None = None) -> None:
    """签收."""
    _advance(uow, ticket, "accept", at, actor, note, accepted_at=at)


def contact(uow: UnitOfWork, ticket: Ticket, at: datetime, actor: Actor = SYSTEM, note: str | None = None) -> None:
    """联系群众: contacting the citizen is taking the ticket on (accepted now, if it was not yet)."""
    _advance(uow, ticket, "contact", at, actor, note, contacted_at=at, accepted_at=ticket.accepted_at or at)


def report(uow: UnitOfWork, ticket: Ticket, at: datetime, actor: Actor = SYSTEM, note: str | None = None) -> None:
    """上报: what the unit did."""
    _advance(uow, ticket, "report", at, actor, note, reported_at=at)


def approve(uow: UnitOfWork, ticket: Ticket, at: datetime, actor: Actor = SYSTEM, note: str | None = None) -> None:
    """审核通过."""
    _advance(uow, ticket, "approve", at, actor, note)


def send_back(uow: UnitOfWork, ticket: Ticket, at: datetime, actor: Actor, reason: str | None) -> None:
    """审核不通过: back to the unit to redo; the deadline stands."""
    reason = required(reason, "reason", ticket.number)
    _advance(uow, ticket, "send_back", at, actor, reason, redo_count=(ticket.redo_count or 0) + 1)


def reply(uow: UnitOfWork, ticket: Ticket, at: datetime, actor: Actor = SYSTEM, text: str | None = None) -> None:
    """反馈: the answer goes to the citizen; the follow-up starts (see ``followup``)."""
    _advance(uow, ticket, "reply", at, actor, text, replied_at=at)


def close(uow: UnitOfWork, ticket: Ticket, at: datetime, actor: Actor = SYSTEM, note: str | None = None) -> None:
    if (ticket.escalation_level or 1) >= 3 and not (note or "").strip():
        # 三级回访: a city-level case closes only with the findings of the inquiry.
        raise IllegalStep("findings_required", number=ticket.number)
    _advance(uow, ticket, "close", at, actor, note, {"satisfaction": ticket.satisfaction}, closed_at=at,
             handling_hours=handling_time(ticket.received_at, at, uow.config.tz, ticket.calendar))
    rollups.settle(uow, [ticket.id], uow.config.tz)


def redo(uow: UnitOfWork, ticket: Ticket, at: datetime, level: int,
         actor: Actor = SYSTEM, note: str | None = None) -> None:
    """重办 after an unsatisfied follow-up: a new resolve deadline from now."""
    _guard(ticket, "redo", at, actor)
    ticket.status = "contacted"
    ticket.redo_count = (ticket.redo_count or 0) + 1
    ticket.escalation_level = level
    sla.refresh_if_stale(uow)
    # A new round, by the rules the ticket was dispatched under: a version made since does not
    # change a ticket already in hand (the unit was told its rules at dispatch).
    plan = sla.schedule(ticket.sla_class, at, uow.config.tz, topic=ticket.topic, channel=ticket.channel,
                        rules_at=ticket.dispatched_at)
    ticket.resolve_due_at, ticket.resolve_warn_at = plan.resolve_due, plan.resolve_warn
    _record(uow, ticket, "redo", at, actor, note, {"level": level, "deadlines": plan.recorded("redo", contact=False)})


# --------------------------------------------------------------- extensions
def request_extension(uow: UnitOfWork, ticket: Ticket, at: datetime, actor: Actor,
                      working_hours: float, reason: str) -> ExtensionRequest:
    """延期申请: only before the resolve deadline, one pending request at a time."""
    _guard(ticket, "request_extension", at, actor)
    if ticket.extension_pending:
        raise IllegalStep("extension_pending", number=ticket.number)
    if ticket.resolve_due_at is not None and at >= ticket.resolve_due_at:
        raise IllegalStep("extension_too_late", number=ticket.number, due=ticket.resolve_due_at.isoformat())
    if not 0 < working_hours <= MAX_EXTENSION_HOURS:
        raise Invalid("extension_hours", number=ticket.number, hours=working_hours, most=MAX_EXTENSION_HOURS)
    reason = required(reason, "reason", ticket.number)
    request = ExtensionRequest(ticket_id=ticket.id, requested_by_id=actor.user_id, requested_at=at,
                               working_hours=working_hours, reason=reason)
    uow.add(request)
    ticket.extension_pending = True
    _record(uow, ticket, "request_extension", at, actor, reason, {"working_hours": working_hours})
    return request


def decide_extension(uow: UnitOfWork, request: ExtensionRequest, at: datetime, actor: Actor,
                     approve: bool, note: str | None = None) -> None:
    """The platform office decides; an approved extension moves the resolve deadline."""
    ticket = uow.get(Ticket, request.ticket_id)
    assert ticket is not None
    if request.status != "pending":
        raise IllegalStep("extension_decided", number=ticket.number, status=request.status)
    _guard(ticket, "decide_extension", at, actor)
    request.status = "approved" if approve else "rejected"
    request.decided_by_id, request.decided_at, request.decision_note = actor.user_id, at, note
    ticket.extension_pending = False
    tz = uow.config.tz
    policy = sla.policy_for(ticket.topic, ticket.channel, ticket.dispatched_at)  # the ticket's version
    data: dict[str, Any] = {"approved": approve, "working_hours": request.working_hours}
    if policy.pause_while_extension_pending:  # the clock stood still while the request was pending
        data["paused_working_hours"] = sla.working_hours_between(request.requested_at, at, tz, policy)
    if (approve or data.get("paused_working_hours")) and ticket.dispatched_at is not None:
        data["deadlines"] = _extend_resolve(uow, ticket, tz, policy).recorded("extension", contact=False)
    _record(uow, ticket, "extension_decided", at, actor, note, data)


def _extend_resolve(uow: UnitOfWork, ticket: Ticket, tz: Any, policy: sla.Policy) -> sla.Schedule:
    """Resolve deadline from the current round's start (dispatch, or the last 重办) plus the
    working hours of the round's approved extensions and, if the policy pauses the clock,
    the working hours its decided requests were pending."""
    sla.refresh_if_stale(uow)
    redos = uow.scalars(select(TicketEvent.at).where(TicketEvent.ticket_id == ticket.id, TicketEvent.kind == "redo"))
    start = max(redos, default=ticket.dispatched_at)
    assert start is not None
    extra = 0.0
    for r in uow.scalars(select(ExtensionRequest).where(ExtensionRequest.ticket_id == ticket.id)):
        if r.status == "pending" or r.requested_at < start:
            continue
        if r.status == "approved":
            extra += r.working_hours
        if policy.pause_while_extension_pending and r.decided_at is not None:
            extra += sla.working_hours_between(r.requested_at, r.decided_at, tz, policy)
    plan = sla.schedule(ticket.sla_class, start, tz, topic=ticket.topic, channel=ticket.channel,
                        extra_working_hours=extra, rules_at=ticket.dispatched_at)
    ticket.resolve_due_at, ticket.resolve_warn_at = plan.resolve_due, plan.resolve_warn
    return plan


# -------------------------------------------------------------------- merge
def merge(uow: UnitOfWork, ticket: Ticket, into: Ticket, at: datetime, actor: Actor, note: str | None = None) -> None:
    """Fold a duplicate into ``into``: its intake records move there, flagged as merged. The
    event keeps what :func:`unmerge` needs to undo it (the records, their flags, the status)."""
    if into.id == ticket.id:
        raise IllegalStep("merge_into_itself", number=ticket.number)
    if into.status not in OPEN:
        raise IllegalStep("merge_target_closed", number=ticket.number, into=into.number, status=into.status)
    _guard(ticket, "merge", at, actor)
    records = list(uow.scalars(select(IntakeRecord).where(IntakeRecord.ticket_id == ticket.id)
                               .order_by(IntakeRecord.id)))
    data = {"into": into.number, "into_ticket_id": into.id, "into_unit_id": into.unit_id,
            "from_status": ticket.status, "record_ids": [r.id for r in records],
            "record_merged": [bool(r.merged) for r in records],
            "record_times": [r.received_at.isoformat() for r in records]}
    moved = IntakeRecord.id.in_([r.id for r in records])
    rollups.move_records(uow, moved, uow.config.tz, -1)
    for record in records:
        record.ticket_id = into.id
        record.merged = True
    rollups.move_records(uow, moved, uow.config.tz, +1)
    ticket.status, ticket.merged_into_id = "merged", into.id
    # The live figures move these records to the target's unit, counted as merged.
    _record(uow, ticket, "merge", at, actor, note, data)


def unmerge(uow: UnitOfWork, ticket: Ticket, at: datetime, actor: Actor, reason: str) -> Ticket:
    """拆分: a merge was wrong. The ticket's own records come back with the flags they had, it
    takes up the status it had (a replied one: approved, to be replied to again) with its own
    deadlines, and the ticket it was merged into keeps the rest. Returns that ticket."""
    reason = required(reason, "reason", ticket.number)
    _guard(ticket, "unmerge", at, actor)
    merged = uow.scalar(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id, TicketEvent.kind == "merge")
                        .order_by(TicketEvent.id.desc()).limit(1))
    into = uow.get(Ticket, ticket.merged_into_id) if ticket.merged_into_id else None
    if merged is None or into is None:
        raise IllegalStep("not_merged", number=ticket.number)
    flags = dict(zip(merged.data.get("record_ids", []), merged.data.get("record_merged", [])))
    records = list(uow.scalars(select(IntakeRecord).where(IntakeRecord.id.in_(list(flags)),
                                                          IntakeRecord.ticket_id == into.id)))
    back = IntakeRecord.id.in_([r.id for r in records])
    rollups.move_records(uow, back, uow.config.tz, -1)
    for record in records:
        record.ticket_id, record.merged = ticket.id, flags[record.id]
    rollups.move_records(uow, back, uow.config.tz, +1)
    before = merged.data.get("from_status", "dispatched")
    ticket.status = "approved" if before == "replied" else before
    ticket.merged_into_id = None
    moved = {"from": into.number, "from_ticket_id": into.id, "from_unit_id": into.unit_id,
             "record_ids": [r.id for r in records], "record_merged": [flags[r.id] for r in records],
             "record_times": [r.received_at.isoformat() for r in records]}
    _record(uow, ticket, "unmerge", at, actor, reason, moved)
    return into
