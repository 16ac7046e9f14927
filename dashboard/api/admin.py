"""The platform office's writes (/admin's forms): ``POST /api/v1/admin/<section>/…``.

One module per section, ``dashboard/api/admin_<section>.py``, declares each write with
:func:`admin_post`: admin role only (a supervisor, who reads /admin, is refused 403), a JSON
body read by ``steps.Body``, one service-layer command that checks the actor's role, makes the
change and writes its audit row in the same transaction. A write whose answer carries a
secret shown once (a password, a kiosk link, a feed key) is not kept for an Idempotency-Key
replay (``secret=True``): the secret is stored nowhere.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from flask import Response, jsonify

from dashboard.api.base import blueprint
from dashboard.api.base import platform as _platform
from dashboard.api.errors import language
from dashboard.api.openapi import ANY_OBJECT, obj, operation
from dashboard.api.steps import IDEMPOTENCY, Body, _write
from dashboard.auth import current_actor, grants_revoked, require_login
from layouts.i18n import gettext
from tickets.uow import UnitOfWork, unit_of_work

ADMIN = frozenset({"admin"})
# command(uow, actor, body, **the rule's path arguments) -> the answer
Command = Callable[..., dict[str, Any]]


def _run(command: Command, secret: bool, revokes: bool) -> Response:
    if not secret:
        response = _write(lambda uow, actor, body: (200, command(uow, actor, body)))
    else:
        actor = current_actor()
        assert actor is not None  # require_login
        body = Body()
        with unit_of_work(_platform().factory) as uow:
            answer = command(uow, actor, body)
        response = jsonify(answer)
    if revokes:  # committed: every process drops the revoked grants' cached checks and sockets now
        grants_revoked(_platform().redis)
    return response


def once(label: str, value: str) -> dict[str, str]:
    """A secret for the page to show once (assets/admin.js), ``label`` in the caller's language."""
    return {"label": gettext(label, language()), "value": value}


def said(text: str, **params: Any) -> str:
    """A message for the page, in the caller's language."""
    return gettext(text, language(), **params)


def admin_post(rule: str, summary: str, fields: Mapping[str, Any], required: Sequence[str] = (), *,
               answer: Mapping[str, Any] | None = None, secret: bool = False,
               revokes: bool = False) -> Callable[[Command], Command]:
    """Route ``POST /api/v1/admin/<rule>`` to ``command(uow, actor, body, **path args) -> answer``,
    described in the OpenAPI document. ``revokes``: it may end a login or a token (every web
    process then re-checks its open pages' grants at once: ``auth.grants_revoked``)."""
    def attach(command: Command) -> Command:
        def view(**path: Any) -> Response:
            return _run(lambda uow, actor, body: command(uow, actor, body, **path), secret, revokes)

        view.__name__ = f"admin_{command.__name__}"
        described = operation(summary, {200: answer or ANY_OBJECT}, roles=ADMIN,
                              params=() if secret else (IDEMPOTENCY,),
                              body={"application/json": obj(fields, required=required, additionalProperties=False)},
                              body_required=bool(required))
        blueprint.add_url_rule(f"/admin/{rule}", view.__name__, described(require_login(ADMIN)(view)),
                               methods=["POST"])
        return command

    return attach
