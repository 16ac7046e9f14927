"""Who am I, and (for the platform office) who has an account and which tokens exist.

    GET /api/v1/me
    GET /api/v1/users            admin; a page (dashboard/api/pagination.py), by id
    GET /api/v1/tokens           admin; a page, by id; never a token's secret (only its hash is stored)
"""
from __future__ import annotations

from typing import Any

from flask import jsonify
from sqlalchemy import select

from dashboard.api import serializers
from dashboard.api.base import blueprint
from dashboard.api.base import platform as _platform
from dashboard.api.openapi import PAGE, operation, page_of, ref
from dashboard.api.pagination import Key, page
from dashboard.auth import current_actor, is_kiosk, require_login
from tickets.models import ApiToken, Unit, User


@blueprint.get("/me")
@operation("Who is asking, and what they may see", {200: ref("Me")})
@require_login()
def me() -> Any:
    actor = current_actor()
    assert actor is not None  # require_login
    return jsonify(serializers.me(actor, is_kiosk(actor)))


@blueprint.get("/users")
@operation("Accounts, by id", {200: page_of("User")}, params=PAGE, roles={"admin"})
@require_login({"admin"})
def users() -> Any:
    with _platform().factory() as s:
        return jsonify(page(s, select(User, Unit.code).join(Unit, User.unit_id == Unit.id), (Key(User.id),),
                            serializers.user))


@blueprint.get("/tokens")
@operation("API and kiosk tokens, by id, without their secrets", {200: page_of("Token")}, params=PAGE,
           roles={"admin"})
@require_login({"admin"})
def tokens() -> Any:
    with _platform().factory() as s:
        return jsonify(page(s, select(ApiToken, User).outerjoin(User, User.id == ApiToken.user_id),
                            (Key(ApiToken.id),), serializers.token))
