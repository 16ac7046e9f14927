"""/admin's walls section: kiosk links.

    POST /api/v1/admin/walls/links                      issue one (the URL with its token, shown once)
    POST /api/v1/admin/walls/links/<id>/revoke          revoke it: its walls are cut off within seconds

Each calls one command of ``tickets.walls`` (role check, change, audit row).
"""
from __future__ import annotations

from typing import Any

from flask import request

from dashboard.api.admin import admin_post, once, said
from dashboard.api.errors import MESSAGES, BadParameter
from dashboard.api.openapi import STR
from dashboard.api.steps import Body
from layouts.i18n import N_
from tickets import walls
from tickets.roles import Actor
from tickets.uow import UnitOfWork

MESSAGES.update({
    "screen_required": N_("Choose the screen the wall shows"),
    "unknown_screen": N_("Unknown screen '%(screen)s'; known: %(known)s"),
    "every_out_of_range": N_("A playlist shows each screen for %(min)s to %(max)s seconds, not %(every)s"),
    "label_required": N_("Name the wall (at most %(most)s characters): where it hangs, who watches it"),
    "unknown_kiosk_link": N_("No kiosk link %(link)s"),
})
LINK_LABEL = N_("The kiosk link of %(label)s")


def _every(body: Body) -> int | None:
    raw = body.text("every")
    if raw is None:
        return None
    if not raw.strip().isdigit() or len(raw.strip()) > 6:
        raise BadParameter("every", "not_integer", value=raw[:20], min=walls.MIN_EVERY, max=walls.MAX_EVERY)
    return int(raw)


@admin_post("walls/links", "Issue a kiosk link: a wall's URL with a read-only token, shown once",
            {"label": {**STR, "maxLength": walls.MAX_LABEL}, "screen": {**STR, "enum": [*walls.WALL_SCREENS, walls.MAP]},
             "playlist": {**STR, "maxLength": 200, "description": "wall screens, comma-separated (instead of screen)"},
             "every": {**STR, "pattern": r"^\d+$", "description": "seconds per screen of a playlist"},
             "unit": {**STR, "maxLength": 32, "description": "a branch's wall: its unit's code; none: the city"}},
            ("label",), secret=True)
def issue_link(uow: UnitOfWork, actor: Actor, body: Body) -> dict[str, Any]:
    playlist = [s.strip() for s in (body.text("playlist") or "").split(",") if s.strip()]
    screens = playlist or [body.text("screen") or "overview"]
    token, path = walls.issue_link(uow, actor, body.required_text("label"), screens, body.text("unit"), _every(body))
    return {"id": token.id, "screen": token.screen,
            "once": once(said(LINK_LABEL, label=token.label), request.host_url.rstrip("/") + path)}


@admin_post("walls/links/<int:token_id>/revoke", "Revoke a kiosk link: its walls are cut off within seconds", {},
            revokes=True)
def revoke_link(uow: UnitOfWork, actor: Actor, body: Body, token_id: int) -> dict[str, Any]:
    token = walls.revoke_link(uow, actor, token_id)
    return {"id": token.id, "revoked_at": token.revoked_at.isoformat() if token.revoked_at else None}
