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

from dashboard.api.base import blueprint, platform
from dashboard.api.errors import BadParameter
from dashboard.api.openapi import DATE, INT, NUM, RATE, STR, UNIT, Param, day, obj, one_of, operation
from dashboard.api.params import choice, local_date
from tickets.services import unit_in_scope
from dashboard.auth import current_actor, require_login
from tickets.errors import NotAllowed
from tickets.figures import (
    RankingPolicy, SubTally, Tally, figures, period_bounds, rank, sub_tally_sql_by_unit, subtree_sub_tally,
    subtree_tally, sum_sub_tallies, sum_tallies, tally_sql_by_unit,
)
from tickets.models import Unit, utcnow
from tickets.roles import subtree_ids, subtree_of


_NUMBER_N = {"type": ["number", "null"]}
FIGURES = {
    "received": INT, "intake_records": INT, "duplicate_rate": RATE, "direct_dispatch_rate": RATE,
    "response_rate": RATE, "completion_rate": RATE, "on_time_rate": RATE, "satisfaction_rate": RATE,
    "handling_hours_median": _NUMBER_N, "handling_hours_mean": _NUMBER_N, "breaches_now": INT,
    "composite_score": _NUMBER_N, "acceptance_rate": RATE, "return_rate": RATE, "redo_rate": RATE,
    "counts": {"type": "object", "additionalProperties": INT},
}
PERIOD = (day("from", "first local day (default: today)"), day("to", "last local day, included (default: today)"),
          one_of("source", ("sql", "live"), "live: the live counters, today only", default="sql"))


def _period(tz: Any) -> tuple[date, date, datetime, datetime]:
    today = utcnow().astimezone(tz).date()
    first, last = local_date("from", today), local_date("to", today)
    if last < first:
        raise BadParameter("to", "range_order", other="from")
    start, end = period_bounds(first, last, tz)
    return first, last, start, end


def ranking_policy() -> RankingPolicy:
    return RankingPolicy.from_settings(platform().settings)


def _scope_unit(session: Any, code: str | None) -> Unit | None:
    return unit_in_scope(session, code) if code else None


def _live(first: date, last: date, now: datetime) -> Any:
    """The live aggregator, for a period it covers (today only)."""
    p = platform()
    if not first == last == now.astimezone(p.settings.tz).date():
        raise BadParameter("source", "live_today_only")
    return p.aggregator


def _unit_tallies(session: Any, start: datetime, end: datetime, source: str, first: date, last: date,
                  unit_ids: set[int] | None = None) -> tuple[dict[int | None, Tally], dict[int | None, SubTally]]:
    """Every unit's own tally (not its subtree) and sub-rate counts, for ``subtree_tally`` to sum.
    The sub-rates come from the database whatever the source: the live counters do not keep
    them (签收、退单、重办 are judged at the weekly meeting, not on the wall)."""
    now = utcnow()
    if source == "sql":
        subs: dict[int | None, SubTally] = {}
        return tally_sql_by_unit(session, start, end, now, platform().settings.tz, unit_ids, subs=subs), subs
    live = _live(first, last, now)
    tallies = live.live_unit_tallies() if unit_ids is None else {None: live.live_tally(unit_ids)}
    return tallies, sub_tally_sql_by_unit(session, start, end, now, unit_ids)


def _source() -> str:
    return choice("source", "sql", ("sql", "live"))


def _visible() -> frozenset[int] | None:
    """The units the caller may see figures of (None: every unit)."""
    actor = current_actor()
    return actor.visible_unit_ids if actor is not None else frozenset()


@blueprint.get("/figures")
@operation("Figures of the city, or of a unit's subtree, over a period", {200: obj({
    "from": DATE, "to": DATE, "unit": {"type": ["string", "null"]}, "source": STR, **FIGURES})},
    params=(*PERIOD, UNIT))
@require_login()
def get_figures() -> Any:
    p = platform()
    first, last, start, end = _period(p.settings.tz)
    source = _source()
    visible = _visible()
    with p.factory() as session:
        unit = _scope_unit(session, request.args.get("unit"))
        if unit is not None and visible is not None and unit.id not in visible:
            raise NotAllowed("outside_scope", unit=unit.code)
        if unit is None and visible is not None:
            # Not city-wide: "the whole bureau" means the caller's own subtree.
            unit = session.get(Unit, current_actor().unit_id)  # type: ignore[union-attr]
        scope = subtree_ids(session, unit.id) if unit else None
        tallies, subs = _unit_tallies(session, start, end, source, first, last, scope)
    return jsonify(
        {"from": first.isoformat(), "to": last.isoformat(), "unit": unit.code if unit else None,
         "source": source, **figures(sum_tallies(tallies.values()), ranking_policy(), sum_sub_tallies(subs.values()))}
    )


@blueprint.get("/figures/units")
@operation("Units ranked by composite score (those below the minimum listed, unranked)", {200: obj({
    "from": DATE, "to": DATE, "level": INT, "source": STR, "min_tickets": INT,
    "weights": obj({"response": NUM, "completion": NUM, "satisfaction": NUM, "completion_measure": STR}),
    "units": {"type": "array", "items": obj({"unit": STR, "unit_name": STR, "rank": {"type": ["integer", "null"]},
                                            "unranked_reason": STR, **FIGURES},
                                           required=("unit", "unit_name", "rank", *FIGURES))},
})}, params=(*PERIOD, one_of("level", (2, 3), default=3),
             Param("within", {"type": "string", "maxLength": 32}, "only units below this unit's code")))
@require_login()
def get_unit_ranking() -> Any:
    p = platform()
    first, last, start, end = _period(p.settings.tz)
    source = _source()
    level = int(choice("level", "3", ("2", "3")))
    policy = ranking_policy()
    with p.factory() as session:
        within = _scope_unit(session, request.args.get("within"))
        every_unit = session.scalars(select(Unit).order_by(Unit.code)).all()  # the tree, read once
        tree = [(u.id, u.parent_id) for u in every_unit]
        allowed = subtree_of(tree, within.id) if within else None
        visible = _visible()
        units = [u for u in every_unit if u.level == level
                 and (allowed is None or u.id in allowed) and (visible is None or u.id in visible)]
        tallies, subs = _unit_tallies(session, start, end, source, first, last) if units else ({}, {})
        rows = []
        for unit in units:
            below = subtree_of(tree, unit.id)
            rows.append({"unit": unit.code, "unit_name": unit.name,
                         **figures(subtree_tally(tallies, below), policy, subtree_sub_tally(subs, below))})
    rank(rows, policy)
    return jsonify({"from": first.isoformat(), "to": last.isoformat(), "level": level, "source": source,
                    "min_tickets": policy.min_tickets,
                    "weights": {"response": policy.response, "completion": policy.completion,
                                "satisfaction": policy.satisfaction, "completion_measure": policy.completion_measure},
                    "units": rows})
