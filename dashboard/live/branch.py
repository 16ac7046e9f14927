"""One branch bureau's wall (``/wall?unit=JN-LX``) and the wall's duty list: what a wall
shows of a subtree, read from the same live state as the city's wall.

The city's wall follows every event (the ``live`` room). A branch wall must see only its
subtree, the push included, so it follows its unit's scoped room (``dashboard/push.py``),
whose frames name the ticket and the step; on such a frame it reloads this snapshot (at
most once a second): counters, flow, ticker and unit table recomputed for the subtree,
never filtered in the browser. The clocks come from the live state (Redis; the views of
clocked tickets only), the day's received, closed and open tickets and the open supervision
orders from the database (indexed counts; open ones through the partial index of open tickets).
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import selectinload, sessionmaker

from dashboard.live import keys as K
from dashboard.live.aggregator import LiveAggregator
from tickets import jsontext
from tickets.events import public_view
from tickets.models import OPEN_PREDICATE, SupervisionOrder, Ticket, Unit
from tickets.roles import subtree_of
from tickets.uow import UnitOfWork

DUTY_ROWS = 40
# A ticket's clocks, by the member prefix the live state gives them.
CLOCKS = ("contact", "resolve")


class UnknownUnit(LookupError):
    pass


Pairs = list[tuple[int, int | None]]


def units_below(factory: sessionmaker[UnitOfWork], code: str) -> tuple[int, set[int], list[Unit], Pairs]:
    """The unit with ``code``, its subtree's ids, its direct children (the branch's table) and
    every (unit, parent) pair (read here: only the leading process's aggregator holds them)."""
    with factory() as session:
        rows = session.execute(select(Unit.id, Unit.parent_id, Unit.code)).all()
        root = next((uid for uid, _p, c in rows if c == code), None)
        if root is None:
            raise UnknownUnit(code)
        children = list(session.scalars(select(Unit).where(Unit.parent_id == root).order_by(Unit.id)))
    pairs = [(uid, parent) for uid, parent, _c in rows]
    return root, subtree_of(pairs, root), children, pairs


def _clocks(live: LiveAggregator) -> tuple[set[str], set[str], set[str]]:
    pipe = live.redis.pipeline(transaction=True)
    pipe.smembers(K.BREACHED_CONTACT)
    pipe.smembers(K.BREACHED_RESOLVE)
    pipe.smembers(K.WARNED)
    contact, resolve, warned = pipe.execute()
    return set(contact), set(resolve), set(warned)


def _clocked(live: LiveAggregator) -> tuple[list[tuple[int, str, str]], dict[str, dict[str, Any]]]:
    """Every breached (rank 0) or amber (rank 1) clock as (rank, which, ticket id), and the views
    of those tickets only: reading every open ticket's view was megabytes a call and made the
    server's memory climb by tens of MB a minute under the soak (docs/PERFORMANCE.md)."""
    contact, resolve, warned = _clocks(live)
    clocks = [(0, "contact", tid) for tid in contact] + [(0, "resolve", tid) for tid in resolve]
    clocks += [(1, *member.split(":", 1)) for member in warned]  # type: ignore[misc]  # "which:id"
    ids = sorted({tid for _r, _w, tid in clocks})
    raws = live.redis.hmget(K.OPEN, ids) if ids else []
    return clocks, {tid: jsontext.loads(raw) for tid, raw in zip(ids, raws) if raw}


def duty_list(live: LiveAggregator, unit_ids: set[int] | None, limit: int = DUTY_ROWS) -> list[dict[str, Any]]:
    """Every breached or amber clock of an open ticket (of a subtree, when given): the most late
    first, then the nearest to breach. Public fields only: the wall is a shared screen. Reads
    the views of those tickets only."""
    clocks, views = _clocked(live)
    out = []
    for rank, which, tid in clocks:
        view = views.get(tid)
        if view is None or (unit_ids is not None and view.get("unit_id") not in unit_ids):
            continue
        out.append({"state": "breach" if rank == 0 else "amber", "clock": which, "due_at": view.get(f"{which}_due_at"),
                    **{k: view.get(k) for k in ("number", "topic", "channel", "unit_name", "district")}})
    out.sort(key=lambda r: (r["state"] != "breach", r["due_at"] or ""))
    return out[:limit]


def branch_snapshot(live: LiveAggregator, factory: sessionmaker[UnitOfWork], code: str) -> dict[str, Any]:
    """The wall's snapshot for the subtree of the unit ``code``, tagged with the live state's
    (epoch, seq): read first, so a scoped frame after it is never older than these numbers."""
    position = live.position()
    _root, subtree, children, pairs = units_below(factory, code)
    now = live.clock()
    today_start = datetime.combine(now.astimezone(live.tz).date(), datetime.min.time(), live.tz)
    flow_start = now - timedelta(minutes=K.FLOW_MINUTES - 1)
    in_subtree = Ticket.unit_id.in_(subtree)
    with factory() as session:
        received_today = session.scalar(select(func.count()).where(
            in_subtree, Ticket.received_at >= today_start, Ticket.status != "merged"))
        closed_today = session.scalar(select(func.count()).where(in_subtree, Ticket.closed_at >= today_start))
        # Through the partial index of open tickets (its predicate word for word).
        open_now = session.scalar(select(func.count()).select_from(Ticket).where(in_subtree, text(OPEN_PREDICATE)))
        orders_open = session.scalar(select(func.count()).where(
            SupervisionOrder.unit_id.in_(subtree), SupervisionOrder.status != "closed"))
        flow_rows = session.execute(select(Ticket.received_at, Ticket.channel).where(
            in_subtree, Ticket.received_at >= flow_start, Ticket.status != "merged")).all()
        recent = session.scalars(select(Ticket).where(in_subtree).order_by(Ticket.received_at.desc(), Ticket.id.desc())
                                 .limit(K.TICKER_LENGTH).options(selectinload(Ticket.unit))).all()
        ticker = [{**_ticker_fields(public_view(t, t.unit)), "event": "dispatched", "at": t.received_at.isoformat()}
                  for t in recent]
    clocks, views = _clocked(live)
    mine = {(rank, which, tid) for rank, which, tid in clocks if views.get(tid, {}).get("unit_id") in subtree}
    contact = {tid for rank, which, tid in mine if rank == 0 and which == "contact"}
    resolve = {tid for rank, which, tid in mine if rank == 0 and which == "resolve"}
    counters = {
        **position, "day": now.astimezone(live.tz).strftime("%Y-%m-%d"),
        "received_today": received_today or 0, "closed_today": closed_today or 0, "open_now": open_now or 0,
        "orders_open": orders_open or 0, "contact_overdue": len(contact), "resolve_overdue": len(resolve),
        "breaches_now": len(contact | resolve), "amber_now": sum(1 for rank, _w, _t in mine if rank == 1),
    }
    return {
        "unit": code, "counters": counters, "units": _children_table(live, children, pairs),
        "flow": _flow(live, now, flow_rows), "ticker": ticker, "server_time": now.isoformat(),
    }


def _ticker_fields(view: dict[str, Any]) -> dict[str, Any]:
    keep = ("ticket_id", "number", "channel", "topic", "kind", "district", "unit_name", "received_at", "status")
    return {k: view.get(k) for k in keep}


def _children_table(live: LiveAggregator, children: list[Unit], pairs: Pairs) -> list[dict[str, Any]]:
    """The city wall's unit table one level down: the same figures, intervals and ranking
    (``LiveAggregator.ranked_table``), for each child's subtree."""
    return live.ranked_table((child.code, child.name, child.kind, subtree_of(pairs, child.id)) for child in children)


def _flow(live: LiveAggregator, now: datetime, rows: Sequence[Any]) -> list[dict[str, Any]]:
    """Per minute and channel over the flow window, shaped as the city snapshot's flow."""
    minutes = [now - timedelta(minutes=i) for i in range(K.FLOW_MINUTES - 1, -1, -1)]
    counts: dict[str, dict[str, int]] = {}
    for received_at, channel in rows:
        key = received_at.astimezone(live.tz).strftime("%Y%m%d%H%M")
        counts.setdefault(key, {}).setdefault(channel, 0)
        counts[key][channel] += 1
    return [{"minute": m.astimezone(live.tz).strftime("%H:%M"), "at": m.replace(second=0, microsecond=0).isoformat(),
             "counts": counts.get(m.astimezone(live.tz).strftime("%Y%m%d%H%M"), {})} for m in minutes]
