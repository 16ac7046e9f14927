"""Receiving: a validated channel record becomes an intake record and a ticket.

``feeds/`` validate what a channel sent and hand a :class:`NewRequest` here;
this module never sees raw payloads. The same (channel, external_id) twice is
one ticket: the second call returns the first ticket and writes nothing.
A record that is certainly a duplicate of an open ticket (``tickets.dedup``:
same phone, place, text, time) is merged into it instead of opening a new one;
a likely duplicate opens its ticket with a suggestion for the dispatcher.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tickets import dedup, dispatch, lifecycle
from tickets.events import record_event
from tickets.models import IntakeRecord, Ticket, Unit
from tickets.vocabulary import CHANNELS, KINDS, SLA_CLASSES, TOPICS


@dataclass(frozen=True)
class NewRequest:
    """A citizen request as one channel delivered it, already validated."""

    channel: str
    external_id: str
    received_at: datetime
    kind: str
    topic: str
    sla_class: str
    title: str
    content: str
    district: str | None = None
    address: str | None = None
    lat: float | None = None
    lon: float | None = None
    citizen_name: str | None = None
    citizen_phone: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)
    # The unit the source itself assigned (an import or replay of a system with
    # its own routing); None: routed by topic and place (dispatch.route).
    unit_code: str | None = None

    def __post_init__(self) -> None:
        problems = []
        if self.channel not in CHANNELS:
            problems.append(f"channel {self.channel!r} is not one of {sorted(CHANNELS)}")
        if self.kind not in KINDS:
            problems.append(f"kind {self.kind!r} is not one of {sorted(KINDS)}")
        if self.topic not in TOPICS:
            problems.append(f"topic {self.topic!r} is not one of {sorted(TOPICS)}")
        if self.sla_class not in SLA_CLASSES:
            problems.append(f"sla_class {self.sla_class!r} is not one of {sorted(SLA_CLASSES)}")
        if self.received_at.tzinfo is None:
            problems.append("received_at has no time zone")
        if not self.external_id:
            problems.append("external_id is empty")
        if problems:
            raise ValueError("; ".join(problems))


def next_ticket_number(session: Session, received_at: datetime, tz: Any) -> str:
    """MS + local date + a 6-digit serial of that day, e.g. MS20261122000042."""
    day = received_at.astimezone(tz).strftime("%Y%m%d")
    prefix = f"MS{day}"
    # A range, not LIKE: SQLite's case-insensitive LIKE (and PostgreSQL's outside the C
    # collation) cannot use the unique index on number and would scan every ticket.
    last = session.scalar(select(func.max(Ticket.number)).where(Ticket.number > prefix, Ticket.number < prefix + "~"))
    serial = int(last[len(prefix):]) + 1 if last else 1
    return f"{prefix}{serial:06d}"


def receive(session: Session, request: NewRequest, now: datetime, tz: Any) -> Ticket:
    """Take ``request`` in: store it, open a ticket, dispatch it, announce both.

    Idempotent on (channel, external_id): a resubmission returns the ticket
    the first submission created.
    """
    existing = session.scalar(
        select(IntakeRecord).where(
            IntakeRecord.channel == request.channel,
            IntakeRecord.external_id == request.external_id,
        )
    )
    if existing is not None:
        return existing.ticket
    merged_into, matches = dedup.on_new_request(session, request, now)
    if merged_into is not None:
        return merged_into  # a certain duplicate: one more intake record of an open ticket

    ticket = Ticket(
        number=next_ticket_number(session, request.received_at, tz),
        channel=request.channel,
        kind=request.kind,
        sla_class=request.sla_class,
        topic=request.topic,
        title=request.title[:200],
        content=request.content,
        district=request.district,
        address=request.address,
        lat=request.lat,
        lon=request.lon,
        citizen_name=request.citizen_name,
        citizen_phone=request.citizen_phone,
        status="received",
        received_at=request.received_at,
    )
    session.add(ticket)
    raw = request.raw or {k: v for k, v in asdict(request).items() if k != "raw"}
    session.add(
        IntakeRecord(
            channel=request.channel,
            external_id=request.external_id,
            ticket=ticket,
            received_at=request.received_at,
            payload=_jsonable(raw),
        )
    )
    session.flush()
    record_event(session, ticket, "received", request.received_at, data={"channel": request.channel})

    unit = _unit_by_code(session, request.unit_code) or dispatch.route(session, ticket)[0]
    lifecycle.dispatch(session, ticket, unit, max(now, request.received_at), tz)
    dedup.on_ticket_created(session, ticket, matches)
    return ticket


def _unit_by_code(session: Session, code: str | None) -> Unit | None:
    if not code:
        return None
    unit = session.scalar(select(Unit).where(Unit.code == code, Unit.active.is_(True)))
    if unit is None:
        raise ValueError(f"unit {code!r} is not an active unit")
    return unit


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value
