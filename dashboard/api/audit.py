"""The audit log (tickets/audit.py): who did what, newest first.

    GET /api/v1/audit?actor=&ticket=&action=&since=&until=    admin and supervisor; a page, by id descending

``actor`` a username (``system``, ``cli:<user>``), ``ticket`` a ticket's number, ``action`` one
of ``tickets.audit.ACTIONS``; ``since`` (inclusive) and ``until`` (exclusive) ISO 8601 times with
their zone. Admins and the city's supervisors (督察, 法制, 信访) read the whole log; a
supervisor of a branch reads the rows about its own tickets. Read-only: the log has no write,
update or delete route.
"""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import jsonify, request
from sqlalchemy import select

from dashboard.api import serializers
from dashboard.api.base import blueprint, platform
from dashboard.api.errors import BadParameter
from dashboard.api.openapi import PAGE, TIME, Param, one_of, operation, page_of
from dashboard.api.pagination import Key, page
from dashboard.api.params import optional_choice, text
from dashboard.auth import current_actor, require_login
from tickets import audit
from tickets.models import AuditEntry, Ticket

READERS = frozenset({"admin", "supervisor"})
FILTERS = (
    Param("actor", {"type": "string", "maxLength": 64}, "who acted: a username, system, cli:<user>"),
    Param("ticket", {"type": "string", "maxLength": 32}, "a ticket's number"),
    one_of("action", audit.ACTIONS, "what was done"),
    Param("since", TIME, "from this time on (ISO 8601 with its zone)"),
    Param("until", TIME, "before this time (ISO 8601 with its zone)"),
)


def _instant(name: str) -> datetime | None:
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw)
        if value.tzinfo is None:
            raise ValueError("no zone")
        return value.astimezone(UTC)
    except (ValueError, OverflowError):
        raise BadParameter(name, "invalid_time", value=raw) from None


@blueprint.get("/audit")
@operation("The audit log, newest first: logins, reveals, lifecycle steps, admin changes, bulletin exports",
           {200: page_of("AuditEntry")}, params=(*FILTERS, *PAGE), roles=READERS)
@require_login(READERS)
def audit_log() -> Any:
    stmt = audit.filtered(select(AuditEntry), actor=text("actor", 64), ticket=text("ticket", 32),
                          action=optional_choice("action", audit.ACTIONS), since=_instant("since"),
                          until=_instant("until"))
    actor = current_actor()
    assert actor is not None
    if actor.visible_unit_ids is not None:  # a branch's supervisor: the steps and reveals of its tickets
        stmt = stmt.where(AuditEntry.ticket.in_(
            select(Ticket.number).where(Ticket.unit_id.in_(sorted(actor.visible_unit_ids)))))
    with platform().factory() as session:
        return jsonify(page(session, stmt, (Key(AuditEntry.id, descending=True),), serializers.audit_entry))
