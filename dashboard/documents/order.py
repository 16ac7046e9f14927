"""督办单: the supervision order to a unit, printable (``GET /api/v1/supervision/orders/<number>.pdf``).

Its text is the order's own (reason, note, deadline) and its ticket's (number,
title, received, deadline), with space for the unit's answer, or the answer
and its time once given, and the order's state (open, answered, closed).
"""
from __future__ import annotations

from datetime import tzinfo

from sqlalchemy.orm import Session

from dashboard.documents import common, html, person, ticket_facts, when, write_pdf
from tickets.models import SupervisionOrder, User
from tickets.personal import redacted
from tickets.supervision import ORDER_REASONS

KIND = "督办单"
# Why it is supervised, as the body's sentence says it (the reason's label is in the table).
WHY = {"overdue": "已超过办理时限仍未办结", "returned_unresolved": "经审核退回，群众诉求尚未解决",
       "manual": "经值班研判，需加快办理"}
STATUS = {"open": "待反馈", "answered": "已反馈，待督办部门审核", "closed": "已办结（督办完毕）"}


def filename(order: SupervisionOrder) -> str:
    return f"{KIND}{order.number}.pdf"


def document_html(session: Session, order: SupervisionOrder, tz: tzinfo) -> str:
    ticket = order.ticket
    addressee = session.get(User, order.addressee_id) if order.addressee_id is not None else None
    return html(
        "order.html",
        **common(session, order.unit, kind=KIND, number=order.number, issued_by=order.issued_by,
                 issued_at=order.issued_at, tz=tz),
        addressee=f"{person(session, addressee.username)}同志" if addressee is not None else "",
        ticket=ticket_facts(ticket, tz), reason=ORDER_REASONS.get(order.reason, order.reason),
        why=WHY.get(order.reason, ORDER_REASONS.get(order.reason, order.reason)), due=when(order.due_at, tz), note=redacted(order.note, ticket),
        answer=redacted(order.answer, ticket), answered=when(order.answered_at, tz),
        answered_late=order.answered_at is not None and order.answered_at > order.due_at,
        status=STATUS.get(order.status, order.status),
    )


def pdf(session: Session, order: SupervisionOrder, tz: tzinfo) -> bytes:
    """The order as an A4 PDF (``documents.DocumentsUnavailable`` if this server cannot print)."""
    return write_pdf(document_html(session, order, tz))
