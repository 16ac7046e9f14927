"""A citizen's name and phone number: masked everywhere, seen in full only where it belongs.

Every list, push frame and shared screen carries :func:`masked` details
(张** 138****5678). The full name and number are for the people who must call
the citizen: the handling unit (its officers, dispatcher and head) and the
platform office, on the ticket page, behind a reveal; every reveal writes an
audit row (who, which ticket, when, from where) that supervisors read.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from tickets.errors import NotAllowed
from tickets.models import PersonalDataReveal, Ticket, User
from tickets.roles import Actor, check
from tickets.sms import mask_phone
from tickets.uow import UnitOfWork


def mask_name(name: str | None) -> str:
    """张三 → 张*, 欧阳娜娜 → 欧***: the family name's first character stays."""
    name = (name or "").strip()
    return name[0] + "*" * max(len(name) - 1, 1) if name else ""


@dataclass(frozen=True)
class Citizen:
    name: str
    phone: str


def masked(ticket: Ticket) -> Citizen:
    return Citizen(mask_name(ticket.citizen_name), mask_phone(ticket.citizen_phone) if ticket.citizen_phone else "")


# A mobile number (13812345678, 138-1234-5678, +86 138 1234 5678) or a landline (0531-88886666)
# standing alone in free text: not a run of digits inside a longer number (a ticket's, a date).
_PHONE_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])(?:\+?86[\s-]?)?(?:1[3-9]\d(?:[\s-]?\d{4}){2}|0\d{2,3}-?\d{7,8})(?!\d)")


def redacted(text: str | None, ticket: Ticket | None = None) -> str:
    """Free text (a title, the request, an order's note) with any phone number masked, and the
    ticket's citizen's name: for documents that leave the platform, where no reveal is audited."""
    out = _PHONE_IN_TEXT.sub(lambda m: mask_phone(m.group(0)), text or "")
    name = ((ticket.citizen_name if ticket is not None else None) or "").strip()
    if len(name) >= 2:  # one character alone would mask that character in every word
        out = out.replace(name, mask_name(name))
    return out


def may_reveal(actor: Actor, ticket: Ticket) -> bool:
    """The handling unit's people and the platform office (admins too), never a kiosk or a viewer."""
    if actor.is_system or actor.role not in ("admin", "dispatcher", "handler", "leader"):
        return False
    return actor.office or actor.role == "admin" or (ticket.unit_id is not None and actor.unit_id == ticket.unit_id)


def reveal(uow: UnitOfWork, actor: Actor, ticket: Ticket, at: datetime, *, remote_addr: str | None = None,
           user_agent: str | None = None) -> Citizen:
    """The citizen's details in full, and the audit row that says who saw them."""
    check(actor, "reveal", ticket.unit_id)
    if not may_reveal(actor, ticket):
        raise NotAllowed("reveal_not_allowed", user=actor.name, number=ticket.number)
    uow.add(PersonalDataReveal(ticket_id=ticket.id, user_id=actor.user_id, actor=actor.name, at=at,
                               remote_addr=(remote_addr or "")[:64] or None, user_agent=(user_agent or "")[:200] or None))
    return Citizen(ticket.citizen_name or "", ticket.citizen_phone or "")


@dataclass(frozen=True)
class Reveal:
    at: datetime
    actor: str
    real_name: str | None
    police_number: str | None
    remote_addr: str | None


def reveals(uow: UnitOfWork, actor: Actor, ticket: Ticket) -> list[Reveal]:
    """Who saw this ticket's citizen in full, newest first: for supervisors (and admins, leaders)."""
    check(actor, "read_reveals", ticket.unit_id)
    rows = uow.execute(select(PersonalDataReveal, User).outerjoin(User, User.id == PersonalDataReveal.user_id)
                       .where(PersonalDataReveal.ticket_id == ticket.id)
                       .order_by(PersonalDataReveal.at.desc(), PersonalDataReveal.id.desc())).all()
    return [Reveal(r.at, r.actor, u.real_name if u else None, u.police_number if u else None, r.remote_addr)
            for r, u in rows]
