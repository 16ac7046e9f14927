"""Who is told about an escalation, a supervision order or a reminder letter.

The people are found in the unit tree (三级架构) and the users' roles:

- a unit's **heads** (单位负责人): its active users with role ``leader``; if it
  has none, its parent unit's leaders; if nobody at all, the unit's leader
  role itself (a notification addressed to "the leader of unit X", which any
  leader later added to that unit sees), so nothing is ever lost;
- its **supervising department** (主管部门): the level-2 unit above a level-3
  unit, and the platform office (民生警务平台办公室);
- the **city leaders** (局领导): leaders at the level-1 unit of its bureau;
- the **supervision units** (督察、法制、信访): units of its bureau whose name
  says 督察, 法制 or 信访 (JN-DC 督察支队, JN-FZ 法制支队, JN-XF 信访处 in
  examples/jinan_bureau.yaml; a county bureau's 督察大队 … match the same way).

:func:`notify` writes one :class:`Notification` per recipient and one ticket
timeline event listing them (so it leaves through the outbox to the screens); a
named person with a mobile number is texted too, in working time unless urgent
(``tickets.official_sms``).
Recipients are described by unit code, role and user id, never by name.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tickets import official_sms
from tickets.db import sequence_ids
from tickets.dispatch import platform_office
from tickets.events import NewEvent, record_events
from tickets.models import Notification, Ticket, Unit, User
from tickets.roles import SYSTEM, Actor
from tickets.uow import UnitOfWork

LEADER = "leader"
SUPERVISION_UNIT_WORDS = ("督察", "法制", "信访")


@dataclass(frozen=True)
class Recipient:
    """A user, or a role in a unit (role None: the whole unit)."""

    unit: Unit
    role: str | None = None
    user: User | None = None

    @property
    def key(self) -> tuple[int, str | None, int | None]:
        return (self.unit.id, self.role, self.user.id if self.user else None)

    def describe(self) -> dict[str, Any]:
        return {"unit_code": self.unit.code, "role": self.role, "user_id": self.user.id if self.user else None}


def root_unit(unit: Unit) -> Unit:
    seen = set()
    while unit.parent is not None and unit.id not in seen:
        seen.add(unit.id)
        unit = unit.parent
    return unit


def leaders(session: Session, unit: Unit) -> list[User]:
    return list(session.scalars(
        select(User).where(User.unit_id == unit.id, User.role == LEADER, User.active.is_(True)).order_by(User.id)
    ))


def unit_heads(session: Session, unit: Unit) -> list[Recipient]:
    """The unit's leaders, else its parent's leaders, else the unit's leader role."""
    return unit_heads_many(session, [unit])[unit.id]


def unit_heads_many(session: Session, units: Iterable[Unit]) -> dict[int, list[Recipient]]:
    """:func:`unit_heads` of each unit, by unit id: the leaders of them all and their parents
    read in one query."""
    by_id = {u.id: u for u in units}
    parent_ids = {u.parent_id for u in by_id.values() if u.parent_id is not None}
    missing = parent_ids - by_id.keys()
    if missing:  # load the parents at once: ``unit.parent`` then costs no query
        session.scalars(select(Unit).where(Unit.id.in_(missing))).all()
    found: dict[int, list[User]] = {}
    for user in session.scalars(select(User).where(
            User.unit_id.in_(set(by_id) | parent_ids), User.role == LEADER, User.active.is_(True)).order_by(User.id)):
        found.setdefault(user.unit_id, []).append(user)
    out: dict[int, list[Recipient]] = {}
    for uid, unit in by_id.items():
        candidate = next((c for c in (unit, unit.parent) if c is not None and found.get(c.id)), None)
        out[uid] = [Recipient(candidate, LEADER, user) for user in found[candidate.id]] if candidate \
            else [Recipient(unit, LEADER)]
    return out


def office(session: Session) -> Recipient:
    return Recipient(platform_office(session))


def supervising_departments(session: Session, unit: Unit) -> list[Recipient]:
    """The level-2 unit above a level-3 unit, and the platform office."""
    out = []
    if unit.level == 3 and unit.parent is not None and unit.parent.level == 2:
        out.append(Recipient(unit.parent))
    out.append(office(session))
    return out


def city_leaders(session: Session, unit: Unit) -> list[Recipient]:
    city = root_unit(unit)
    found = leaders(session, city)
    return [Recipient(city, LEADER, user) for user in found] or [Recipient(city, LEADER)]


def supervision_units(session: Session, unit: Unit) -> list[Recipient]:
    """督察、法制、信访 of the unit's bureau, in that order."""
    root = root_unit(unit)
    candidates = [u for u in session.scalars(select(Unit).where(Unit.active.is_(True)).order_by(Unit.level, Unit.id))
                  if any(word in u.name for word in SUPERVISION_UNIT_WORDS)]
    out: list[Recipient] = []
    for word in SUPERVISION_UNIT_WORDS:
        out.extend(Recipient(u) for u in candidates if word in u.name and root_unit(u).id == root.id)
    return out


def unique(recipients: Iterable[Recipient]) -> list[Recipient]:
    seen: set[tuple[int, str | None, int | None]] = set()
    out = []
    for r in recipients:
        if r.key not in seen:
            seen.add(r.key)
            out.append(r)
    return out


@dataclass(frozen=True)
class Notice:
    """One thing to tell (:func:`notify_many`)."""

    ticket: Ticket | None
    recipients: Sequence[Recipient]
    kind: str
    text: str
    at: datetime
    actor: Actor = SYSTEM
    data: dict[str, Any] | None = None
    note: str | None = None


def notify(
    session: UnitOfWork, ticket: Ticket | None, recipients: Sequence[Recipient], kind: str, text: str, at: datetime,
    *, actor: Actor = SYSTEM, data: dict[str, Any] | None = None, note: str | None = None,
) -> list[Notification]:
    """A Notification per recipient; with a ticket, one timeline event ``kind`` listing them."""
    return notify_many(session, [Notice(ticket, recipients, kind, text, at, actor, data, note)])[0]


def notify_many(session: UnitOfWork, notices: Sequence[Notice]) -> list[list[Notification]]:
    """:func:`notify` for several notices, their timeline events recorded together."""
    out, steps = [], []
    everyone = [unique(n.recipients) for n in notices]
    ids = iter(sequence_ids(session, Notification.__table__, sum(map(len, everyone))))
    for n, recipients in zip(notices, everyone):
        rows = [
            Notification(id=next(ids), unit_id=r.unit.id, role=r.role if r.user is None else r.user.role,
                         user_id=r.user.id if r.user else None, ticket_id=n.ticket.id if n.ticket else None,
                         kind=n.kind, text=n.text, at=n.at)
            for r in recipients
        ]
        session.add_all(rows)
        out.append(rows)
        texted = official_sms.text_notice(session, n.ticket, n.kind, n.text, n.at, n.data,
                                          [r.user for r in recipients if r.user is not None])
        if n.ticket is not None:
            steps.append(NewEvent(n.ticket, n.kind, n.at, actor=n.actor.name, actor_id=n.actor.user_id, note=n.note,
                                  data={**(n.data or {}), "recipients": [r.describe() for r in recipients],
                                        **({"texted": texted} if texted else {})}))
    if steps:
        record_events(session, steps)
    return out
