"""Receiving: a validated channel record becomes an intake record and a ticket.

``feeds/`` validate what a channel sent and hand a :class:`NewRequest` here;
this module never sees raw payloads. The same (channel, external_id) twice is
one ticket: the second call returns the first ticket and writes nothing.
A record that is certainly a duplicate of an open ticket (``tickets.dedup``:
same phone, place, text, time) is merged into it instead of opening a new one;
a likely duplicate opens its ticket with a suggestion for the dispatcher.
"""
from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from tickets import dedup
from tickets.db import json_list
from tickets.models import Ticket
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


@dataclass(frozen=True)
class Received:
    """What became of one request: a new ticket, a merge into an open one, or a
    resubmission of an external id already taken in (its ticket, unchanged)."""

    status: str  # accepted | merged | duplicate
    ticket_id: int
    number: str


# One batch at a time per process: a batch's tickets sit in the shared
# de-duplication index under provisional ids until they are written, and another
# batch must not take one of them for a ticket it can merge into.
_writing = threading.Lock()


def receive_many(session: Session, requests: Sequence[NewRequest], now: datetime, tz: Any) -> list[Received]:
    """Take ``requests`` in, in one go, in the caller's transaction: each becomes a
    ticket routed and dispatched with its deadlines (timeline and outbox written), is
    merged into an open ticket it certainly duplicates (``tickets.dedup``; a likely
    duplicate gets a suggestion for the dispatcher), or is found to be a resubmission
    of the same (channel, external_id). One outcome per request, in order.

    The rows go in with the bulk writer imports use (``tickets.history``), which then
    runs the bus's ``dispatched`` handlers (repeat-complaint letters) on them, in time order.
    """
    from tickets import history  # it builds on NewRequest

    known = _taken(session, requests)
    # Per request: a Received already, or (position in ``fresh``, sent earlier in this batch?).
    out: list[Received | tuple[int, bool]] = []
    fresh: list[history.HistoricalRecord] = []
    first: dict[tuple[str, str], int] = {}
    for request in requests:
        key = (request.channel, request.external_id)
        if key in known:
            out.append(Received("duplicate", *known[key]))
        elif key in first:
            out.append((first[key], True))  # sent twice in this batch: the first one's ticket
        else:
            first[key] = len(fresh)
            out.append((len(fresh), False))
            fresh.append(history.HistoricalRecord(request, source=request.channel, due_from="sla"))
    done: list[history.Outcome] = []
    if fresh:
        index = dedup.index_for(session)
        with _writing:
            try:
                done = history.import_history(session, fresh, now, tz, index=index, units=history.units_for(session),
                                              live=True)
            except BaseException:
                index.clear()  # it may hold this batch's provisional entries
                raise
    results: list[Received] = []
    for item in out:
        if isinstance(item, Received):
            results.append(item)
            continue
        position, repeated = item
        o = done[position]
        status = "duplicate" if repeated else ("accepted" if o.kind == "imported" else "merged")
        results.append(Received(status, o.ticket_id, o.number))
    return results


def receive(session: Session, request: NewRequest, now: datetime, tz: Any) -> Ticket:
    """:func:`receive_many` for one request; returns its ticket (for a merge, the open
    ticket it joined; for a resubmission, the ticket the first submission made)."""
    outcome = receive_many(session, [request], now, tz)[0]
    ticket = session.get(Ticket, outcome.ticket_id)
    assert ticket is not None
    return ticket


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


def _taken(session: Session, requests: Sequence[NewRequest]) -> dict[tuple[str, str], tuple[int, str]]:
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

