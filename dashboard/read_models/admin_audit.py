"""The audit section of /admin: a page of the log, filtered, and the state of its hash chain."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tickets import audit
from tickets.models import AuditEntry

PAGE_SIZE = 50


def entries(session: Session, *, actor: str | None = None, ticket: str | None = None, action: str | None = None,
            since: datetime | None = None, until: datetime | None = None, before: int | None = None,
            tickets: Any = None, limit: int = PAGE_SIZE) -> tuple[list[dict[str, Any]], int | None]:
    """The newest ``limit`` rows matching the filters below id ``before``, and the id the next
    (older) page starts below (None: no more). ``tickets``: a query of the ticket numbers the
    reader may see (a branch's supervisor: its own tickets' rows only); None: every row."""
    stmt = audit.filtered(select(AuditEntry), actor=actor, ticket=ticket, action=action, since=since, until=until)
    if tickets is not None:
        stmt = stmt.where(AuditEntry.ticket.in_(tickets))
    if before is not None:
        stmt = stmt.where(AuditEntry.id < before)
    found = list(session.scalars(stmt.order_by(AuditEntry.id.desc()).limit(limit + 1)))
    more = len(found) > limit
    found = found[:limit]
    rows = [{"id": r.id, "at": r.at, "actor": r.actor, "action": r.action, "ticket": r.ticket, "target": r.target,
             "details": r.details or {}} for r in found]
    return rows, (found[-1].id if more and found else None)


def chain(session: Session, after: int = 0, prev: str = audit.GENESIS, checked: int = 0) -> dict[str, Any]:
    """The chain walked from the row after ``after`` (0: its first row; ``prev``: that row's
    expected ``prev_hash``, ``checked``: the rows verified before it): ``checked`` rows intact,
    the last of them ``head``, ``broken_at`` the first row that is not (None: intact), ``reason`` why."""
    n, head, broken = audit.verify_from(session, after, prev)
    return {"checked": checked + n, "head": list(head), "broken_at": broken.id if broken else None,
            "reason": broken.reason if broken else None}


def summary(session: Session) -> dict[str, Any]:
    return {"rows": audit.count(session)}
