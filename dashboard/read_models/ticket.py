"""One ticket as the people working on it see it (/ticket/<number>): the request, the records
merged into it with their reply status, both clocks, and the whole timeline (流程跟踪): every
step with who took it (a person with unit and 警号, the system, or the rule that fired), its
time and offset from receipt, every SMS out and in, supervision orders and reminder letters
with their own deadlines and answers. The citizen is masked here too; the full details come
only from the reveal (``tickets/personal.py``), which is audited."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dashboard.read_models.queues import clock_of
from tickets import sla
from tickets.lifecycle import OPEN
from tickets.models import (
    ConnectorDelivery,
    ExtensionRequest,
    IntakeRecord,
    ReminderLetter,
    SmsMessage,
    SupervisionOrder,
    Ticket,
    TicketEvent,
    Unit,
    User,
)
from tickets.personal import masked, may_reveal
from tickets.roles import STEP_ROLES, Actor
from tickets.services import allowed_steps
from tickets.sms import mask_phone

# The rule behind a step the system took, by (event kind, its data's reason or action).
RULES = {
    ("dispatched", "first"): "routing",  # 按辖区、事项自动派单
    ("record_merged", None): "dedup",  # certain duplicate merged at intake
    ("supervision_order", "overdue"): "overdue_order",
    ("supervision_order", "returned_unresolved"): "send_back_order",
    ("reminder_letter", "repeated"): "repeat_letter",
    ("reminder_letter", "unsatisfied"): "unsatisfied_letter",
    ("escalated", None): "escalation",
    ("redo", None): "escalation",
    ("close", None): "follow_up",
    ("follow_up_phone_task", None): "no_answer",
    ("amber", None): "deadline", ("breach", None): "deadline",
}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _hours(since: datetime, at: datetime) -> float:
    return round((at - since).total_seconds() / 3600, 2)


@dataclass(frozen=True)
class People:
    by_id: dict[int, tuple[User, Unit | None]]

    def describe(self, user_id: int | None, name: str) -> dict[str, Any]:
        found = self.by_id.get(user_id) if user_id is not None else None
        if found is None:
            return {"kind": "system" if name == "system" else "account", "name": name}
        user, unit = found
        return {"kind": "person", "name": user.real_name, "police_number": user.police_number,
                "unit": unit.name if unit else None, "role": user.role}


def _people(session: Session, ids: set[int]) -> People:
    rows = session.execute(select(User, Unit).outerjoin(Unit, Unit.id == User.unit_id)
                           .where(User.id.in_(sorted(ids)))).all() if ids else []
    return People({u.id: (u, unit) for u, unit in rows})


def _rule(event: TicketEvent) -> str | None:
    if event.actor_id is not None or event.actor not in ("system",):
        return None
    data = event.data or {}
    key = data.get("reason") or data.get("action") if event.kind in ("supervision_order", "reminder_letter") else None
    if event.kind == "dispatched":
        key = "first" if data.get("first") else None
    return RULES.get((event.kind, key)) or RULES.get((event.kind, None))


def resolve_segments(events: list[TicketEvent], pauses: bool, closed_at: datetime | None) -> list[dict[str, Any]]:
    """The resolve clock's stretches, from its events: counting from the first dispatch,
    counting afresh from each 重办 (a new deadline), and, where the policy stops the clock
    for a pending extension, paused from the request to the decision. The last stretch runs
    to the close, or on (``to``: None)."""
    out: list[dict[str, Any]] = []

    def begin(state: str, at: datetime) -> None:
        if out and out[-1]["to"] is None:
            out[-1]["to"] = at.isoformat()
        out.append({"state": state, "from": at.isoformat(), "to": None})

    for e in events:
        if e.kind == "dispatched" and not out:
            begin("running", e.at)
        elif e.kind == "redo" and out:
            begin("restarted", e.at)
        elif e.kind == "request_extension" and pauses and out:
            begin("paused", e.at)
        elif e.kind == "extension_decided" and pauses and out and out[-1]["state"] == "paused":
            begin("running", e.at)
    if out and closed_at is not None and out[-1]["to"] is None:
        out[-1]["to"] = closed_at.isoformat()
    return out


def page(session: Session, actor: Actor, ticket: Ticket, now: datetime, tz: Any) -> dict[str, Any]:
    """Everything the ticket page shows, in the actor's view (steps, reveal, audit rights)."""
    unit = ticket.unit
    events = list(session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id)
                                  .order_by(TicketEvent.at, TicketEvent.id)))
    messages = list(session.scalars(select(SmsMessage).where(SmsMessage.ticket_id == ticket.id)
                                    .order_by(SmsMessage.at, SmsMessage.id)))
    people = _people(session, {e.actor_id for e in events if e.actor_id is not None}
                     | {m.user_id for m in messages if m.user_id is not None})
    received = ticket.received_at
    timeline: list[dict[str, Any]] = [{
        "kind": e.kind, "at": e.at.isoformat(), "offset_hours": _hours(received, e.at),
        "actor": people.describe(e.actor_id, e.actor), "rule": _rule(e), "note": e.note, "data": e.data or {},
    } for e in events]
    # The citizen's messages, and the texts to officials (escalations; ``to``: whom, ``not_before``:
    # held until the next working period).
    sms: list[dict[str, Any]] = [{
        "direction": m.direction, "at": m.at.isoformat(), "offset_hours": _hours(received, m.at),
        "phone": mask_phone(m.phone), "text": m.text, "status": m.status,
        "to": people.describe(m.user_id, "")["name"] if m.user_id is not None else None,
        "not_before": _iso(m.not_before)} for m in messages]
    orders = [{"number": o.number, "reason": o.reason, "status": o.status, "issued_at": o.issued_at.isoformat(),
               "issued_by": o.issued_by, "due_at": o.due_at.isoformat(), "answered_at": _iso(o.answered_at),
               "answer": o.answer, "note": o.note, "overdue": o.status == "open" and o.due_at <= now}
              for o in session.scalars(select(SupervisionOrder).where(SupervisionOrder.ticket_id == ticket.id)
                                       .order_by(SupervisionOrder.issued_at))]
    letters = [{"number": r.number, "reason": r.reason, "issued_at": r.issued_at.isoformat(), "text": r.text,
                "issued_by": r.issued_by}
               for r in session.scalars(select(ReminderLetter).where(ReminderLetter.ticket_id == ticket.id)
                                        .order_by(ReminderLetter.issued_at))]
    deliveries = {d.external_id: d.status for d in session.scalars(
        select(ConnectorDelivery).where(ConnectorDelivery.ticket_id == ticket.id))}
    replied = ticket.replied_at is not None
    records = [{"channel": r.channel, "external_id": r.external_id, "merged": bool(r.merged),
                "received_at": r.received_at.isoformat(),
                "reply": deliveries.get(r.external_id) or ("sms" if replied else "waiting")}
               for r in session.scalars(select(IntakeRecord).where(IntakeRecord.ticket_id == ticket.id)
                                        .order_by(IntakeRecord.received_at, IntakeRecord.id))]
    extension = session.scalar(select(ExtensionRequest).where(ExtensionRequest.ticket_id == ticket.id,
                                                              ExtensionRequest.status == "pending").limit(1))
    policy = sla.policy_for(ticket.topic, ticket.channel)
    paused = extension is not None and policy.pause_while_extension_pending
    # Every SMS out and answer in has its place in the timeline, beside the steps: at the same
    # instant, an answer in comes before what it caused, a message out after the step that sent it.
    timeline = sorted(timeline + [{
        "kind": "sms_official" if m["to"] else f"sms_{m['direction']}", "at": m["at"],
        "offset_hours": m["offset_hours"],
        "actor": {"kind": "system"} if m["direction"] == "out" else {"kind": "citizen", "name": m["phone"]},
        "rule": None, "note": m["text"], "data": {"status": m["status"], "to": m["to"], "not_before": m["not_before"]}}
        for m in sms], key=lambda e: (str(e["at"]), {"sms_in": 0, "sms_out": 2, "sms_official": 2}.get(str(e["kind"]), 1)))
    # The resolve clock counts working time only: outside working hours it stands still.
    off_hours = not sla.working_intervals(now, now + timedelta(seconds=1), tz, policy)
    clock, due, warn, state = clock_of(ticket, now)
    citizen = masked(ticket)
    return {
        "number": ticket.number, "version": ticket.version or 1, "status": ticket.status, "title": ticket.title,
        "content": ticket.content, "channel": ticket.channel, "kind": ticket.kind, "topic": ticket.topic,
        "sla_class": ticket.sla_class, "district": ticket.district, "address": ticket.address,
        "lat": ticket.lat, "lon": ticket.lon, "unit_code": unit.code if unit else None,
        "unit_name": unit.name if unit else None, "received_at": received.isoformat(),
        "escalation_level": ticket.escalation_level or 1, "satisfaction": ticket.satisfaction,
        "citizen": citizen.name, "phone": citizen.phone,
        "clocks": [
            {"name": "contact", "due_at": _iso(ticket.contact_due_at), "warn_at": _iso(ticket.contact_warn_at),
             "done_at": _iso(ticket.contacted_at), "running": ticket.contacted_at is None and clock == "contact"},
            {"name": "resolve", "due_at": _iso(ticket.resolve_due_at), "warn_at": _iso(ticket.resolve_warn_at),
             "done_at": _iso(ticket.closed_at), "running": not paused and not off_hours, "paused": paused,
             "off_hours": not paused and off_hours,
             "segments": resolve_segments(events, policy.pause_while_extension_pending, ticket.closed_at)},
        ],
        "clock": clock, "due_at": _iso(due), "warn_at": _iso(warn), "clock_state": state,
        "extension": {"hours": extension.working_hours, "reason": extension.reason,
                      "requested_at": extension.requested_at.isoformat()} if extension else None,
        "records": records, "timeline": timeline, "sms": sms, "orders": orders, "letters": letters,
        "allowed_steps": allowed_steps(actor, ticket),
        "may_reveal": may_reveal(actor, ticket),
        "may_read_reveals": actor.role in STEP_ROLES["read_reveals"],
        # The duty console's one-click steps, here too: a 督办单 while none is open, a 提醒函.
        "may_supervise": actor.role in STEP_ROLES["supervise"] and ticket.status in OPEN
        and not any(o["status"] in ("open", "answered") for o in orders),
        "may_remind": actor.role in STEP_ROLES["remind"],
    }

