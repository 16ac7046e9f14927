"""提醒函: the reminder letter to a unit, printable (``GET /api/v1/supervision/letters/<number>.pdf``).

Its text is the letter's own (unsatisfied follow-up, repeated complaints, a
leader's instruction), the ticket's facts when it names one, and a receipt
for the unit to sign (its time once acknowledged).
"""
from __future__ import annotations

from datetime import tzinfo

from sqlalchemy.orm import Session

from dashboard.documents import common, html, ticket_facts, when, write_pdf
from tickets.models import ReminderLetter, Ticket, Unit
from tickets.personal import redacted
from tickets.supervision import LETTER_REASONS

KIND = "提醒函"


def filename(letter: ReminderLetter) -> str:
    return f"{KIND}{letter.number}.pdf"


def document_html(session: Session, letter: ReminderLetter, tz: tzinfo) -> str:
    unit = session.get(Unit, letter.unit_id)
    assert unit is not None  # a foreign key
    ticket = session.get(Ticket, letter.ticket_id) if letter.ticket_id is not None else None
    return html(
        "letter.html",
        **common(session, unit, kind=KIND, number=letter.number, issued_by=letter.issued_by,
                 issued_at=letter.issued_at, tz=tz),
        text=redacted(letter.text, ticket),
        ticket=ticket_facts(ticket, tz) if ticket is not None else None,
        reason=LETTER_REASONS.get(letter.reason, letter.reason), acknowledged=when(letter.acknowledged_at, tz),
    )


def pdf(session: Session, letter: ReminderLetter, tz: tzinfo) -> bytes:
    """The letter as an A4 PDF (``documents.DocumentsUnavailable`` if this server cannot print)."""
    return write_pdf(document_html(session, letter, tz))
