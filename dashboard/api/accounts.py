"""Who am I, and (for the platform office) who has an account."""
from __future__ import annotations

from typing import Any

from flask import jsonify
from sqlalchemy import select

from dashboard.api import blueprint, platform as _platform
from dashboard.auth import current_actor, is_kiosk, require_login
from tickets.models import Unit, User
from tickets.roles import ROLES


@blueprint.get("/me")
@require_login()
def me() -> Any:
    actor = current_actor()
    assert actor is not None  # require_login
    if is_kiosk(actor):
        return jsonify(name=actor.name, real_name=None, role=actor.role, role_label="大屏（只读）",
                       unit_code=None, unit_name=None, label=actor.extra.get("label", ""), read_only=True)
    return jsonify(
        name=actor.name, real_name=actor.extra.get("real_name"), police_number=actor.extra.get("police_number"),
        role=actor.role, role_label=ROLES.get(actor.role, actor.role),
        unit_code=actor.extra.get("unit_code"), unit_name=actor.extra.get("unit_name"),
        # What the actor may see: every unit ("city") or their unit's subtree.
        scope="city" if actor.visible_unit_ids is None else "subtree", read_only=False,
    )


@blueprint.get("/users")
@require_login({"admin"})
def users() -> Any:
    with _platform().factory() as s:
        rows = s.execute(select(User, Unit.code).join(Unit, User.unit_id == Unit.id).order_by(User.id)).all()
        return jsonify(users=[
            {"id": u.id, "username": u.username, "real_name": u.real_name, "police_number": u.police_number,
             "unit_code": code, "role": u.role, "active": u.active}
            for u, code in rows
        ])
