"""Reading a request's parameters (each bad value a 400 naming the parameter) and what they name."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from flask import request

from dashboard.api.errors import BadParameter
from tickets.intake import EARLIEST, LATEST
from tickets.models import NOT_TEXT, Ticket, could_be
from tickets.roles import Actor
from tickets.services import unit_in_scope

# The days a period asked about may touch: the plausible window's (tickets.intake).
FIRST_DATE, LAST_DATE = EARLIEST.date(), LATEST.date()


def choice(name: str, default: str, allowed: Sequence[str]) -> str:
    value = request.args.get(name, default)
    if value not in allowed:
        raise BadParameter(name, "not_one_of", value=value, allowed=list(allowed))
    return value


def optional_choice(name: str, allowed: Sequence[str]) -> str | None:
    value = request.args.get(name) or None
    if value is not None and value not in allowed:
        raise BadParameter(name, "not_one_of", value=value, allowed=list(allowed))
    return value


def integer(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadParameter(name, "not_integer", value=raw, min=low, max=high) from None
    if not low <= value <= high:
        raise BadParameter(name, "out_of_range", value=value, min=low, max=high)
    return value


def local_date(name: str, default: date) -> date:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = date.fromisoformat(raw)
    except ValueError:
        raise BadParameter(name, "invalid_date", value=raw) from None
    return within_dates(name, value)


def within_dates(name: str, value: date) -> date:
    """Refuses days before 2000 and the far future (they overflow once moved to UTC or a day on)."""
    if not FIRST_DATE <= value <= LAST_DATE:
        raise BadParameter(name, "out_of_range", value=value.isoformat(), min=FIRST_DATE.isoformat(),
                           max=LAST_DATE.isoformat())
    return value


def choices(name: str, allowed: Sequence[str]) -> list[str]:
    """A comma-separated list of ``allowed`` values (``?status=dispatched,accepted``); empty: none."""
    values = [v for v in request.args.get(name, "").split(",") if v]
    wrong = [v for v in values if v not in allowed]
    if wrong:
        raise BadParameter(name, "not_one_of", value=wrong[0], allowed=list(allowed))
    return values


def text(name: str, most: int) -> str | None:
    value = request.args.get(name) or None
    if value is not None and (NOT_TEXT.search(value) or len(value) > most):
        raise BadParameter(name, "out_of_range", value=len(value), min=1, max=most)
    return value


def numbers(name: str = "numbers", most: int = 1000) -> list[str]:
    """Comma-separated ticket numbers (at most ``most``); one no ticket could have (too long, a
    NUL) names nothing and is left out."""
    column = Ticket.__table__.c.number
    return [n for n in request.args.get(name, "").split(",") if n and could_be(n, column)][:most]


def in_scope(stmt: Any, unit_column: Any, actor: Actor, session: Any) -> Any:
    """``stmt`` narrowed to the actor's units, and to the one unit ``?unit=`` names if given."""
    if actor.visible_unit_ids is not None:
        stmt = stmt.where(unit_column.in_(sorted(actor.visible_unit_ids)))
    code = request.args.get("unit")
    if code:
        stmt = stmt.where(unit_column == unit_in_scope(session, code, actor).id)
    return stmt
