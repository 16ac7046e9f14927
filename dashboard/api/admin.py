"""The platform office's writes (/admin's forms): ``POST /api/v1/admin/<section>/…``.

One module per section, ``dashboard/api/admin_<section>.py``, declares each write with
:func:`admin_post`: admin role only (a supervisor, who reads /admin, is refused 403), a JSON
body read by ``steps.Body``, one service-layer command that checks the actor's role, makes the
change and writes its audit row in the same transaction (what this process caches of it is
forgotten by :func:`after_commit`). A write whose answer carries a
secret shown once (a password, a kiosk link, a feed key: ``secret=True``) is done once per
Idempotency-Key like any other, but a repeat gets the answer without the secret's value, which
is stored nowhere.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from flask import Response, jsonify
from sqlalchemy import event

from dashboard.api.base import blueprint
from dashboard.api.base import platform as _platform
from dashboard.api.errors import language
from dashboard.api.openapi import ANY_OBJECT, obj, operation
from dashboard.api.steps import IDEMPOTENCY, _write
from dashboard.auth import grants_revoked, require_login
from layouts.i18n import gettext
from tickets.uow import UnitOfWork

ADMIN = frozenset({"admin"})
# command(uow, actor, body, **the rule's path arguments) -> the answer
Command = Callable[..., dict[str, Any]]


def without_secret(answer: dict[str, Any]) -> dict[str, Any]:
    """The answer a repeat gets: the secret's label, not its value (``value`` null)."""
    if isinstance(answer.get("once"), dict):
        return {**answer, "once": {**answer["once"], "value": None}}
    return answer


def _run(command: Command, secret: bool, revokes: bool) -> Response:
    response = _write(lambda uow, actor, body: (200, command(uow, actor, body)),
                      kept_as=without_secret if secret else None)
    if revokes:  # committed: every process drops the revoked grants' cached checks and sockets now
        grants_revoked(_platform().redis)
    return response


def after_commit(uow: UnitOfWork, then: Callable[[], None]) -> None:
    """Call ``then`` once the command's transaction commits (not if it fails; a repeat answered
    from its Idempotency-Key runs no command, so calls nothing): this process's caches of what
    changed. The other processes notice by themselves, each within its own interval."""
    event.listen(uow, "after_commit", lambda _session: then(), once=True)


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
    described in the OpenAPI document. A refusal is an error the command raises (``ApiError``,
    ``tickets.errors``), answered in the one error shape. ``revokes``: it may end a login or a
    token, or change what a grant reaches (scopes follow the unit tree): every web process then
    re-checks its open pages' grants at once (``auth.grants_revoked``)."""
    def attach(command: Command) -> Command:
        def view(**path: Any) -> Response:
            return _run(lambda uow, actor, body: command(uow, actor, body, **path), secret, revokes)

        view.__name__ = f"admin_{command.__name__}"
        view.__module__ = command.__module__  # its section: the OpenAPI tag
        described = operation(summary, {200: answer or ANY_OBJECT}, roles=ADMIN,
                              params=(IDEMPOTENCY,),
                              body={"application/json": obj(fields, required=required, additionalProperties=False)},
                              body_required=bool(required))
        blueprint.add_url_rule(f"/admin/{rule}", view.__name__, described(require_login(ADMIN)(view)),
                               methods=["POST"])
        return command

    return attach
