"""The accounts section of /admin: every real-name account with its unit, role, last login and
what it holds open (login sessions, API tokens); the phone masked."""
from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tickets.models import ApiToken, LoginAttempt, LoginSession, Unit, User
from tickets.sms import mask_phone


def users(session: Session) -> list[dict[str, Any]]:
    """Active accounts first, then by unit and username."""
    last_login = dict(session.execute(select(LoginAttempt.username, func.max(LoginAttempt.at))
                                      .where(LoginAttempt.succeeded.is_(True)).group_by(LoginAttempt.username)).all())
    open_logins = dict(session.execute(select(LoginSession.user_id, func.count())
                                       .where(LoginSession.ended_at.is_(None)).group_by(LoginSession.user_id)).all())
    live_tokens = dict(session.execute(select(ApiToken.user_id, func.count())
                                       .where(ApiToken.revoked_at.is_(None), ApiToken.user_id.is_not(None))
                                       .group_by(ApiToken.user_id)).all())
    rows = session.execute(select(User, Unit).join(Unit, Unit.id == User.unit_id)
                           .order_by(User.active.desc(), Unit.code, User.username)).all()
    return [{"username": u.username, "real_name": u.real_name, "police_number": u.police_number or "",
             "unit_code": unit.code, "unit_name": unit.name, "role": u.role, "active": u.active,
             "last_login": last_login.get(u.username.lower()),
             "phone_masked": mask_phone(u.phone) if u.phone else "",
             "sessions": int(open_logins.get(u.id, 0)), "tokens": int(live_tokens.get(u.id, 0))} for u, unit in rows]


def units(session: Session) -> list[dict[str, str]]:
    """The active units an account may belong to, by level and code."""
    return [{"code": code, "name": name} for code, name in session.execute(
        select(Unit.code, Unit.name).where(Unit.active.is_(True)).order_by(Unit.level, Unit.code))]


def summary(session: Session) -> dict[str, Any]:
    counts = dict(session.execute(select(User.active, func.count()).group_by(User.active)).all())
    admins = session.scalar(select(func.count()).select_from(User).where(User.role == "admin", User.active.is_(True)))
    return {"active": int(counts.get(True, 0)), "inactive": int(counts.get(False, 0)), "admins": int(admins or 0)}
