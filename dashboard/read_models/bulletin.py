"""A week's bulletin as the caller may see it (``tickets/bulletin.py``): the frozen version (or
the running week's provisional one), cut to the caller's scope, with its stored facts. The
API, the screen and the printed forms all read it here."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from tickets import bulletin
from tickets.models import Bulletin, Unit
from tickets.roles import Actor
from tickets.uow import UnitOfWork


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def for_caller(uow: UnitOfWork, actor: Actor, week: str, now: datetime, version: int | None = None) -> dict[str, Any]:
    """The bulletin of ``week`` for ``actor``: a city-wide user gets all of it, a branch head the
    part of their subtree. Refusals as :func:`tickets.bulletin.read` (a week not begun, a week
    not made yet, an unknown version)."""
    bulletin.parse_week(week)
    content, row = bulletin.read(uow, week, now, version)
    visible = None if actor.visible_unit_ids is None else set(uow.scalars(
        select(Unit.code).where(Unit.id.in_(sorted(actor.visible_unit_ids)))))
    return with_facts(bulletin.for_scope(content, visible), row)


def with_facts(content: dict[str, Any], row: Bulletin | None) -> dict[str, Any]:
    """A bulletin's content with its stored version's facts (none for a provisional one)."""
    return {**content, "id": row.id if row else None, "created_at": _iso(row.created_at) if row else None,
            "created_by": row.created_by if row else None, "changes": list(row.changes or []) if row else []}


def weeks(uow: UnitOfWork) -> list[str]:
    """The frozen weeks, newest first."""
    return list(uow.scalars(select(Bulletin.week).distinct().order_by(Bulletin.week.desc())))
