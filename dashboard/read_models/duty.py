"""The duty console's rows (值班台): one per clock of an open ticket that is amber or
breached, in the caller's scope, most late first (``tickets.duty`` says what a row is).

A row carries what the console shows and acts on: which clock, its deadline and amber
instant (the browser counts down and computes minutes late), the unit and its branch
(the level-2 unit above it), the topic, channel and title (never the citizen), the
ticket's latest supervision order and reminder letter (automatic or by hand), and the
acknowledgement that holds now, if any.
"""
from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from tickets import duty, prediction
from tickets.lifecycle import OPEN
from tickets.models import ReminderLetter, SupervisionOrder, Ticket, Unit, User
from tickets.personal import redacted
from tickets.roles import STEP_ROLES, Actor

COLUMNS = (Ticket.id, Ticket.number, Ticket.version, Ticket.status, Ticket.title, Ticket.topic, Ticket.channel,
           Ticket.district, Ticket.unit_id, Ticket.contacted_at, Ticket.contact_due_at, Ticket.contact_warn_at,
           Ticket.resolve_due_at, Ticket.resolve_warn_at)
MAX_ROWS = 10_000


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _branch(unit_id: int | None, units: dict[int, Unit]) -> Unit | None:
    """The level-2 unit a unit belongs to (itself if it is one); None above that level."""
    seen: set[int] = set()
    while unit_id is not None and unit_id not in seen:
        seen.add(unit_id)
        unit = units.get(unit_id)
        if unit is None or unit.level <= 1:
            return None
        if unit.level == 2:
            return unit
        unit_id = unit.parent_id
    return None


def _latest(session: Session, model: Any, ticket_ids: Sequence[int]) -> dict[int, Any]:
    """Each ticket's latest order or letter (by when it was issued)."""
    out: dict[int, Any] = {}
    if ticket_ids:
        for item in session.scalars(select(model).where(model.ticket_id.in_(list(ticket_ids)))
                                    .order_by(model.issued_at, model.id)):
            out[item.ticket_id] = item
    return out


def _order(order: SupervisionOrder | None, now: datetime) -> dict[str, Any]:
    if order is None:
        return {"state": "none"}
    state = "overdue" if order.status == "open" and order.due_at <= now else order.status
    return {"state": state, "number": order.number, "due_at": _iso(order.due_at), "automatic": order.issued_by == "system",
            "answered_at": _iso(order.answered_at), "answer": order.answer}


def _letter(letter: ReminderLetter | None) -> dict[str, Any] | None:
    if letter is None:
        return None
    return {"number": letter.number, "reason": letter.reason, "automatic": letter.issued_by == "system",
            "issued_at": _iso(letter.issued_at)}


def rows(session: Session, actor: Actor, now: datetime, *, numbers: Sequence[str] = (),
         limit: int = MAX_ROWS) -> list[dict[str, Any]]:
    """The console's rows; ``numbers``: these tickets only (a push named them)."""
    late_or_near = or_(and_(Ticket.contacted_at.is_(None), Ticket.contact_warn_at <= now),
                       Ticket.resolve_warn_at <= now)
    stmt = select(*COLUMNS).where(Ticket.status.in_(sorted(OPEN)), late_or_near)
    if actor.visible_unit_ids is not None:
        stmt = stmt.where(Ticket.unit_id.in_(sorted(actor.visible_unit_ids)))
    if numbers:
        stmt = stmt.where(Ticket.number.in_(list(numbers)))
    found = [SimpleNamespace(**r._mapping) for r in session.execute(stmt.order_by(Ticket.id).limit(limit))]
    if not found:
        return []
    units = {u.id: u for u in session.scalars(select(Unit))}
    ids = [t.id for t in found]
    orders = _latest(session, SupervisionOrder, ids)
    letters = _latest(session, ReminderLetter, ids)
    taken = duty.holding(session, {t.id: t.version or 1 for t in found}, now)
    people = {u.id: u for u in session.scalars(select(User).where(User.id.in_(
        sorted({a.user_id for a in taken.values() if a.user_id is not None}))))} if taken else {}
    may_act = actor.role in STEP_ROLES["acknowledge_breach"]
    may_supervise = actor.role in STEP_ROLES["supervise"]
    may_remind = actor.role in STEP_ROLES["remind"]
    out = []
    for t in found:
        unit = units.get(t.unit_id) if t.unit_id is not None else None
        branch = _branch(t.unit_id, units)
        order = _order(orders.get(t.id), now)
        for c in duty.clock_states(t, now):
            ack = taken.get((t.id, c.clock, c.state))
            who = people.get(ack.user_id) if ack is not None and ack.user_id is not None else None
            steps = [s for s, allowed in (
                ("acknowledge", may_act and ack is None),
                ("order", may_supervise and order["state"] not in ("open", "overdue")),
                ("remind", may_remind)) if allowed]
            out.append({
                "id": f"{t.number}:{c.clock}", "number": t.number, "version": t.version or 1, "status": t.status,
                "clock": c.clock, "state": c.state, "due_at": _iso(c.due_at), "warn_at": _iso(c.warn_at),
                "minutes_late": max(0, int((now - c.due_at).total_seconds() // 60)),
                "title": redacted(t.title), "topic": t.topic, "channel": t.channel, "district": t.district,
                "unit_code": unit.code if unit else None, "unit_name": unit.name if unit else None,
                "unit_id": t.unit_id, "branch_code": branch.code if branch else None,
                "branch_name": branch.name if branch else None,
                "order": order, "letter": _letter(letters.get(t.id)),
                "acknowledged": None if ack is None else {
                    "by": ack.actor, "name": who.real_name if who else ack.actor,
                    "police_number": who.police_number if who else None, "at": _iso(ack.at), "note": ack.note,
                    "lapses_at": _iso(ack.lapses_at), "ticket_version": ack.ticket_version},
                "allowed_steps": steps,
            })
    # Most late first; among amber rows, least time left first.
    out.sort(key=lambda r: (r["state"] != "breached", r["due_at"]))
    return out


# ------------------------------------------------------------ predicted breaches
PREDICTION_TTL_SECONDS = 60.0  # the pace is learnt from every unit: one computation a minute, shared
_predicted: dict[str, Any] = {"at": None, "items": [], "database": None}
_predicted_lock = threading.Lock()


def predicted(session: Session, actor: Actor, now: datetime, tz: Any, rules: prediction.PredictionRules,
              limit: int = 200) -> list[dict[str, Any]]:
    """Open tickets not yet amber whose resolve deadline they will likely miss, in the caller's
    scope, likeliest first, with the reason (codes and numbers; the screen words them). The
    whole bureau's predictions are computed once a minute per process and filtered here."""
    database = str(session.get_bind().engine.url)
    with _predicted_lock:
        at = _predicted["at"]
        if at is None or _predicted["database"] != database or \
                not 0 <= (now - at).total_seconds() < PREDICTION_TTL_SECONDS:
            _predicted.update(items=prediction.predict_open(session, now, tz, rules=rules), at=now, database=database)
        found: list[prediction.Prediction] = list(_predicted["items"])
    mine = [p for p in found if actor.visible_unit_ids is None or p.unit_id in actor.visible_unit_ids][:limit]
    if not mine:
        return []
    tickets = {t.id: t for t in session.execute(select(Ticket.id, Ticket.title, Ticket.topic, Ticket.channel,
                                                       Ticket.status).where(Ticket.id.in_([p.ticket_id for p in mine])))}
    units = {u.id: u for u in session.scalars(select(Unit).where(Unit.id.in_({p.unit_id for p in mine if p.unit_id})))}
    out = []
    for p in mine:
        t = tickets.get(p.ticket_id)
        if t is None or t.status not in OPEN:
            continue
        unit = units.get(p.unit_id) if p.unit_id is not None else None
        out.append({"number": p.number, "title": redacted(t.title), "topic": t.topic, "channel": t.channel,
                    "unit_name": unit.name if unit else None, "probability": round(p.probability, 3),
                    "resolve_due_at": _iso(p.resolve_due_at), "reason": p.reason})
    return out
