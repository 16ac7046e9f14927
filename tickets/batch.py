"""The bulk writer: a batch of arriving records becomes tickets, merges and suggestions at once.

Live intake (``tickets.services.receive``: every channel, the simulator, replay)
and the import of another system's history (``tickets.services.import_records``,
``feeds/importer.py``) both write through :func:`write_batch`, in the caller's
unit of work and in bulk. An import brings in records that lived their life
elsewhere: received at the source's time, routed by the source, often closed
long ago against the source's own deadline; pushing them through the lifecycle
step by step would invent steps that never happened here (an accept, a contact,
a reply, a follow-up SMS to a citizen from 2015). For each :class:`Arrival` the
writer puts down:

- the **ticket**, with ``received_at`` from the source; its unit from the
  source's own routing (``NewRequest.unit_code``) or, without one, from
  ``dispatch.route``; its **resolve deadline** from the source's due date
  (see ``due_from`` below); and, for a record that arrives closed, status
  ``closed`` with the source's **close time**. So the figures judge imported
  history exactly as the source did: closed by its deadline, or not.
- its **intake record** (channel, external id, the raw row as payload);
- its **timeline**, honestly: ``received`` at the source's time (data
  ``imported``: run, file, row, for an import), then either ``imported_closed`` at the
  source's close time (with the source's status and where the deadline came
  from) — a record of what the source did, not a platform ``close``, so no
  reply and no follow-up is implied or triggered — or, for a record that is
  still open, ``dispatched`` at its own received time (the source dispatched
  it then): its clocks run from then, so importing the same file on another
  day gives the same deadlines and figures. From now on the platform holds it
  and it is worked through the normal lifecycle like any other ticket; it is
  marked ``history``, and the sweeps issue it no supervision order unless its
  import asked (``Arrival.supervise``).

History is judged by its own time and calendar: every deadline counts from the
record's received time, in working time on the source's calendar
(``Arrival.calendar``, ``tickets.calendars``), and it has a contact deadline only
if the source had one (``contact_due_at``).

A record arriving through a channel now is always open: it is dispatched now
with the bureau's contact deadline, and the bureau's resolve deadline unless
its source's configuration keeps its own (``NewRequest.due_at``), on its
source's calendar (``NewRequest.calendar``; the official one by default).

Where the deadline comes from (``Arrival.due_from``), decided by the
mapping file for records whose source gives no due date:

- ``source``: the source's due date;
- ``closed_at``: the source counts a record without a due date as on time
  (Boston's OnTime_Status does): a closed one gets its close time as its
  deadline, an open one none;
- ``none``: no deadline (a closed record then counts as due and not on time,
  an open one is never due);
- ``sla``: the bureau's own policy (``tickets.sla``) from the received time,
  on the source's calendar;
- ``offset``: the source's own rule, received + ``offset_hours`` on the wall
  clock or in working hours on the source's calendar (``offset_clock``).

Only what the live path can use leaves through the outbox, in one message per
batch: the ``received`` and ``dispatched`` events of records that arrive *open*
(the wall shows them, their deadlines are watched) and ``record_merged`` events. Closed history is
not replayed onto the live path; today's live counters pick up a record that
was received and closed today after ``app.py live rebuild`` (the SQL figures,
the reference, include it at once). The bus's in-transaction handlers
(repeat-complaint letters) run only for records that arrive through a channel
now (no ``provenance``), on the rows as written; the housekeeping
sweeps leave imported history alone (``Ticket.history``) unless asked.

De-duplication (``tickets.dedup``) applies to records that arrive open, as
at intake: a certain duplicate of an open ticket becomes a merged intake
record of it (in ``auto`` mode), a likely one a suggestion. Closed history is
kept as the source judged it: each closed record stays its own ticket.
"""
from __future__ import annotations

import time
import weakref
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from geo import jurisdictions
from tickets import audit, calendars, dedup, dispatch, numbers, rollups, sla
from tickets.db import bulk_insert, reserve_ids
from tickets.events import event_row, public_view, record_rows
from tickets.figures import handling_time
from tickets.models import DuplicateSuggestion, IntakeRecord, Ticket, Unit
from tickets.intake import NewRequest
from tickets.uow import UnitOfWork

DUE_FROM = ("source", "closed_at", "none", "sla", "offset")
CLOCKS = ("wall", "working")


@dataclass(frozen=True)
class Arrival:
    """One validated record to write: arriving now through a channel, or from another system's history."""

    request: NewRequest  # received_at, channel, external id, text, place, unit_code …
    source: str  # where it came from, for the timeline: "file.csv:123"
    closed_at: datetime | None = None  # set: the record arrives closed, at the source's time
    due_at: datetime | None = None  # the source's own deadline
    due_from: str = "source"  # see the module docstring; for a record without due_at
    source_status: str | None = None
    # ``due_from="offset"``: the source's rule, received + this many hours on the ``offset_clock``
    # (wall: elapsed time; working: working hours on the record's calendar).
    offset_hours: float | None = None
    offset_clock: str = "wall"
    calendar: str | None = None  # the source's working calendar (``tickets.calendars`` key); None: the bureau's
    contact_due_at: datetime | None = None  # the source's own contact deadline, if it has one
    contacted_at: datetime | None = None  # when the source says the citizen was contacted
    supervise: bool = False  # imported history the sweeps treat as the bureau's own (supervision orders)

    def __post_init__(self) -> None:
        if self.due_from not in DUE_FROM:
            raise ValueError(f"due_from must be one of {DUE_FROM}, not {self.due_from!r}")
        if self.due_from == "offset" and (self.offset_hours is None or self.offset_hours <= 0):
            raise ValueError("due_from offset needs offset_hours > 0")
        if self.offset_clock not in CLOCKS:
            raise ValueError(f"offset_clock must be one of {CLOCKS}, not {self.offset_clock!r}")
        if self.closed_at is not None and self.closed_at < self.request.received_at:
            raise ValueError("closed before it was received")


@dataclass(frozen=True)
class Outcome:
    kind: str  # new (a ticket of its own) | merged (into an open ticket)
    ticket_id: int
    number: str
    suggestions: int = 0


@dataclass
class _Pending:
    record: Arrival
    values: dict[str, Any]
    provisional: int
    matches: list[tuple[dedup.Verdict, dedup.Record]] = field(default_factory=list)
    unit: Any = None  # UnitCache._plain
    judged: dedup.Record | None = None  # as de-duplication knows it (records that arrive open)
    due_source: str = "sla"  # where its resolve deadline came from (``DUE_FROM``)
    policy: str | None = None  # the SLA rules' version, where they set the deadlines


def _deadlines(rec: Arrival, now: datetime, tz: Any, plans: dict[tuple[Any, ...], sla.Schedule],
               history: bool) -> tuple[dict[str, datetime | None], str, str | None]:
    """(deadline columns, where the resolve deadline came from, the SLA rules' version if they
    set them). ``plans`` caches the SLA policy's answers within a batch.

    A record arriving now (``history`` False) is dispatched now with the bureau's deadlines.
    History is judged by its own time: every deadline counts from the record's own received
    time, on the source's calendar, whatever the day of the import; and it has a contact
    deadline only if the source had one (``contact_due_at``): an imported record is never
    late for a call the source never asked for."""
    req = rec.request
    calendar = calendars.from_key(rec.calendar)
    out: dict[str, datetime | None] = {"contact_due_at": None, "contact_warn_at": None,
                                       "resolve_due_at": None, "resolve_warn_at": None}
    start = max(now, req.received_at) if not history else req.received_at
    amber = sla.policy_for(req.topic, req.channel, start).amber_share  # the version in force at its dispatch
    if not history:  # arriving now: dispatched now, the bureau's contact deadline, the source's resolve one if kept
        key = (req.sla_class, start, req.topic, req.channel, rec.calendar)
        plan = plans.get(key)
        if plan is None:
            plan = plans[key] = sla.schedule(req.sla_class, start, tz, topic=req.topic, channel=req.channel,
                                             calendar=calendar)
        out.update(contact_due_at=plan.contact_due, contact_warn_at=plan.contact_warn,
                   resolve_due_at=plan.resolve_due, resolve_warn_at=plan.resolve_warn)
        if rec.due_at is None:
            return out, "sla", plan.policy
        out["resolve_due_at"] = rec.due_at
        out["resolve_warn_at"] = start + (rec.due_at - start) * amber if rec.due_at > start else rec.due_at
        return out, "source", plan.policy
    if rec.contact_due_at is not None:
        out["contact_due_at"] = rec.contact_due_at
        if rec.contact_due_at > req.received_at:
            out["contact_warn_at"] = req.received_at + (rec.contact_due_at - req.received_at) * amber
    due: datetime | None
    if rec.due_at is not None:
        due, source = rec.due_at, "source"
    elif rec.due_from == "closed_at":
        due, source = rec.closed_at, "closed_at"
    elif rec.due_from == "offset":
        assert rec.offset_hours is not None
        due = req.received_at + timedelta(hours=rec.offset_hours) if rec.offset_clock == "wall" else \
            sla.add_working_hours(req.received_at, rec.offset_hours, tz, calendar=calendar)
        source = "offset"
    elif rec.due_from == "sla":
        key = (req.sla_class, req.received_at, req.topic, req.channel, rec.calendar)
        plan = plans.get(key)
        if plan is None:
            plan = plans[key] = sla.schedule(req.sla_class, req.received_at, tz, topic=req.topic,
                                             channel=req.channel, calendar=calendar)
        out.update(resolve_due_at=plan.resolve_due, resolve_warn_at=plan.resolve_warn)
        return out, "sla", plan.policy
    else:
        due, source = None, "none"
    if due is not None:
        out["resolve_due_at"] = due
        if due > req.received_at:
            out["resolve_warn_at"] = req.received_at + (due - req.received_at) * amber
    return out, source, None


def past_due(rec: Arrival, now: datetime, tz: Any, plans: dict[tuple[Any, ...], sla.Schedule]) -> bool:
    """Whether an open historical record would be a breach the moment it is imported: its own
    resolve deadline (or the source's contact deadline, uncontacted) has passed by ``now``."""
    if rec.closed_at is not None:
        return False
    deadlines, _, _ = _deadlines(rec, now, tz, plans, history=True)
    resolve, contact = deadlines["resolve_due_at"], deadlines["contact_due_at"]
    return (resolve is not None and resolve <= now) or (
        contact is not None and rec.contacted_at is None and contact <= now)


def write_batch(
    uow: UnitOfWork,
    records: Sequence[Arrival],
    now: datetime,
    *,
    provenance: dict[str, Any] | None = None,
    params: dedup.Params | None = None,
    index: dedup.CandidateIndex | None = None,
    units: UnitCache | None = None,
    dry_run: bool = False,
) -> list[Outcome]:
    """Write ``records`` (already checked for duplicate external ids) in bulk; one outcome each,
    in the order of ``records`` (they are judged in time order).

    ``provenance``: the records come from another system's history (an import run: run id,
    file, mapping), which goes into each ``received`` event's ``imported`` data; None: they
    arrive now through a channel, and the bus hears their dispatch. Flushes, does not commit:
    the caller's unit of work holds the batch, and the intake locks (``UnitOfWork.lock_intake``)
    until it ends. ``dry_run``: decide everything (routing, deadlines, de-duplication against
    the database and against the run's earlier records) but write nothing; the new tickets
    stay in ``index`` under negative ids.
    """
    if not records:
        return []
    live = provenance is None
    session = uow
    tz = uow.config.tz
    params = params or uow.config.dedup
    index = index if index is not None else dedup.index_for(session)
    confirmed: dict[int, dedup.Record | None] = {}
    plans: dict[tuple[Any, ...], sla.Schedule] = {}
    sla.refresh_if_stale(session)  # a calendar year an admin loaded, as lifecycle.dispatch does
    units = units or UnitCache()
    units.session = session
    pending: list[_Pending] = []
    merged: list[tuple[Arrival, int, dedup.Verdict]] = []  # (record, target id (maybe provisional), why)
    outcomes: list[tuple[int, str, Any]] = []  # (position, "new", _Pending) | (position, "merged", index in merged)

    # Records that arrive open are judged against the open tickets: the index is made ready
    # for the whole batch, and their stored candidates confirmed in one query.
    # A batch's own new tickets are looked up in a small index of their own, beside the
    # candidates each record had in the shared one before the batch.
    judged: dict[int, dedup.Record] = {}
    ahead: dict[int, list[tuple[dedup.Verdict, dedup.Record]]] = {}
    own = dedup.CandidateIndex(resolution=index.resolution, rings=index.rings)
    if params.mode != "off":
        judged = {n: dedup.Record.of_request(rec.request) for n, rec in enumerate(records) if rec.closed_at is None}
        hours = {int(r.received_at.timestamp() // 3600): r.received_at for r in judged.values()}
        for i, at in enumerate(hours.values()):  # once per hour is enough; new commits looked for once
            index.prepare(session, at, params.window_hours, delta=i == 0)
        ahead = dict(zip(judged, dedup.confirm_ahead(session, list(judged.values()), params, index, confirmed)))

    # In time order: a record can only be the duplicate of one that came before it.
    for n, rec in sorted(enumerate(records), key=lambda nr: nr[1].request.received_at):
        req = rec.request
        is_open = rec.closed_at is None
        matches: list[tuple[dedup.Verdict, dedup.Record]] = []
        if n in judged:
            matches = dedup.search(session, judged[n], params, index=index, prepare=False, confirmed=confirmed,
                                   ranked=ahead[n],
                                   candidates=own.candidates(judged[n], params.window_hours, params.near_m))
            if matches and matches[0][0].level == dedup.CERTAIN and params.mode == "auto":
                target = matches[0][1].ticket_id
                assert target is not None
                merged.append((rec, target, matches[0][0]))
                outcomes.append((n, "merged", len(merged) - 1))
                continue
        unit = units.for_record(req)
        deadlines, due_source, policy = _deadlines(rec, now, tz, plans, history=not live)
        calendar = calendars.from_key(rec.calendar)
        values = {
            "number": None, "channel": req.channel, "kind": req.kind,
            "sla_class": req.sla_class, "topic": req.topic, "title": req.title[:200], "content": req.content,
            "district": req.district, "address": (req.address or None) and req.address[:200],
            "lat": req.lat, "lon": req.lon,
            "citizen_name": req.citizen_name, "citizen_phone": req.citizen_phone,
            "status": ("contacted" if rec.contacted_at is not None else "dispatched") if is_open else "closed",
            "version": 1, "unit_id": unit.id, "direct_dispatch": (unit.level == 3) if is_open else None,
            "received_at": req.received_at,
            # Open history was dispatched by its source when it arrived there: its clocks run from then.
            "dispatched_at": (max(now, req.received_at) if live else req.received_at) if is_open else None,
            "contacted_at": None if live else rec.contacted_at,
            "closed_at": rec.closed_at, "escalation_level": 1, "redo_count": 0, "extension_pending": False,
            "calendar": None if calendar.is_official else calendar.key,
            "handling_hours": None if rec.closed_at is None else handling_time(
                req.received_at, rec.closed_at, tz, None if calendar.is_official else calendar.key),
            "returned": False, "follow_ups_answered": 0, "follow_ups_satisfied": 0,
            "history": not live and not (is_open and rec.supervise),
            **deadlines,
        }
        item = _Pending(rec, values, provisional=index.provisional_id(), matches=matches, unit=unit)
        item.due_source, item.policy = due_source, policy
        pending.append(item)
        outcomes.append((n, "new", item))
        if n in judged:
            item.judged = replace(judged[n], ticket_id=item.provisional)
            index.add(item.judged)
            own.add(item.judged)

    # Written one batch at a time across processes; the tickets others committed while this
    # batch was judged came first, and the batch's new tickets are judged against them too.
    redirect: dict[int, int] = {}  # provisional id → another process's ticket it merged into
    if not dry_run:
        uow.lock_intake()
        if judged:
            late = index.catch_up(session)
            if late:
                redirect = _judge_late(late, pending, merged, outcomes, params, index)
    outcomes.sort(key=lambda o: o[0])  # the outcomes in the order of ``records``
    # Numbered in time order, as judged; a dry run only looks at the counters.
    instants = [p.record.request.received_at for p in pending]
    number_of = numbers.peek if dry_run else numbers.take
    for p, number in zip(pending, number_of(session, uow.config.ticket_prefix, instants, tz)):
        p.values["number"] = number
    if dry_run:
        out = []
        for _n, kind, ref in outcomes:
            if kind == "new":
                out.append(Outcome("new", ref.provisional, ref.values["number"],
                                   len(_suggested(ref, params, lambda t: t))))
            else:
                out.append(Outcome("merged", merged[ref][1], ""))
        return out

    # --- tickets. Ids are reserved up front (a sequence on PostgreSQL; under the write lock on
    # SQLite) and rows go in with the driver's executemany: SQLAlchemy's per-row parameter
    # handling, or RETURNING (row by row on SQLite when the order matters), cost more than
    # everything else an import does.
    real: dict[int, int] = {}
    for p, tid in zip(pending, reserve_ids(session, Ticket.__table__, len(pending))):
        real[p.provisional] = tid
        p.values["id"] = tid
        if p.judged is not None:
            index.rekey(p.provisional, replace(p.judged, ticket_id=tid, number=p.values["number"]))
    bulk_insert(session, Ticket.__table__, [p.values for p in pending])
    if real:
        index.written_up_to(max(real.values()))

    def resolve(ticket_id: int) -> int:
        return ticket_id if ticket_id > 0 else redirect.get(ticket_id) or real[ticket_id]

    # --- intake records (a merged one's id goes into its target's record_merged event)
    merged_record_ids = reserve_ids(session, IntakeRecord.__table__, len(merged))
    intake_rows = [{"id": None, "channel": p.record.request.channel, "external_id": p.record.request.external_id,
                    "ticket_id": p.values["id"], "merged": False, "received_at": p.record.request.received_at,
                    "payload": _payload(p.record.request)} for p in pending]
    # Rows with reserved ids first: on SQLite the others take max(id) + 1 as they go in.
    bulk_insert(session, IntakeRecord.__table__, [
        {"id": rid, "channel": rec.request.channel, "external_id": rec.request.external_id,
         "ticket_id": resolve(target), "merged": True, "received_at": rec.request.received_at,
         "payload": _payload(rec.request)} for (rec, target, _v), rid in zip(merged, merged_record_ids)])
    bulk_insert(session, IntakeRecord.__table__, intake_rows, without_id=True)
    # The figures' rows (PostgreSQL): the records under their tickets' units; the closed tickets.
    new_ids = [p.values["id"] for p in pending]
    rollups.move_records(session, or_(IntakeRecord.id.in_(merged_record_ids), and_(
        IntakeRecord.ticket_id.in_(new_ids), IntakeRecord.merged.is_(False))), tz, +1)
    rollups.settle(session, [p.values["id"] for p in pending if p.values["closed_at"] is not None], tz)

    # --- timeline (and the outbox for what the live path uses)
    events: list[dict[str, Any]] = []
    announce: list[tuple[int, dict[str, Any]]] = []  # (position in events, public view)
    dispatched: list[tuple[dict[str, Any], int]] = []  # (ticket columns, position of its dispatched event)

    def imported(rec: Arrival) -> dict[str, Any]:
        return {} if provenance is None else {"imported": {**provenance, "source": rec.source}}

    for p in pending:
        rec, v = p.record, p.values
        data_in = {"channel": rec.request.channel, **imported(rec)}
        events.append(event_row(v["id"], "received", rec.request.received_at, v["unit_id"], data_in))
        if rec.closed_at is not None:
            events.append(event_row(v["id"], "imported_closed", rec.closed_at, v["unit_id"], {
                "source_status": rec.source_status, "resolve_due_at": _iso(v["resolve_due_at"]),
                "due_from": p.due_source, "note": "closed in the source system before import"}))
        else:
            view = _view(v, p.unit)
            announce.append((len(events) - 1, view))
            set_by = {"basis": "dispatch" if p.due_source == "sla" else p.due_source, "policy": p.policy,
                      "contact_due_at": _iso(v["contact_due_at"]), "resolve_due_at": _iso(v["resolve_due_at"])}
            events.append(event_row(v["id"], "dispatched", v["dispatched_at"], v["unit_id"], {
                "unit_code": p.unit.code if p.unit else None, "direct": bool(v["direct_dispatch"]),
                "first": True, "deadlines": set_by, **({} if live else {"imported": True})}))
            announce.append((len(events) - 1, view))
            dispatched.append((v, len(events) - 1))
    targets: dict[int, Ticket] = {}
    for (rec, target, verdict), record_id in zip(merged, merged_record_ids):
        tid = resolve(target)
        ticket = targets.get(tid) or session.get(Ticket, tid)
        assert ticket is not None
        targets[tid] = ticket
        events.append(event_row(tid, "record_merged", max(now, rec.request.received_at, ticket.received_at), ticket.unit_id, {
            "channel": rec.request.channel, "intake_record_id": record_id,
            "record_received_at": rec.request.received_at.isoformat(), "score": verdict.score,
            "reasons": list(verdict.reasons), "auto": True, **imported(rec)}))
        announce.append((len(events) - 1, public_view(ticket, ticket.unit)))
    record_rows(uow, events, announce, now, publish=dispatched if live else ())
    if pending or merged:  # one audit row per batch (its tickets' steps are on their timelines)
        taken = [p.values["number"] for p in pending]
        audit.record(uow, "system", "intake", target=",".join(sorted({rec.request.channel for rec, _t, _v in merged}
                                                                     | {p.record.request.channel for p in pending}))[:200],
                     details={"tickets": len(pending), "merged": len(merged), "imported": provenance is not None,
                              "numbers": taken[:20] + (["…"] if len(taken) > 20 else [])})

    # --- suggestions for the dispatcher
    suggestions = []
    counts: dict[int, int] = {}
    for p in pending:
        for cid, verdict in _suggested(p, params, resolve):
            suggestions.append({"ticket_id": p.values["id"], "candidate_id": cid, "score": verdict.score,
                                "reasons": list(verdict.reasons), "status": "open", "created_at": now,
                                "decided_at": None, "decided_by_id": None})
            counts[p.values["id"]] = counts.get(p.values["id"], 0) + 1
    bulk_insert(session, DuplicateSuggestion.__table__, suggestions)

    out = []
    for _n, kind, ref in outcomes:
        if kind == "new":
            out.append(Outcome("new", ref.values["id"], ref.values["number"], counts.get(ref.values["id"], 0)))
        else:
            rec, target, _v = merged[ref]
            tid = resolve(target)
            number = targets[tid].number
            out.append(Outcome("merged", tid, number))
    return out


def _judge_late(late: list[dedup.Record], pending: list[_Pending],
                merged: list[tuple[Arrival, int, dedup.Verdict]], outcomes: list[tuple[int, str, Any]],
                params: dedup.Params, index: dedup.CandidateIndex) -> dict[int, int]:
    """Judge the batch's new tickets, in time order, against ``late``: the open tickets other
    processes committed while the batch was being judged (before it, then). A certain duplicate
    becomes a merged record of the other's ticket (and so do the batch's records merged into
    it), a likely one gets the other's ticket among its suggestions. Changes ``pending``,
    ``merged`` and ``outcomes`` in place; returns provisional id → the ticket it merged into."""
    others = dedup.CandidateIndex(resolution=index.resolution, rings=index.rings)
    for record in late:
        others.add(record)
    redirect: dict[int, int] = {}
    for p in sorted(pending, key=lambda p: p.record.request.received_at):
        if p.judged is None:
            continue
        found = dedup.rank(p.judged, others.candidates(p.judged, params.window_hours, params.near_m), params)
        if not found:
            continue
        verdict, other = found[0]
        if verdict.level == dedup.CERTAIN and params.mode == "auto":
            assert other.ticket_id is not None
            redirect[p.provisional] = other.ticket_id
            index.discard(p.provisional)
            merged.append((p.record, other.ticket_id, verdict))
            outcomes[:] = [(n, "merged", len(merged) - 1) if ref is p else (n, kind, ref) for n, kind, ref in outcomes]
        else:
            p.matches = dedup.rank(p.judged, [c for _v, c in p.matches + found], params)
    # The batch's records merged into a redirected ticket follow it (``resolve`` in write_batch).
    pending[:] = [p for p in pending if p.provisional not in redirect]
    return redirect


def _suggested(p: _Pending, params: dedup.Params, resolve: Any) -> list[tuple[int, dedup.Verdict]]:
    """(candidate ticket id, verdict) of the suggestions a new ticket gets, best first."""
    out: list[tuple[int, dedup.Verdict]] = []
    for verdict, cand in p.matches[: params.max_suggestions]:
        if cand.ticket_id is None:
            continue
        cid = resolve(cand.ticket_id)
        if cid != p.values.get("id", p.provisional) and all(cid != c for c, _v in out):
            out.append((cid, verdict))
    return out


def _payload(req: NewRequest) -> dict[str, Any]:
    """What the intake record keeps: the raw form, or, for a channel that keeps none, the
    validated record itself. Datetimes, tuples and non-text keys are the JSON column's to
    encode (``tickets.jsontext``), as they are for every other JSON column."""
    return req.raw or {k: v for k, v in asdict(req).items() if k != "raw"}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _view(values: dict[str, Any], unit: Any) -> dict[str, Any]:
    """``events.public_view`` of a ticket written in bulk (its columns, no ORM object)."""
    return public_view(SimpleNamespace(**{**_NO_COLUMNS, **values}), unit)  # type: ignore[arg-type]


_NO_COLUMNS: dict[str, Any] = {c.name: None for c in Ticket.__table__.columns}


class UnitCache:
    """Units by code, and ``dispatch.route``'s answers by what they depend on. An importer
    keeps one for its run (units change only when an admin loads them); live intake
    shares one per database for a minute (:func:`units_for`)."""

    def __init__(self) -> None:
        self.session: Session | None = None
        self.by_code: dict[str, Any] = {}
        self.routed: dict[tuple[Any, ...], Any] = {}

    @staticmethod
    def _plain(unit: Unit | None) -> Any:
        """What a bulk write needs of a unit, detached from any session."""
        if unit is None:
            return None
        return SimpleNamespace(id=unit.id, code=unit.code, name=unit.name, level=unit.level)

    def for_record(self, request: NewRequest) -> Any:
        assert self.session is not None
        if request.unit_code:
            if request.unit_code not in self.by_code:
                self.by_code[request.unit_code] = self._plain(self.session.scalar(
                    select(Unit).where(Unit.code == request.unit_code, Unit.active.is_(True))))
            unit = self.by_code[request.unit_code]
            if unit is None:
                raise ValueError(f"unit {request.unit_code!r} is not an active unit")
            return unit
        # route() decides by topic owner, then the jurisdiction polygon holding the point, then
        # the district: the same (topic, district, station) routes the same way. A point in no
        # polygon falls back to the nearest station, so it is routed on its own.
        station = jurisdictions.station_at(request.lat, request.lon) if request.lat is not None \
            and request.lon is not None else None
        key = (request.topic, request.district, station,
               (request.lat, request.lon) if station is None else None)
        unit = self.routed.get(key)
        if unit is None:
            probe = Ticket(topic=request.topic, district=request.district, lat=request.lat, lon=request.lon)
            unit = self.routed[key] = self._plain(dispatch.route(self.session, probe))
        return unit


# As long as dispatch's own caches of topic owners and stations: a unit an admin
# loaded or retired routes tickets within a minute.
_UNITS_TTL_SECONDS = 60.0
_shared_units: weakref.WeakKeyDictionary[Any, tuple[float, UnitCache]] = weakref.WeakKeyDictionary()


def forget_units() -> None:
    """Drop this process's caches of units and routes (an admin changed the tree or the jurisdictions)."""
    _shared_units.clear()


def units_for(session: Session) -> UnitCache:
    """The process's :class:`UnitCache` for the session's database (live intake)."""
    bind = session.get_bind()
    engine = getattr(bind, "engine", bind)
    cached = _shared_units.get(engine)
    if cached is None or time.monotonic() - cached[0] >= _UNITS_TTL_SECONDS:
        cached = _shared_units[engine] = (time.monotonic(), UnitCache())
    return cached[1]


__all__ = ["DUE_FROM", "Arrival", "Outcome", "UnitCache", "units_for", "write_batch"]
