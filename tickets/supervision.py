"""Supervision orders (督办单) and reminder letters (提醒函).

Supervision orders go point-to-point to the head of the unit holding a ticket,
with their own deadline (``SupervisionRules.order_working_hours`` of working
time, default 4):

- ``overdue``: :func:`sweep` issues one for every ticket the unit holds
  (dispatched, accepted or contacted) past its resolve deadline, unless the
  ticket has an order not yet closed, or already had an overdue order for its
  current deadline (a redo sets a new deadline, which may earn a new order).
  Only deadlines passed within ``SupervisionRules.window_days`` (7) count: a
  ticket late for longer never had the sweep watching it fall due (imported
  or replayed history, an outage longer than the window), and an order "late
  by 104,348 hours" helps nobody; the duty console still lists it as a breach.
  Tickets that wait on someone else (received, returned to the dispatcher,
  reported for review, approved, replied and waiting for the citizen) get none.
- ``returned_unresolved``: on every ``send_back`` (审核不通过), in the same
  transaction (bus handler :func:`on_send_back`).
- ``manual``: :func:`issue_order`, the duty officer's one click.

An order is ``open`` → ``answered`` (:func:`answer_order`, by the unit) →
``closed`` (:func:`close_order`, by a supervisor); it stays open when the ticket
closes, since the unit still owes its answer. Every change records a
``supervision_order`` event on the ticket (``data.action`` issued | answered |
closed) so it reaches the screens through the outbox.

Reminder letters go to a unit (its heads are notified):

- ``unsatisfied``: an unsatisfied follow-up (issued by ``followup``);
- ``repeated``: a complaint dispatched to a unit that already had, within
  ``repeat_days``, complaints from the same phone number, or on the same topic
  within ``repeat_radius_m`` metres, making ``repeat_count`` (bus batch handler
  on ``dispatched``: one indexed query for a whole pushed batch, decided as one
  complaint after another; at most one letter per cluster: no letter if one of
  its tickets already has one);
- ``leader_instruction``: :func:`issue_leader_instruction` (局领导批示).

Numbers: ``DB{yyyymmdd}{serial:06d}`` and ``TX{yyyymmdd}{serial:06d}``, the local
date of issue and a serial of that day.
"""
from __future__ import annotations

import functools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Float, Integer, String, and_, func, or_, select, text
from sqlalchemy.orm import Session, selectinload

from geo.measure import distance_m
from tickets import notify, numbers, sla
from tickets.config import SupervisionRules
from tickets.db import sequence_ids, stored_form
from tickets.errors import IllegalStep
from tickets.events import record_event
from tickets.lifecycle import OPEN, aware, required
from tickets.models import ReminderLetter, SupervisionOrder, Ticket, TicketEvent, Unit, User, UTCDateTime
from tickets.roles import SYSTEM, Actor, check
from tickets.uow import UnitOfWork
from tickets.vocabulary import TOPICS

# Statuses in which the unit holds the ticket (its move): only these get overdue orders.
HELD_BY_UNIT = ("dispatched", "accepted", "contacted")
ORDER_REASONS = {"overdue": "超期未办结", "returned_unresolved": "审核退回未解决", "manual": "值班督办"}
LETTER_REASONS = {"unsatisfied": "群众不满意", "repeated": "重复投诉", "leader_instruction": "领导批示"}
# ------------------------------------------------------------ supervision orders
def _addressee(session: Session, unit: Unit) -> User | None:
    found = notify.leaders(session, unit)
    return found[0] if found else None


def _issue(session: UnitOfWork, ticket: Ticket, at: datetime, actor: Actor, reason: str,
           note: str | None, *, tell_head: bool = True) -> SupervisionOrder:
    """The order, on the ticket's timeline; ``tell_head``: False when the unit's head hears of
    it in a digest of several (the sweep), not once per ticket."""
    unit = ticket.unit
    assert unit is not None
    tz = session.config.tz
    addressee = _addressee(session, unit)
    order = SupervisionOrder(
        number=numbers.next_number(session, numbers.SUPERVISION_ORDER, at, tz), ticket_id=ticket.id, unit_id=unit.id,
        addressee_id=addressee.id if addressee else None, reason=reason, issued_at=at, issued_by=actor.name,
        due_at=sla.add_working_hours(at, session.config.supervision.order_working_hours, tz), status="open", note=note,
    )
    session.add(order)
    session.flush()
    recipient = [notify.Recipient(unit, notify.LEADER, addressee)]  # the head, or the unit's leader role
    due_local = order.due_at.astimezone(tz).strftime("%m-%d %H:%M")
    text = (f"督办单{order.number}：工单{ticket.number}（{ticket.title}）{ORDER_REASONS.get(reason, reason)}，"
            f"请于{due_local}前办结并反馈。" + (f"督办意见：{note}" if note else ""))
    data = {"action": "issued", "number": order.number, "reason": reason, "unit_code": unit.code,
            "due_at": order.due_at.isoformat(), "status": order.status}
    if tell_head:
        notify.notify(session, ticket, recipient, "supervision_order", text, at, actor=actor, note=note, data=data)
    else:
        record_event(session, ticket, "supervision_order", at, actor=actor.name, actor_id=actor.user_id, note=note,
                     data={**data, "digest": True})
    return order


def open_order(session: Session, ticket: Ticket) -> SupervisionOrder | None:
    return session.scalar(
        select(SupervisionOrder).where(SupervisionOrder.ticket_id == ticket.id, SupervisionOrder.status == "open")
        .order_by(SupervisionOrder.id.desc()).limit(1)
    )


# The overdue sweep's tickets per transaction (whole units: a unit's digest is never split). After
# a big import or an outage thousands fall due at once: one transaction each few hundred keeps
# the locks short and lets the other sweeps and the live path through (issue 15: 20,040 orders in
# one transaction once held the tickets for 4.5 minutes).
SWEEP_BATCH = 500


def sweep(session: UnitOfWork, now: datetime) -> dict[str, int]:
    """Issue an overdue order for every ticket its unit holds past the resolve deadline (idempotent);
    not for imported history (``Ticket.history``) unless its import asked (``open.supervise``), nor
    for a deadline older than ``window_days`` (the module's docstring).
    At most about :data:`SWEEP_BATCH` tickets, whole units, in one call: ``more`` is 1 when
    units are left for the next transaction (``housekeeping.run_sweeps`` calls again at once)."""
    covered = select(SupervisionOrder.id).where(
        SupervisionOrder.ticket_id == Ticket.id,
        or_(SupervisionOrder.status != "closed",
            and_(SupervisionOrder.reason == "overdue", SupervisionOrder.issued_at >= Ticket.resolve_due_at)),
    ).exists()
    due = (Ticket.status.in_(HELD_BY_UNIT), Ticket.unit_id.is_not(None), Ticket.history.is_(False),
           Ticket.resolve_due_at > now - timedelta(days=session.config.supervision.window_days),
           Ticket.resolve_due_at <= now, ~covered)
    per_unit = session.execute(select(Ticket.unit_id, func.count(), func.min(Ticket.resolve_due_at)).where(*due)
                               .group_by(Ticket.unit_id).order_by(func.min(Ticket.resolve_due_at), Ticket.unit_id)
                               ).all()
    units: list[int] = []
    taken = 0
    for unit_id, count, _first in per_unit:
        if units and taken + count > SWEEP_BATCH:
            break
        assert unit_id is not None  # the query's own condition
        units.append(unit_id)
        taken += count
    overdue = session.scalars(
        select(Ticket).where(*due, Ticket.unit_id.in_(units)).order_by(Ticket.resolve_due_at, Ticket.id)
    ).all() if units else []
    by_unit: dict[int, list[Ticket]] = {}
    for ticket in overdue:
        by_unit.setdefault(ticket.unit_id or 0, []).append(ticket)
    threshold = max(2, session.config.duty.digest_threshold)
    digests = 0
    for tickets in by_unit.values():
        # Many at once from one unit: its head gets one digest, not a notice per ticket (nobody
        # reads the twentieth); each order still stands on its own ticket.
        together = len(tickets) >= threshold
        orders = []
        for ticket in tickets:
            assert ticket.resolve_due_at is not None
            late = now - ticket.resolve_due_at
            orders.append(_issue(session, ticket, now, SYSTEM, "overdue",
                                 f"已超过办理时限 {late.total_seconds() / 3600:.1f} 小时", tell_head=not together))
        if together:
            unit = tickets[0].unit
            assert unit is not None
            head = _addressee(session, unit)
            numbers_ = "、".join(o.number for o in orders)
            notify.notify(session, None, [notify.Recipient(unit, notify.LEADER, head)], "supervision_digest",
                          f"{unit.name}有{len(orders)}件工单超过办理时限，已分别督办（{numbers_}），请逐件办结并反馈。", now)
            digests += 1
    return {"orders_issued": len(overdue), "digests": digests, "more": int(len(units) < len(per_unit))}


def on_send_back(session: UnitOfWork, ticket: Ticket, event: TicketEvent) -> None:
    """审核退回: the unit must redo it, under a supervision order."""
    if ticket.unit_id is None:
        return
    pending = session.scalar(select(SupervisionOrder.id).where(
        SupervisionOrder.ticket_id == ticket.id, SupervisionOrder.status == "open",
        SupervisionOrder.reason == "returned_unresolved").limit(1))
    if pending is None:
        _issue(session, ticket, event.at, SYSTEM, "returned_unresolved", event.note)


def issue_order(session: UnitOfWork, ticket: Ticket, at: datetime, actor: Actor,
                note: str | None = None) -> SupervisionOrder:
    """A supervision order by hand (duty officer, supervisor, leader, admin)."""
    check(actor, "supervise", ticket.unit_id)
    aware(at, "supervision_order")
    if ticket.status not in OPEN:
        raise IllegalStep("status_forbids_step", number=ticket.number, step="supervise", status=ticket.status,
                          allowed=sorted(OPEN))
    if ticket.unit_id is None:
        raise IllegalStep("no_unit_yet", number=ticket.number)
    if at < ticket.received_at:
        raise IllegalStep("before_received", number=ticket.number, step="supervise", at=at.isoformat())
    existing = open_order(session, ticket)
    if existing is not None:
        raise IllegalStep("order_still_open", number=ticket.number, order=existing.number)
    return _issue(session, ticket, at, actor, "manual", note)


def _order_event(session: UnitOfWork, order: SupervisionOrder, action: str, at: datetime, actor: Actor,
                 note: str | None, **data: Any) -> None:
    record_event(session, order.ticket, "supervision_order", at, actor=actor.name, actor_id=actor.user_id, note=note,
                 data={"action": action, "number": order.number, "reason": order.reason,
                       "unit_code": order.unit.code, "status": order.status, **data})


def answer_order(session: UnitOfWork, order: SupervisionOrder, at: datetime, actor: Actor, answer: str) -> None:
    """The unit answers (反馈) the order: what it did and why it was late."""
    check(actor, "answer_order", order.unit_id)
    aware(at, "answer")
    if order.status != "open":
        raise IllegalStep("order_not_open", order=order.number, status=order.status)
    answer = required(answer, "answer", order.number)
    order.status, order.answered_at, order.answer = "answered", at, answer
    _order_event(session, order, "answered", at, actor, answer, on_time=at <= order.due_at)


def close_order(session: UnitOfWork, order: SupervisionOrder, at: datetime, actor: Actor,
                note: str | None = None) -> None:
    """A supervisor (or whoever may supervise) closes the order."""
    check(actor, "supervise", order.unit_id)
    aware(at, "close")
    if order.status == "closed":
        raise IllegalStep("order_closed", order=order.number)
    order.status = "closed"
    if note:
        order.note = f"{order.note}\n{note}" if order.note else note
    _order_event(session, order, "closed", at, actor, note)


# ------------------------------------------------------------- reminder letters
@dataclass(frozen=True)
class LetterDraft:
    """A 提醒函 to issue (:func:`issue_reminder_letters`)."""

    unit: Unit
    at: datetime
    reason: str
    text: str
    ticket: Ticket | None = None
    actor: Actor = SYSTEM


def issue_reminder_letter(
    session: UnitOfWork, unit: Unit, at: datetime, *, reason: str, text: str, ticket: Ticket | None = None,
    actor: Actor = SYSTEM,
) -> ReminderLetter:
    """A 提醒函 to ``unit``; its heads are notified, and the ticket's timeline records it."""
    return issue_reminder_letters(session, [LetterDraft(unit, at, reason, text, ticket, actor)])[0]


def issue_reminder_letters(session: UnitOfWork, drafts: Sequence[LetterDraft]) -> list[ReminderLetter]:
    """:func:`issue_reminder_letter` for several letters: numbered in the order given, each
    unit's heads read once, the notifications and timeline events written together."""
    tz = session.config.tz
    heads = notify.unit_heads_many(session, [d.unit for d in drafts])
    letters = [ReminderLetter(id=lid, number=number, ticket_id=d.ticket.id if d.ticket else None, unit_id=d.unit.id,
                              reason=d.reason, issued_at=d.at, issued_by=d.actor.name, text=d.text)
               for d, number, lid in zip(drafts, numbers.take(session, numbers.REMINDER_LETTER, [d.at for d in drafts], tz),
                                         sequence_ids(session, ReminderLetter.__table__, len(drafts)))]
    session.add_all(letters)
    notify.notify_many(session, [
        notify.Notice(d.ticket, heads[d.unit.id], "reminder_letter",
                      f"提醒函{letter.number}（{LETTER_REASONS.get(d.reason, d.reason)}）：{d.text}", d.at, actor=d.actor,
                      data={"number": letter.number, "reason": d.reason, "unit_code": d.unit.code})
        for d, letter in zip(drafts, letters)])
    return letters


def issue_leader_instruction(session: UnitOfWork, ticket_or_unit: Ticket | Unit, at: datetime, actor: Actor,
                             text: str) -> ReminderLetter:
    """局领导批示 → a reminder letter to the ticket's unit (or to the unit given)."""
    ticket = ticket_or_unit if isinstance(ticket_or_unit, Ticket) else None
    unit = ticket.unit if ticket is not None else ticket_or_unit
    if unit is None or not isinstance(unit, Unit):
        raise IllegalStep("no_unit_yet", number=ticket.number if ticket is not None else None)
    check(actor, "remind", unit.id)
    aware(at, "instruction")
    text = required(text, "instruction", ticket.number if ticket is not None else None)
    subject = f"工单{ticket.number}：" if ticket is not None else ""
    return issue_reminder_letter(session, unit, at, reason="leader_instruction", text=f"{subject}{text}",
                                 ticket=ticket, actor=actor)


class Complaint(Protocol):
    """What the repeat check reads of a ticket: an ORM ticket, or a row the bulk writer wrote."""

    id: int
    number: str
    kind: str
    unit_id: int | None
    citizen_phone: str | None
    topic: str
    lat: float | None
    lon: float | None
    received_at: datetime


# The probes reach the database as one JSON parameter (an array of arrays): one statement,
# prepared once, for any number of them (a VALUES list of bound parameters is compiled anew
# for every call, which cost more than the query).
_PROBE_COLUMNS = ("pid", "tid", "unit_id", "phone", "topic", "since", "until", "lat_lo", "lat_hi", "lon_lo", "lon_hi")
_PROBES = {
    "sqlite": "SELECT " + ", ".join(f"json_extract(value, '$[{i}]') AS {c}" for i, c in enumerate(_PROBE_COLUMNS))
              + " FROM json_each(:probes)",
    "postgresql": "SELECT " + ", ".join(f"p[{i + 1}]::{t} AS {c}" for i, (c, t) in enumerate(zip(_PROBE_COLUMNS, (
        "int", "int", "int", "text", "text", "timestamptz", "timestamptz", "float8", "float8", "float8", "float8"))))
        + " FROM (SELECT ARRAY(SELECT json_array_elements_text(e)) AS p FROM json_array_elements(CAST(:probes AS json)) AS e) AS rows",
}
# The probe's unit's other complaints in its window, by the same caller (ix_tickets_phone) or
# on its topic in a box around its point (ix_tickets_unit_topic_lat).
_RECENT_SQL = """
WITH probe AS ({probes})
SELECT probe.pid, t.id, t.number, t.citizen_phone, t.topic, t.lat, t.lon, t.received_at
FROM probe JOIN tickets AS t ON t.citizen_phone = probe.phone AND {common}
UNION
SELECT probe.pid, t.id, t.number, t.citizen_phone, t.topic, t.lat, t.lon, t.received_at
FROM probe JOIN tickets AS t ON t.topic = probe.topic AND t.lat BETWEEN probe.lat_lo AND probe.lat_hi
    AND t.lon BETWEEN probe.lon_lo AND probe.lon_hi AND {common}
"""
_COMMON = ("t.unit_id = probe.unit_id AND t.id <> probe.tid AND t.kind = 'complaint' AND t.status <> 'merged' "
           "AND t.received_at >= probe.since AND t.received_at <= probe.until")


@functools.lru_cache(maxsize=4)
def _recent_statement(dialect: str) -> Any:
    return text(_RECENT_SQL.format(probes=_PROBES[dialect], common=_COMMON)).columns(
        pid=Integer, id=Integer, number=String, citizen_phone=String, topic=String, lat=Float, lon=Float,
        received_at=UTCDateTime)


def _recent_complaints(session: Session, probes: list[tuple[int, Complaint]], cfg: SupervisionRules,
                       ) -> dict[int, list[Any]]:
    """Per probe, the same unit's other complaints of the last ``repeat_days`` before it, by the
    same caller or on the same topic within a box around its point, oldest first."""
    connection = session.connection()
    dialect = connection.dialect
    # Instants as the column stores them (on SQLite, text that compares in time order).
    stored = stored_form(UTCDateTime(), dialect) or (lambda v: v)

    def instant(value: datetime) -> str:
        v = stored(value)
        return v.isoformat() if isinstance(v, datetime) else v

    window = timedelta(days=cfg.repeat_days)
    dlat = cfg.repeat_radius_m / 111_320.0
    rows = []
    for pid, t in probes:
        # A missing phone or point is null, which matches nothing.
        box: tuple[float | None, ...] = (None, None, None, None)
        if t.lat is not None and t.lon is not None:
            dlon = dlat / max(0.01, math.cos(math.radians(t.lat)))
            box = (t.lat - dlat, t.lat + dlat, t.lon - dlon, t.lon + dlon)
        rows.append((pid, t.id, t.unit_id, t.citizen_phone or None, t.topic,
                     instant(t.received_at - window), instant(t.received_at), *box))
    found: dict[int, list[Any]] = {}
    for r in connection.execute(_recent_statement(dialect.name), {"probes": json.dumps(rows)}):
        found.setdefault(r.pid, []).append(r)
    for rows_of in found.values():
        rows_of.sort(key=lambda r: (r.received_at, r.id))
    return found


def check_repeated_many(session: UnitOfWork, dispatched: Sequence[tuple[Complaint, datetime]]
                        ) -> list[ReminderLetter]:
    """A reminder letter for each (complaint, when it was dispatched) that makes a repeated one at
    its unit (see the module docstring), decided in that order as if one at a time: a letter
    issued for one of them counts for those after it."""
    cfg = session.config.supervision
    probes = [(n, t) for n, (t, _at) in enumerate(dispatched)
              if t.kind == "complaint" and t.unit_id is not None
              and (t.citizen_phone or (t.lat is not None and t.lon is not None))]
    recent = _recent_complaints(session, probes, cfg) if probes else {}
    clusters: list[tuple[int, str, list[Any]]] = []  # (probe, what, its cluster) reaching repeat_count
    days = f"{cfg.repeat_days:g}"
    for n, t in probes:
        rows = recent.get(n, [])
        same_phone = [r for r in rows if t.citizen_phone and r.citizen_phone == t.citizen_phone]
        same_place = [r for r in rows if r.topic == t.topic and r.lat is not None and r.lon is not None
                      and t.lat is not None and t.lon is not None
                      and distance_m(t.lat, t.lon, r.lat, r.lon) <= cfg.repeat_radius_m]
        for cluster, what in ((same_phone, f"同一来电人近{days}日"),
                              (same_place, f"同一地点（{cfg.repeat_radius_m:g}米内）近{days}日")):
            if len(cluster) + 1 >= cfg.repeat_count:
                clusters.append((n, what, cluster))
    if not clusters:
        return []
    # At most one letter per cluster: none where one of its tickets has one already.
    involved = {dispatched[n][0].id for n, _w, _c in clusters} | {r.id for _n, _w, c in clusters for r in c}
    lettered: set[int] = set()
    ids = sorted(involved)
    for start in range(0, len(ids), 1000):
        lettered.update(session.scalars(select(ReminderLetter.ticket_id).where(
            ReminderLetter.ticket_id.in_(ids[start:start + 1000]), ReminderLetter.reason == "repeated")))
    drafts: list[tuple[Complaint, datetime, str]] = []  # (complaint, when, the letter's text)
    for n, what, cluster in clusters:
        t, at = dispatched[n]
        if t.id in lettered or any(r.id in lettered for r in cluster):  # one letter per complaint, too
            continue
        listed = "、".join([r.number for r in cluster] + [t.number])
        text = (f"{what}就{TOPICS.get(t.topic, t.topic)}问题投诉{len(cluster) + 1}次"
                f"（工单{listed}），请高度重视，查明原因，从根本上解决。")
        drafts.append((t, at, text))
        lettered.add(t.id)
    if not drafts:
        return []
    # The ORM tickets (and units) of the complaints that earn a letter, in one query.
    loaded = {t.id: t for t in session.scalars(select(Ticket).where(Ticket.id.in_([t.id for t, _a, _x in drafts]))
                                               .options(selectinload(Ticket.unit)))}
    letters = [(loaded[t.id], at, text) for t, at, text in drafts]
    return issue_reminder_letters(session, [
        LetterDraft(ticket.unit, at, "repeated", text, ticket) for ticket, at, text in letters if ticket.unit is not None])


def on_dispatched(session: UnitOfWork, items: list[tuple[Complaint, TicketEvent]]) -> None:
    check_repeated_many(session, [(ticket, event.at) for ticket, event in items])
