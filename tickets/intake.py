"""What a channel hands the domain: a validated request, and what became of it.

``feeds/`` validate what a channel sent and hand a :class:`NewRequest` to
``tickets.services.receive``; the domain never sees raw payloads. The same
(channel, external_id) twice is one ticket (:func:`taken` finds the first).
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from tickets.db import json_list
from tickets.vocabulary import CHANNELS, KINDS, SLA_CLASSES, TOPICS


# The one window of plausible times, for every channel and every parameter: nothing the platform
# handles happened before 2000; a time something was received (dispatched, sent, registered) lies
# at most five minutes ahead of our clock (a sender's clock runs a little fast); any other time (a
# deadline, the end of a period asked about) by 2999 (further on, moving it a zone or a day overflows).
EARLIEST = datetime(2000, 1, 1, tzinfo=timezone.utc)
LATEST = datetime(2999, 12, 31, tzinfo=timezone.utc)
AHEAD = timedelta(minutes=5)


def outside_window(at: datetime, now: datetime | None = None) -> str | None:
    """Why ``at`` (with its zone) is not a plausible time, or None; ``now`` given: a time of receipt."""
    if at < EARLIEST:
        return f"{at.isoformat()} is before {EARLIEST.date().isoformat()}"
    if now is not None and at > now + AHEAD:
        return f"{at.isoformat()} is more than {AHEAD.seconds // 60} minutes in the future"
    if at > LATEST:
        return f"{at.isoformat()} is after {LATEST.date().isoformat()}"
    return None


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
    # The source's own resolve deadline, where its configuration says to keep it (a 12345
    # order's 办理时限 with ``deadline: source``); None: the bureau's SLA policy sets it.
    due_at: datetime | None = None
    # The source's working calendar (``tickets.calendars`` key); None: the bureau's.
    calendar: str | None = None

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


@dataclass(frozen=True)
class Received:
    """What became of one request: a new ticket, a merge into an open one, or a
    resubmission of an external id already taken in (its ticket, unchanged)."""

    status: str  # accepted | merged | duplicate
    ticket_id: int
    number: str


# Each external id looked up on its own through the (channel, external_id) unique index:
# with an IN list, PostgreSQL's planner, on statistics a burst of intake has made stale
# (autovacuum analyzes a minute later), scanned every record of the channel instead.
_TAKEN = """
SELECT q.ext, q.tid, (SELECT t.number FROM tickets AS t WHERE t.id = q.tid) AS number
FROM (SELECT x.value AS ext, (SELECT r.ticket_id FROM intake_records AS r
                              WHERE r.channel = :channel AND r.external_id = x.value) AS tid
      FROM ({ids}) AS x) AS q
WHERE q.tid IS NOT NULL
"""


def taken(session: Session, requests: Sequence[NewRequest]) -> dict[tuple[str, str], tuple[int, str]]:
    """(channel, external id) → (ticket id, number) of those already taken in."""
    by_channel: dict[str, list[str]] = {}
    for r in requests:
        by_channel.setdefault(r.channel, []).append(r.external_id)
    connection = session.connection()
    statement = text(_TAKEN.format(ids=json_list(connection.dialect.name, "ids")))
    known: dict[tuple[str, str], tuple[int, str]] = {}
    for channel, ids in by_channel.items():
        for ext, tid, number in connection.execute(statement, {"channel": channel, "ids": json.dumps(ids)}):
            known[(channel, ext)] = (tid, number)
    return known

