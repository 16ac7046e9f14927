"""Maintained rollups of the figures: per unit and local day, on PostgreSQL (issue 15).

A period's figures scanned every ticket and intake record of the period: a year of
1,000,000 tickets took seconds. Two facts make most of that work constant:

- A **settled** ticket (``SETTLED_PREDICATE``: closed, its handling hours known and, if it had
  a contact deadline, contacted and accepted) never counts differently again: not with time
  (every deadline it is judged by has been met or has passed) and not by a step (a closed
  ticket takes none). Its share goes into its unit's row for the local day it was received,
  once, when it settles: the close, a history import of closed records, the sweep that fills
  in handling hours.
- Every **intake record** is counted in its ticket's unit's row for the local day the record
  was received, and moved when its ticket's unit changes (dispatch) or it changes ticket
  (merge, unmerge).

A period's figures are then the rows of its days plus a scan of its unsettled tickets (the
open ones: few) through a partial index (``tickets.figures``). Rows and the tickets are
computed by the same SQL (``_ticket_shares``, ``_record_shares``), so a step's share and a
rebuild's agree by construction; the tests hold the rows to a rebuild and the figures to a
scan. The rows are rebuilt from the tickets when missing or made for another time zone
(:func:`ensure`, under a table lock: a step racing the rebuild either waits for it or is in
it). SQLite, the embedded default, keeps scanning: there are no rows there.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Select, Table, and_, bindparam, delete, func, literal_column, select, text, type_coerce
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session
from sqlalchemy.types import NullType

from tickets.counting import SUB_COLUMNS, TALLY_COLUMNS, handling_time, sub_columns, tally_columns
from tickets.models import HANDLING_UNKNOWN, SETTLED_PREDICATE, FigureDay, FigureDaysBuilt, IntakeRecord, Ticket

# The counted columns of a row (besides the records and the hours), in the order of
# ``figures.TALLY_COLUMNS`` + ``figures.SUB_COLUMNS``.
NO_UNIT = 0  # tickets and records with no unit (never settled in practice) count under 0


def active(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def valid(session: Session, tz: Any) -> bool:
    """Whether the rows are there, built for ``tz`` (the local days they are cut by)."""
    return active(session) and session.scalar(
        select(func.count()).select_from(FigureDaysBuilt).where(FigureDaysBuilt.timezone == tz.key)) == 1


def _day(column: Any, tz: Any) -> Any:
    # The zone as a literal: a bound parameter in both SELECT and GROUP BY is two parameters to
    # PostgreSQL, which then cannot see that they group by the same expression.
    zone: Any = literal_column("'" + tz.key.replace("'", "''") + "'")
    return func.date(func.timezone(zone, column))


def _ticket_shares(where: Any, tz: Any) -> Select[Any]:
    """Settled tickets' counts and hours per unit and local day received, as the figures count
    them (``tally_columns``, ``sub_columns``; "now" is irrelevant to a settled ticket)."""
    now = datetime.now().astimezone()
    names = [*TALLY_COLUMNS, *SUB_COLUMNS]
    counted = [c.label(n) for c, n in zip([*tally_columns(now), *sub_columns(now)], names)]
    return (select(func.coalesce(Ticket.unit_id, NO_UNIT).label("unit_id"), _day(Ticket.received_at, tz).label("day"),
                   *counted, func.array_agg(Ticket.handling_hours).label("hours"))
            .where(text(SETTLED_PREDICATE), where).group_by(Ticket.unit_id, _day(Ticket.received_at, tz)))


def _record_shares(where: Any, tz: Any, sign: int) -> Select[Any]:
    """Intake records per their ticket's unit and the local day each was received, times ``sign``."""
    return (select(func.coalesce(Ticket.unit_id, NO_UNIT).label("unit_id"),
                   _day(IntakeRecord.received_at, tz).label("day"),
                   (func.count() * sign).label("records"),
                   (func.count().filter(IntakeRecord.merged.is_(True)) * sign).label("merged_records"))
            .select_from(IntakeRecord).join(Ticket, Ticket.id == IntakeRecord.ticket_id).where(where)
            .group_by(Ticket.unit_id, _day(IntakeRecord.received_at, tz)))


def _add(session: Session, shares: Select[Any]) -> None:
    """Add ``shares`` (rows of some of the columns) to the rows, inserting rows not there yet.
    Rows are locked in key order, so two steps adding to the same rows cannot deadlock."""
    ordered = shares.subquery()
    columns = [c.name for c in ordered.columns]
    stmt = pg_insert(FigureDay).from_select(columns, select(ordered).order_by(ordered.c.unit_id, ordered.c.day))
    added = {c: getattr(FigureDay, c) + getattr(stmt.excluded, c) for c in columns if c not in ("unit_id", "day")}
    if "hours" in added:
        added["hours"] = func.array_cat(FigureDay.hours, stmt.excluded.hours)
    session.execute(stmt.on_conflict_do_update(index_elements=[FigureDay.unit_id, FigureDay.day], set_=added))


def settle(session: Session, ticket_ids: Sequence[int], tz: Any) -> None:
    """Add the shares of those of ``ticket_ids`` that are settled (after the step that settled
    them has been flushed)."""
    if ticket_ids and active(session):
        session.flush()
        _add(session, _ticket_shares(Ticket.id.in_(list(ticket_ids)), tz))


def move_records(session: Session, where: Any, tz: Any, sign: int) -> None:
    """Take out (``sign`` -1, before a change) or put in (+1, after it) the records ``where``
    says, under their ticket's unit as it stands (flushed)."""
    if active(session):
        session.flush()
        _add(session, _record_shares(where, tz, sign))


def records_of(ticket_ids: Iterable[int]) -> Any:
    return IntakeRecord.ticket_id.in_(list(ticket_ids))


def fill_handling_hours(session: Any, now: datetime, limit: int = 5000) -> dict[str, int]:
    """A housekeeping sweep: store the handling hours of tickets closed before they were stored
    at the close (migration 0016), ``limit`` at a time. A plain UPDATE: a derived fact, not a
    change of the ticket (no event, and its version stays, so nobody's open copy goes stale)."""
    rows = session.execute(
        select(Ticket.id, Ticket.received_at, Ticket.closed_at, Ticket.calendar)
        .where(text(HANDLING_UNKNOWN)).order_by(Ticket.id).limit(limit)  # its partial index, word for word
    ).all()
    table = cast(Table, Ticket.__table__)
    if rows:
        tz = session.config.tz
        session.execute(table.update().where(table.c.id == bindparam("tid")).values(handling_hours=bindparam("h")),
                        [{"tid": tid, "h": handling_time(r, c, tz, cal)} for tid, r, c, cal in rows if c is not None])
        settle(session, [row[0] for row in rows], tz)  # those that were waiting only for this
    return {"filled": len(rows), "more": int(len(rows) == limit)}


def rebuild(session: Session, tz: Any) -> dict[str, int]:
    """Every row again from the tickets and records, for ``tz``'s local days."""
    session.execute(text("LOCK TABLE figure_days IN EXCLUSIVE MODE"))
    session.execute(delete(FigureDay))
    session.execute(delete(FigureDaysBuilt))
    _add(session, _ticket_shares(text("true"), tz))
    _add(session, _record_shares(text("true"), tz, 1))
    session.add(FigureDaysBuilt(timezone=tz.key, built_at=datetime.now().astimezone()))
    session.flush()
    return {"rows": session.scalar(select(func.count()).select_from(FigureDay)) or 0}


def ensure(session: Any, now: datetime) -> dict[str, int]:
    """A housekeeping sweep: fill in missing handling hours, then rebuild the rows if they are
    missing or were built for another time zone. Nothing on SQLite."""
    tz = session.config.tz
    if not active(session) or valid(session, tz):
        return {}
    filled = 0
    while (done := fill_handling_hours(session, now, limit=50_000))["more"]:
        filled += done["filled"]
    filled += done["filled"]
    if filled:  # the planner must see it: with the old statistics it scanned every ticket as unsettled
        session.execute(text("ANALYZE tickets"))
    return {"handling_hours_filled": filled, **rebuild(session, tz)}


def days(start: datetime, end: datetime, tz: Any) -> tuple[date, date] | None:
    """The local days [first, last] that [start, end) is made of, or None if it does not begin
    and end at local midnights (the rows cannot answer it)."""
    a, b = start.astimezone(tz), end.astimezone(tz)
    if (a.hour, a.minute, a.second, a.microsecond) != (0, 0, 0, 0) or \
            (b.hour, b.minute, b.second, b.microsecond) != (0, 0, 0, 0):
        return None
    return a.date(), (b - timedelta(days=1)).date()


def period_rows(session: Session, first: date, last: date, scope: list[int] | None, hours: bool) -> Any:
    """Per unit: the summed counts of the days first..last (and the hours, flattened)."""
    where = and_(FigureDay.day >= first, FigureDay.day <= last,
                 FigureDay.unit_id.in_(scope) if scope is not None else text("true"))
    sums = [func.coalesce(func.sum(getattr(FigureDay, n)), 0)
            for n in (*TALLY_COLUMNS, *SUB_COLUMNS, "records", "merged_records")]
    counts = session.execute(select(FigureDay.unit_id, *sums).where(where).group_by(FigureDay.unit_id)).all()
    flat: dict[int, list[float]] = {}
    if hours:  # the rows' arrays as they are (unnested and gathered again in SQL it took 4× longer)
        # As the driver gives them: SQLAlchemy's ARRAY would convert every value in Python (~1 µs each).
        raw = type_coerce(FigureDay.hours, NullType())
        for unit_id, values in session.execute(select(FigureDay.unit_id, raw).where(where)):
            flat.setdefault(unit_id, []).extend(values or ())
    return counts, flat
