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

from tickets import audit
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


# Personal numbers standing alone in free text (not a run of digits inside a longer number: a
# ticket's, an order's, a date, an amount):
# - a mobile number: 13812345678, 138-1234-5678, 138 1234 5678, +86 138 1234 5678, 0086…;
# - a landline with its area code: 0531-88886666, 0531 8888 6666, (0531)88886666, +86 531 8888 6666;
# - a resident ID-card number: 18 characters (a province, a birth date, a valid check digit, maybe
#   X) or the old 15 digits (a province and a birth date yymmdd).
_PROVINCE = r"(?:1[1-5]|2[1-3]|3[1-7]|4[1-6]|5[0-4]|6[1-5]|71|8[12])\d{4}"
_MONTH_DAY = r"(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])"
_PERSONAL_IN_TEXT = re.compile(
    r"(?<![0-9A-Za-z])(?:"
    rf"(?P<id18>{_PROVINCE}(?:18|19|20)\d{{2}}{_MONTH_DAY}\d{{3}}[0-9Xx])"
    rf"|(?P<id15>{_PROVINCE}\d{{2}}{_MONTH_DAY}\d{{3}})"
    r"|(?P<phone>(?:(?:\+|00)86[\s-]?)?1[3-9]\d(?:[\s-]?\d{4}){2}"
    r"|(?:\(0\d{2,3}\)|0\d{2,3})[\s-]?[2-9]\d{2,3}[\s-]?\d{4}"
    r"|(?:\+|00)86[\s-]?[1-9]\d{1,2}[\s-]?[2-9]\d{2,3}[\s-]?\d{4})"
    r")(?![0-9A-Za-z])")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def _id_check_digit(first17: str) -> str:
    return "10X98765432"[sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS)) % 11]


def _masked_number(m: re.Match[str]) -> str:
    number = m.group(0)
    if m.group("phone"):
        return mask_phone(number)
    if m.group("id18") and _id_check_digit(number[:17]) != number[17].upper():
        return number  # eighteen digits that are not an ID-card number (the check digit says so)
    return number[:6] + "*" * (len(number) - 10) + number[-4:]


def redacted(text: str | None, ticket: Ticket | None = None) -> str:
    """Free text (a title, the request, an order's note) with phone and ID-card numbers masked,
    and the ticket's citizen's name: for everything that leaves the platform or is shown on a
    shared screen (documents, the bulletin, the Open311 API), where no reveal is audited."""
    out = _PERSONAL_IN_TEXT.sub(_masked_number, text or "")
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
    audit.record(uow, actor.name, "reveal", ticket=ticket.number,
                 details={"remote_addr": (remote_addr or "")[:64] or None})
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
