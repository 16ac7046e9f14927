"""Figures (defined in tickets/figures.py) for the city or a unit's subtree, and the unit ranking.

    GET /api/v1/figures?from=YYYY-MM-DD&to=YYYY-MM-DD[&unit=CODE][&source=sql|live]
    GET /api/v1/figures/units?from=...&to=...[&level=2|3][&within=CODE]

``source=sql`` (the default) recomputes from the database for any period;
``source=live`` reads the live counters, which exist for today only. Both
must give the same numbers; the tests check that they do.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from flask import jsonify, request
from sqlalchemy import select

from dashboard.api import blueprint, platform
from dashboard.auth import current_actor, require_login
from tickets.figures import RankingPolicy, Tally, figures, period_bounds, subtree_tally, tally_sql, tally_sql_by_unit
from tickets.models import Unit, utcnow
from tickets.roles import subtree_ids, subtree_of


class BadRequest(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@blueprint.errorhandler(BadRequest)
def _bad_request(exc: BadRequest) -> Any:
    return jsonify(error=str(exc)), exc.status


def _date(name: str, default: date) -> date:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise BadRequest(f"'{name}' must be a date as YYYY-MM-DD, not {raw!r}") from None


def _period(tz: Any) -> tuple[date, date, datetime, datetime]:
    today = utcnow().astimezone(tz).date()
    first, last = _date("from", today), _date("to", today)
    try:
        start, end = period_bounds(first, last, tz)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    return first, last, start, end


def ranking_policy() -> RankingPolicy:
    return RankingPolicy.from_settings(platform().settings)


def _scope_unit(session: Any, code: str | None) -> Unit | None:
    if not code:
        return None
    unit = session.scalar(select(Unit).where(Unit.code == code))
    if unit is None:
        raise BadRequest(f"unknown unit {code!r}", 404)
    return unit


def _live(first: date, last: date, now: datetime) -> Any:
    """The live aggregator, for a period it covers (today only)."""
    p = platform()
    if not first == last == now.astimezone(p.settings.tz).date():
        raise BadRequest("source=live covers today only; use source=sql for other periods")
    return p.aggregator


def _tally(session: Any, start: datetime, end: datetime, unit_ids: set[int] | None, source: str,
           first: date, last: date) -> Tally:
    now = utcnow()
    if source == "sql":
        return tally_sql(session, start, end, now, platform().settings.tz, unit_ids)
    return _live(first, last, now).live_tally(unit_ids)


def _unit_tallies(session: Any, start: datetime, end: datetime, source: str,
                  first: date, last: date) -> dict[int | None, Tally]:
    """Every unit's own tally (not its subtree), for ``subtree_tally`` to sum."""
    now = utcnow()
    if source == "sql":
        return tally_sql_by_unit(session, start, end, now, platform().settings.tz)
    return _live(first, last, now).live_unit_tallies()


def _source() -> str:
    source = request.args.get("source", "sql")
    if source not in ("sql", "live"):
        raise BadRequest(f"'source' must be sql or live, not {source!r}")
    return source


def _visible() -> frozenset[int] | None:
    """The units the caller may see figures of (None: every unit)."""
    actor = current_actor()
    return actor.visible_unit_ids if actor is not None else frozenset()


@blueprint.get("/figures")
@require_login()
def get_figures() -> Any:
    p = platform()
    first, last, start, end = _period(p.settings.tz)
    source = _source()
    visible = _visible()
    with p.factory() as session:
        unit = _scope_unit(session, request.args.get("unit"))
        if unit is not None and visible is not None and unit.id not in visible:
            raise BadRequest(f"unit {unit.code} is outside your unit's scope", 403)
        if unit is None and visible is not None:
            # Not city-wide: "the whole bureau" means the caller's own subtree.
            unit = session.get(Unit, current_actor().unit_id)  # type: ignore[union-attr]
        scope = subtree_ids(session, unit.id) if unit else None
        tally = _tally(session, start, end, scope, source, first, last)
    return jsonify(
        {"from": first.isoformat(), "to": last.isoformat(), "unit": unit.code if unit else None,
         "source": source, **figures(tally, ranking_policy())}
    )


@blueprint.get("/figures/units")
@require_login()
def get_unit_ranking() -> Any:
    p = platform()
    first, last, start, end = _period(p.settings.tz)
    source = _source()
    try:
        level = int(request.args.get("level", "3"))
    except ValueError:
        raise BadRequest("'level' must be 2 or 3") from None
    if level not in (2, 3):
        raise BadRequest("'level' must be 2 or 3")
    policy = ranking_policy()
    with p.factory() as session:
        within = _scope_unit(session, request.args.get("within"))
        every_unit = session.scalars(select(Unit).order_by(Unit.code)).all()  # the tree, read once
        tree = [(u.id, u.parent_id) for u in every_unit]
        allowed = subtree_of(tree, within.id) if within else None
        visible = _visible()
        units = [u for u in every_unit if u.level == level
                 and (allowed is None or u.id in allowed) and (visible is None or u.id in visible)]
        tallies = _unit_tallies(session, start, end, source, first, last) if units else {}
        rows = [{"unit": unit.code, "unit_name": unit.name,
                 **figures(subtree_tally(tallies, subtree_of(tree, unit.id)), policy)} for unit in units]
    ranked = [r for r in rows if r["received"] >= policy.min_tickets and r["composite_score"] is not None]
    ranked.sort(key=lambda r: (-r["composite_score"], -(r["on_time_rate"] or 0), -r["received"], r["unit"]))
    for position, row in enumerate(ranked, start=1):
        row["rank"] = position
    for row in rows:
        row.setdefault("rank", None)
        if row["rank"] is None:
            row["unranked_reason"] = (
                f"fewer than {policy.min_tickets} tickets" if row["received"] < policy.min_tickets
                else "no rate available yet"
            )
    rows.sort(key=lambda r: (r["rank"] is None, r["rank"] or 0, r["unit"]))
    return jsonify({"from": first.isoformat(), "to": last.isoformat(), "level": level, "source": source,
                    "min_tickets": policy.min_tickets,
                    "weights": {"response": policy.response, "completion": policy.completion,
                                "satisfaction": policy.satisfaction, "completion_measure": policy.completion_measure},
                    "units": rows})
