"""SMS to officials (短信提醒): a notice that names a person reaches their phone too.

When :func:`tickets.notify.notify_many` tells a named user (a unit's head, a city
leader) of something the configuration texts (``OfficialSmsRules.kinds``: escalations,
supervision orders and digests, reminder letters, findings due) and the user has a
mobile number, an SMS goes with the notification:

- in working time (the ticket's SLA working hours on the official calendar), at once;
- outside it, **held** until the next working period begins (``status='held'``,
  ``not_before``): a station head is not woken at 3 a.m. over a ticket that can wait
  until 08:30, and learns to trust the texts that do come at night;
- unless the ticket is **urgent**: from an urgent channel (110 records by default), of
  an urgent topic, or an escalation that reached ``urgent_level`` (the city's leaders):
  then at once, whatever the hour. ``hours: any`` texts everything at once.

A notice to a role rather than a person (a unit with no head account yet) or to a
whole unit texts nobody: a text goes to a named person only. :func:`release` (a
housekeeping sweep) sends the held texts whose time has come; a deferred gateway's
are then queued and delivered after commit like every other SMS
(``followup.deliver_queued``). The ticket's timeline event lists who was texted and
when, by user id, never the number; logs mask it.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from tickets import sla
from tickets.config import OfficialSmsRules
from tickets.models import SmsMessage, Ticket, User
from tickets.sms import normalise_phone, post
from tickets.uow import UnitOfWork

PREFIX = "【民生警务】"
LOOK_AHEAD = timedelta(days=30)  # longer than any run of holidays (春节: 8 days with the weekend)


def urgent(rules: OfficialSmsRules, ticket: Ticket | None, kind: str, data: dict[str, Any] | None) -> bool:
    """Whether a notice about ``ticket`` may text at any hour (see the module's doc)."""
    if kind == "escalated" and int((data or {}).get("level") or 0) >= rules.urgent_level:
        return True
    return ticket is not None and (ticket.channel in rules.urgent_channels or ticket.topic in rules.urgent_topics)


def not_before(at: datetime, tz: Any, ticket: Ticket | None) -> datetime | None:
    """None if ``at`` is in working time (for the ticket's policy), else the next working period's start."""
    policy = sla.policy_for(ticket.topic, ticket.channel) if ticket is not None else None
    spans = sla.working_intervals(at, at + LOOK_AHEAD, tz, policy)
    if not spans or spans[0][0] <= at:
        return None
    return spans[0][0]


def text_notice(session: UnitOfWork, ticket: Ticket | None, kind: str, text: str, at: datetime,
                data: dict[str, Any] | None, people: Iterable[User]) -> list[dict[str, Any]]:
    """The texts a notice sends to the named ``people`` (recorded in this transaction): one each with
    a phone, at once or held; what the timeline says of each (user id, status, held until)."""
    rules = session.config.official_sms
    if kind not in rules.kinds:
        return []
    phones = {user.id: normalise_phone(user.phone) for user in people if normalise_phone(user.phone)}
    if not phones:
        return []
    hold = None
    if rules.hours == "working" and not urgent(rules, ticket, kind, data):
        hold = not_before(at, session.config.tz, ticket)
    gateway = session.config.follow_up.gateway
    out = []
    for user_id, phone in phones.items():
        message = SmsMessage(direction="out", phone=phone, text=PREFIX + text, at=at, gateway=gateway.name,
                             status="held" if hold else "queued", ticket_id=ticket.id if ticket is not None else None,
                             user_id=user_id, not_before=hold)
        if hold is None:
            post(gateway, message)
        session.add(message)
        out.append({"user_id": user_id, "status": message.status,
                    "not_before": hold.isoformat() if hold is not None else None})
    return out


def release(session: UnitOfWork, now: datetime, limit: int = 500) -> dict[str, int]:
    """A housekeeping sweep: send (or, for a deferred gateway, queue) the held texts whose time has come."""
    gateway = session.config.follow_up.gateway
    held = session.scalars(select(SmsMessage).where(SmsMessage.status == "held", SmsMessage.not_before <= now)
                           .order_by(SmsMessage.not_before, SmsMessage.id).limit(limit)).all()
    for message in held:
        post(gateway, message)
    return {"released": len(held)}
