"""Today's figures per unit, kept live from ticket events.

For every ticket that counts today the aggregator keeps its
:class:`tickets.figures.TicketFacts` and its last contribution; each event
(or deadline passing) recomputes the contribution and moves the difference
into per-unit tallies. The definition is the one ``tickets.figures`` uses for
the SQL recomputation, so both give the same numbers (tests hold them to it).
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from dashboard.live import keys as K
from tickets import jsontext
from tickets.figures import COUNT_FIELDS, SATISFIED_ANSWERS, Tally, TicketFacts, handling_time
from tickets.models import FollowUp, IntakeRecord, Ticket

FIG = K.LIVE + "fig:"


def _today(at: str | None, today_start: datetime) -> bool:
    return bool(at) and datetime.fromisoformat(at) >= today_start  # type: ignore[arg-type]


def _tickets_key(day: str) -> str:
    return f"{FIG}{day}:t"


def _unit_key(day: str, unit_id: int | None) -> str:
    return f"{FIG}{day}:u:{unit_id}"


def _hours_key(day: str, unit_id: int | None) -> str:
    return f"{FIG}{day}:h:{unit_id}"


class LiveFigures:
    def __init__(self, client: redis.Redis, tz: Any) -> None:
        self.redis = client
        self.tz = tz
        # Within a batch (the aggregator applying a chunk of events in one transaction):
        # each ticket's state as the batch has left it, since its writes are not in Redis yet.
        # (The aggregator's transaction writes the chunk's net effect: a ticket received and
        # dispatched in one chunk moves each unit tally once.)
        self._pending: dict[tuple[str, int], str | None] | None = None

    def read(self, pipe: Any, day: str, ticket_ids: list[int]) -> None:
        """Queue on ``pipe`` the read of the state of ``ticket_ids`` (one or more) that
        :meth:`batch` takes: the caller's round trip carries it."""
        pipe.hmget(_tickets_key(day), [str(t) for t in ticket_ids])

    @contextmanager
    def batch(self, day: str, ticket_ids: list[int], raws: list[str | None]) -> Iterator[None]:
        """Let the events of a batch see each other's changes before the caller's transaction
        writes them, starting from the state of ``ticket_ids`` (what :meth:`read` answered)."""
        self._pending = {(day, t): raw for t, raw in zip(ticket_ids, raws)}
        try:
            yield
        finally:
            self._pending = None

    def _raw(self, day: str, ticket_id: int) -> str | None:
        if self._pending is not None and (day, ticket_id) in self._pending:
            return self._pending[(day, ticket_id)]
        raw: str | None = self.redis.hget(_tickets_key(day), str(ticket_id))  # type: ignore[assignment]  # decoded
        if self._pending is not None:
            self._pending[(day, ticket_id)] = raw
        return raw

    # ------------------------------------------------------------- state
    def load(self, day: str, ticket_id: int) -> tuple[TicketFacts | None, dict[str, Any] | None]:
        raw = self._raw(day, ticket_id)
        if not raw:
            return None, None
        data = jsontext.loads(raw)
        return TicketFacts(**data["facts"]), data["c"]

    def store(self, pipe: Any, day: str, facts: TicketFacts, before: dict[str, Any] | None,
              before_unit: int | None, now: datetime) -> None:
        """Write ``facts`` and move its contribution's change into the unit tallies."""
        after = facts.contribution(now)
        after_c = {**after.counts(), "h": after.handling_hours[0] if after.handling_hours else None}
        if before is not None:
            self._apply(pipe, day, before_unit, before, -1, facts.ticket_id)
        self._apply(pipe, day, facts.unit_id, after_c, +1, facts.ticket_id)
        raw = jsontext.dumps({"facts": facts.to_json(), "c": after_c, "u": facts.unit_id})
        pipe.hset(_tickets_key(day), str(facts.ticket_id), raw)
        if self._pending is not None:
            self._pending[(day, facts.ticket_id)] = raw
        pipe.expire(_tickets_key(day), 3 * 86400)

    def _apply(self, pipe: Any, day: str, unit_id: int | None, contribution: dict[str, Any], sign: int,
               ticket_id: int) -> None:
        key = _unit_key(day, unit_id)
        for name in COUNT_FIELDS:
            if contribution.get(name):
                pipe.hincrby(key, name, sign * contribution[name])
        pipe.expire(key, 3 * 86400)
        hkey = _hours_key(day, unit_id)
        if sign < 0:
            pipe.zrem(hkey, ticket_id)
        elif contribution.get("h") is not None:
            pipe.zadd(hkey, {str(ticket_id): contribution["h"]})
            pipe.expire(hkey, 3 * 86400)

    # ------------------------------------------------------------ events
    def on_event(self, pipe: Any, day: str, kind: str, view: dict[str, Any], data: dict[str, Any],
                 today_start: datetime, now: datetime) -> None:
        """Update one ticket's facts from an event (and a merge target's, for merges)."""
        tid = view["ticket_id"]
        facts, before = self.load(day, tid)
        before_unit = facts.unit_id if facts else None
        received_today = datetime.fromisoformat(view["received_at"]) >= today_start
        if facts is None:
            if not received_today and kind not in ("merge",) and not (
                    kind == "record_merged" and _today(data.get("record_received_at"), today_start)) and not (
                    kind == "unmerge" and any(_today(t, today_start) for t in data.get("record_times", []))):
                return  # a ticket received before today does not count in today's figures
            facts = TicketFacts(ticket_id=tid, unit_id=view.get("unit_id"), received_in_period=received_today,
                                status=view["status"])
        if kind == "received" and received_today:
            facts.records += 1
        if kind == "record_merged" and _today(data.get("record_received_at"), today_start):
            facts.records += 1  # a duplicate merged at intake (tickets.dedup): one more record, merged
            facts.merged_records += 1
        self._refresh(facts, view, now)
        if kind == "follow_up_answered":
            facts.follow_ups_answered += 1
            facts.follow_ups_satisfied += int(data.get("answer") in SATISFIED_ANSWERS)
        if kind == "merge":
            moved_today = sum(1 for t in data.get("record_times", []) if datetime.fromisoformat(t) >= today_start)
            facts.records -= moved_today
            facts.merged_records = 0  # all its records moved on, including ones merged into it earlier
            self.store(pipe, day, facts, before, before_unit, now)
            self._receive_merged(pipe, day, data, moved_today, now)
            return
        if kind == "unmerge":  # 拆分: its records come back, flagged as they were before the merge
            back = [bool(merged) for t, merged in zip(data.get("record_times", []), data.get("record_merged", []))
                    if _today(t, today_start)]
            facts.records += len(back)
            facts.merged_records += sum(back)
            self.store(pipe, day, facts, before, before_unit, now)
            self._give_back(pipe, day, data, len(back), now)
            return
        self.store(pipe, day, facts, before, before_unit, now)

    def _receive_merged(self, pipe: Any, day: str, data: dict[str, Any], moved: int, now: datetime) -> None:
        if not moved:
            return
        target_id = data["into_ticket_id"]
        target, before = self.load(day, target_id)
        before_unit = target.unit_id if target else None
        if target is None:  # received before today: only its records count today
            target = TicketFacts(ticket_id=target_id, unit_id=data.get("into_unit_id"), received_in_period=False,
                                 status="open")
        target.records += moved
        target.merged_records += moved
        self.store(pipe, day, target, before, before_unit, now)

    def _give_back(self, pipe: Any, day: str, data: dict[str, Any], moved: int, now: datetime) -> None:
        """The ticket a merge was undone from loses the records it had taken in (all counted
        there as merged)."""
        if not moved:
            return
        source, before = self.load(day, data["from_ticket_id"])
        if source is None:  # none of today's records were counted there
            return
        source.records -= moved
        source.merged_records -= moved
        self.store(pipe, day, source, before, source.unit_id, now)

    def recheck(self, pipe: Any, day: str, ticket_id: int, now: datetime) -> None:
        """A deadline passed: the same facts may now count differently."""
        facts, before = self.load(day, ticket_id)
        if facts is not None:
            self.store(pipe, day, facts, before, facts.unit_id, now)

    def _refresh(self, facts: TicketFacts, view: dict[str, Any], now: datetime) -> None:
        facts.unit_id = view.get("unit_id")
        facts.status = view["status"]
        facts.dispatched = view.get("dispatched_at") is not None
        facts.direct = bool(view.get("direct_dispatch"))
        facts.contacted_at = view.get("contacted_at")
        facts.contact_due_at = view.get("contact_due_at")
        facts.resolve_due_at = view.get("resolve_due_at")
        facts.closed_at = view.get("closed_at")
        if facts.status == "closed" and facts.closed_at and facts.handling_hours is None:
            facts.handling_hours = view.get("handling_hours")
        if facts.status == "closed" and facts.closed_at and facts.handling_hours is None:  # closed before 0016
            facts.handling_hours = handling_time(datetime.fromisoformat(view["received_at"]),
                                                  datetime.fromisoformat(facts.closed_at), self.tz,
                                                  view.get("calendar"))

    # ----------------------------------------------------------- rebuild
    def collect(self, session: Session, today_start: datetime, now: datetime) -> list[TicketFacts]:
        """Facts for every ticket that counts today, read inside the aggregator's snapshot."""
        from tickets.events import public_view

        answers: dict[int, tuple[int, int]] = {}
        for follow_up in session.scalars(
            select(FollowUp).join(Ticket, Ticket.id == FollowUp.ticket_id)
            .where(Ticket.received_at >= today_start, FollowUp.status == "answered", FollowUp.answer.is_not(None))
        ):
            a, s = answers.get(follow_up.ticket_id, (0, 0))
            answers[follow_up.ticket_id] = (a + 1, s + int(follow_up.answer in SATISFIED_ANSWERS))
        records: dict[int, tuple[int, int]] = {}
        for tid, merged in session.execute(
            select(IntakeRecord.ticket_id, IntakeRecord.merged).where(IntakeRecord.received_at >= today_start)
        ):
            r, m = records.get(tid, (0, 0))
            records[tid] = (r + 1, m + int(bool(merged)))
        today = {t.id: t for t in session.scalars(select(Ticket).where(Ticket.received_at >= today_start))}
        out = []
        for tid in set(today) | set(records):
            ticket = today.get(tid) or session.get(Ticket, tid)
            if ticket is None:
                continue
            view = public_view(ticket, ticket.unit)
            facts = TicketFacts(ticket_id=tid, unit_id=view.get("unit_id"), received_in_period=tid in today,
                                status=view["status"])
            self._refresh(facts, view, now)
            facts.records, facts.merged_records = records.get(tid, (0, 0))
            facts.follow_ups_answered, facts.follow_ups_satisfied = answers.get(tid, (0, 0))
            out.append(facts)
        return out

    def rebuild(self, pipe: Any, day: str, facts_list: list[TicketFacts], now: datetime) -> None:
        for facts in facts_list:
            self.store(pipe, day, facts, None, None, now)

    # ------------------------------------------------------------ reading
    def unit_tallies(self, day: str, breached_units: list[int | None]) -> dict[int | None, Tally]:
        """Every unit's own tally today (not its subtree), in one round trip."""
        prefix = f"{FIG}{day}:u:"
        ids = [k[len(prefix):] for k in self.redis.scan_iter(match=prefix + "*", count=1000)]
        pipe = self.redis.pipeline(transaction=False)
        for uid in ids:
            pipe.hgetall(prefix + uid)
            pipe.zrange(f"{FIG}{day}:h:{uid}", 0, -1, withscores=True)
        results = pipe.execute()
        out: dict[int | None, Tally] = {}
        for n, uid in enumerate(ids):
            counts, hours = results[2 * n], results[2 * n + 1]
            part = Tally(**{name: int(counts.get(name, 0)) for name in COUNT_FIELDS})  # type: ignore[arg-type]  # counts only
            part.handling_hours = [float(score) for _member, score in hours]
            out[None if uid == "None" else int(uid)] = part
        for unit_id in breached_units:
            out.setdefault(unit_id, Tally()).breaches_now += 1
        return out

    def tally(self, day: str, unit_ids: Iterable[int] | None, breached_units: list[int | None]) -> Tally:
        """Sum the tallies of ``unit_ids`` (None: every unit)."""
        if unit_ids is None:
            prefix = f"{FIG}{day}:u:"
            unit_keys = list(self.redis.scan_iter(match=prefix + "*", count=1000))
            ids: list[str] = [k[len(prefix):] for k in unit_keys]
        else:
            ids = [str(u) for u in unit_ids]
        pipe = self.redis.pipeline(transaction=False)
        for uid in ids:
            pipe.hgetall(f"{FIG}{day}:u:{uid}")
            pipe.zrange(f"{FIG}{day}:h:{uid}", 0, -1, withscores=True)
        results = pipe.execute()
        total = Tally()
        for i in range(0, len(results), 2):
            counts, hours = results[i], results[i + 1]
            part = Tally(**{name: int(counts.get(name, 0)) for name in COUNT_FIELDS})  # type: ignore[arg-type]  # counts only
            part.handling_hours = [float(score) for _member, score in hours]
            total.add(part)
        scope = None if unit_ids is None else set(unit_ids)
        total.breaches_now = sum(1 for u in breached_units if scope is None or u in scope)
        return total
