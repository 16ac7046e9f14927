"""The figures' counts as SQL expressions over a period's tickets, and one ticket's handling time.

Defined once here because two readers must count alike: the scan of a period's tickets
(``tickets.figures``) and the rows kept per unit and day (``tickets.rollups``).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, or_

from tickets.models import Ticket


def count_if(condition: Any) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def tally_columns(now: datetime) -> list[Any]:
    """``Tally``'s counts over a period's tickets (``TALLY_COLUMNS`` names them, in order)."""
    closed = Ticket.status == "closed"
    return [
        func.count(),
        count_if(Ticket.dispatched_at.is_not(None)),
        count_if(Ticket.direct_dispatch.is_(True)),
        count_if(and_(Ticket.contact_due_at.is_not(None),
                       or_(Ticket.contacted_at.is_not(None), Ticket.contact_due_at <= now))),
        count_if(and_(Ticket.contacted_at.is_not(None), Ticket.contacted_at <= Ticket.contact_due_at)),
        count_if(or_(closed, Ticket.resolve_due_at <= now)),
        count_if(closed),
        count_if(and_(closed, Ticket.closed_at <= Ticket.resolve_due_at)),
        func.coalesce(func.sum(Ticket.follow_ups_answered), 0),
        func.coalesce(func.sum(Ticket.follow_ups_satisfied), 0),
    ]


TALLY_COLUMNS = ("received", "dispatched", "direct", "response_due", "responded_on_time", "due", "closed",
                 "closed_on_time", "follow_ups_answered", "follow_ups_satisfied")


# ``SubTally``'s fields as ``tickets.rollups`` names them (its dispatched is Tally's too).
SUB_COLUMNS = ("accept_due", "accepted_on_time", "sub_dispatched", "returned", "replied", "redone")


def sub_columns(now: datetime) -> list[Any]:
    """``SubTally``'s counts over a period's tickets, in ``SUB_FIELDS`` order."""
    return [
        count_if(and_(Ticket.contact_due_at.is_not(None),
                       or_(Ticket.accepted_at.is_not(None), Ticket.contact_due_at <= now))),
        count_if(and_(Ticket.accepted_at.is_not(None), Ticket.accepted_at <= Ticket.contact_due_at)),
        count_if(Ticket.dispatched_at.is_not(None)),
        count_if(and_(Ticket.dispatched_at.is_not(None), Ticket.returned.is_(True))),
        count_if(Ticket.replied_at.is_not(None)),
        count_if(and_(Ticket.replied_at.is_not(None), Ticket.redo_count > 0)),
    ]


def handling_time(received: datetime, closed: datetime, tz: Any, calendar: str | None) -> float:
    """Received → closed in working hours, on the ticket's calendar (``Ticket.calendar``)."""
    from tickets import calendars
    from tickets.sla import working_hours_between

    return round(working_hours_between(received, closed, tz, calendar=calendars.from_key(calendar)), 6)


