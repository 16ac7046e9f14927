"""The walls section of /admin: the kiosk links, newest first, with their screen, scope, and
when a wall last connected with each."""
from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tickets.models import ApiToken, Unit


def links(session: Session) -> list[dict[str, Any]]:
    rows = session.execute(select(ApiToken, Unit).outerjoin(Unit, Unit.id == ApiToken.unit_id)
                           .where(ApiToken.kind == "kiosk").order_by(ApiToken.revoked_at.is_not(None),
                                                                     ApiToken.id.desc())).all()
    return [{"id": t.id, "label": t.label, "screen": t.screen or "/wall", "unit_code": u.code if u else None,
             "unit_name": u.name if u else None, "created_at": t.created_at, "last_used_at": t.last_used_at,
             "revoked_at": t.revoked_at} for t, u in rows]


def scopes(session: Session) -> list[dict[str, str]]:
    """The units a wall may be scoped to: the branches and divisions (level 2)."""
    return [{"code": c, "name": n} for c, n in session.execute(
        select(Unit.code, Unit.name).where(Unit.active.is_(True), Unit.level == 2).order_by(Unit.code))]


def summary(session: Session) -> dict[str, Any]:
    live = session.scalar(select(func.count()).select_from(ApiToken)
                          .where(ApiToken.kind == "kiosk", ApiToken.revoked_at.is_(None)))
    return {"live": int(live or 0)}
