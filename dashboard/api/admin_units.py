"""The platform office's unit tree: read it, add, rename, move and retire units, re-home a unit's
open tickets, say which unit takes which topic (issue 19).

    GET  /api/v1/admin/units                          admin, supervisor: the tree and the topic owners
    GET  /api/v1/admin/units/<code>/open-tickets      admin, supervisor: what a deactivation must re-home
    POST /api/v1/admin/units/add                      admin: {code, name, kind, parent[, name_en]}
    POST /api/v1/admin/units/rename                   admin: {unit, name[, name_en]}
    POST /api/v1/admin/units/move                     admin: {unit, parent}
    POST /api/v1/admin/units/rehome                   admin: {unit, to[, note]} every open ticket, a timeline step each
    POST /api/v1/admin/units/deactivate               admin: {unit} (refused while it holds open tickets)
    POST /api/v1/admin/units/topics                   admin: {unit, topics: [...]} or the form's {unit, topic, take: yes | no}

The unit is named in the body, so the page's plain forms post them.

Each write is one command of ``tickets.units`` (role check, change, audit row, one transaction).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Response, jsonify

from dashboard import auth
from dashboard.api.base import blueprint
from dashboard.api.base import platform as _platform
from dashboard.api.errors import ApiError, BadParameter
from dashboard.api.openapi import ANY_OBJECT, BOOL, INT, STR, obj, operation
from dashboard.api.steps import Body
from dashboard.api.steps import _write as idempotent_write  # the API's one write path
from dashboard.auth import require_login
from dashboard.read_models import admin_units as read
from tickets import units
from tickets.models import Unit
from tickets.roles import Actor
from tickets.uow import UnitOfWork
from tickets.vocabulary import TOPICS

READERS = {"admin", "supervisor"}
UNIT_ROW = obj({"code": STR, "name": STR, "name_en": {"type": ["string", "null"]}, "level": INT, "kind": STR,
                "parent": {"type": ["string", "null"]}, "active": BOOL, "district": {"type": ["string", "null"]},
                "topics": {"type": "array", "items": STR}, "open": INT})
TREE = obj({"units": {"type": "array", "items": UNIT_ROW},
            "topics": {"type": "array", "items": obj({"topic": STR, "owners": {"type": "array", "items": STR}})}})
DONE = obj({"unit": UNIT_ROW})


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": schema}


@blueprint.get("/admin/units")
@operation("The unit tree, each unit's open tickets, and which units take which topic", {200: TREE},
           roles=READERS)
@require_login(READERS)
def admin_units() -> Any:
    with _platform().factory() as session:
        rows = read.tree(session)
    return jsonify(units=rows, topics=read.topic_owners(rows))


@blueprint.get("/admin/units/<code>/open-tickets")
@operation("The open tickets a unit holds (to re-home before it is deactivated)",
           {200: obj({"unit": STR, "tickets": {"type": "array", "items": ANY_OBJECT}})}, roles=READERS)
@require_login(READERS)
def admin_unit_open_tickets(code: str) -> Any:
    with _platform().factory() as session:
        return jsonify(unit=code, tickets=read.open_tickets(session, code))


def _write(change: Callable[[UnitOfWork, Actor, Body], Unit | list[str]]) -> Response:
    """One command in one transaction, once per Idempotency-Key; then every web process forgets
    the scopes its gate cached (they follow the tree: ``auth.grants_revoked``, on Redis) and this
    one its routing caches (the others' live a minute); the live path hears it on the outbox."""
    def run(uow: UnitOfWork, actor: Actor, body: Body) -> tuple[int, dict[str, Any]]:
        result = change(uow, actor, body)
        if isinstance(result, Unit):
            return 200, {"unit": next(r for r in read.tree(uow) if r["code"] == result.code)}
        return 200, {"tickets": result}

    response = idempotent_write(run)
    units.forget_unit_caches()
    if response.status_code == 200:
        auth.grants_revoked(_platform().redis)
    return response


@blueprint.post("/admin/units/add")
@operation("Add a unit under a parent, one level below it", {200: DONE}, roles={"admin"},
           body=_body(obj({"code": STR, "name": STR, "kind": STR, "parent": STR, "name_en": STR},
                          required=["code", "name", "kind", "parent"])))
@require_login({"admin"})
def admin_unit_add() -> Any:
    return _write(lambda uow, actor, body: units.add_unit(
        uow, actor, code=body.required_text("code"), name=body.required_text("name"),
        kind=body.required_text("kind"), parent_code=body.required_text("parent"), name_en=body.text("name_en")))


@blueprint.post("/admin/units/rename")
@operation("Rename a unit", {200: DONE}, roles={"admin"},
           body=_body(obj({"unit": STR, "name": STR, "name_en": STR}, required=["unit", "name"])))
@require_login({"admin"})
def admin_unit_rename() -> Any:
    return _write(lambda uow, actor, body: units.rename_unit(uow, actor, body.required_text("unit"),
                                                              body.required_text("name"),
                                                        body.text("name_en")))


@blueprint.post("/admin/units/move")
@operation("Move a unit, with its subtree, under another parent of the level above it", {200: DONE},
           roles={"admin"}, body=_body(obj({"unit": STR, "parent": STR})))
@require_login({"admin"})
def admin_unit_move() -> Any:
    return _write(lambda uow, actor, body: units.move_unit(uow, actor, body.required_text("unit"),
                                                            body.required_text("parent")))


@blueprint.post("/admin/units/rehome")
@operation("Move every open ticket of a unit to another unit (a timeline step each)",
           {200: obj({"tickets": {"type": "array", "items": STR}})}, roles={"admin"},
           body=_body(obj({"unit": STR, "to": STR, "note": STR}, required=["unit", "to"])))
@require_login({"admin"})
def admin_unit_rehome() -> Any:
    return _write(lambda uow, actor, body: units.rehome_open_tickets(uow, actor, body.required_text("unit"),
                                                                      body.required_text("to"),
                                                                body.text("note")))


@blueprint.post("/admin/units/deactivate")
@operation("Deactivate a unit (refused while it holds open tickets or has active units below)", {200: DONE},
           roles={"admin"}, body=_body(obj({"unit": STR})))
@require_login({"admin"})
def admin_unit_deactivate() -> Any:
    return _write(lambda uow, actor, body: units.deactivate_unit(uow, actor, body.required_text("unit")))


@blueprint.post("/admin/units/topics")
@operation("Set the topics a unit takes (routing by topic)", {200: DONE}, roles={"admin"},
           body=_body(obj({"unit": STR, "topics": {"type": "array", "items": {"type": "string", "enum": list(TOPICS)}}},
                          required=["unit"])))
@require_login({"admin"})
def admin_unit_topics() -> Any:
    def change(uow: UnitOfWork, actor: Actor, body: Body) -> Unit:
        code = body.required_text("unit")
        topics = body.data.get("topics")
        if topics is None:  # the page's form: one topic, taken or not
            topic, take = body.required_text("topic"), body.required_text("take")
            if take not in ("yes", "no"):
                raise BadParameter("take", "not_one_of", allowed="yes, no", value=take[:16])
            current = units.unit_by_code(uow, code).topics or []
            topics = sorted(set(current) - {topic}) + ([topic] if take == "yes" else [])
        if not isinstance(topics, list) or not all(isinstance(t, str) for t in topics):
            raise BadParameter("topics", "not_one_of", allowed=", ".join(TOPICS), value=str(topics)[:64])
        return units.set_topics(uow, actor, code, topics)

    return _write(change)


MAX_GEOJSON_BYTES = 8 * 1024 * 1024  # a bureau's stations, drawn finely


@blueprint.post("/admin/units/jurisdictions/check")
@operation("Check a jurisdiction file (GeoJSON) as `geo check` does, against the stations in the database, "
           "and keep it to be applied or discarded: nothing routes by it yet", {200: ANY_OBJECT}, roles={"admin"},
           body=_body(obj({"text": STR, "name": STR}, required=["text"])))
@require_login({"admin"})
def admin_jurisdictions_check() -> Any:
    def run(uow: UnitOfWork, actor: Actor, body: Body) -> tuple[int, dict[str, Any]]:
        text, name = body.data.get("text"), body.data.get("name")  # not body.text: a file is longer than a note
        if not isinstance(text, str) or not text:
            raise BadParameter("text", "missing_parameter")
        if len(text.encode("utf-8")) > MAX_GEOJSON_BYTES:
            raise BadParameter("text", "out_of_range", min=1, max=MAX_GEOJSON_BYTES, value=len(text))
        upload, found = units.check_jurisdictions(uow, actor, text,
                                                  name if isinstance(name, str) and name else "upload.geojson")
        return 200, read.jurisdiction_report(found, upload.id)

    return idempotent_write(run)


@blueprint.get("/admin/units/jurisdictions/<int:upload>/map")
@operation("An uploaded jurisdiction file on the platform's offline map (HTML), its problems' places marked",
           {200: ("text/html", STR)}, roles={"admin"})
@require_login({"admin"})
def admin_jurisdictions_map(upload: int) -> Any:
    with _platform().factory() as session:
        page = read.jurisdiction_map(session, upload)
    if page is None:
        raise ApiError(404, "unknown_jurisdiction_upload", upload=upload)
    return Response(page, mimetype="text/html")


def _decide(change: Callable[[UnitOfWork, Actor, int], Any]) -> Response:
    def run(uow: UnitOfWork, actor: Actor, body: Body) -> tuple[int, dict[str, Any]]:
        upload = body.data.get("upload")
        if isinstance(upload, str) and upload.isdigit():
            upload = int(upload)
        if isinstance(upload, bool) or not isinstance(upload, int) or not 0 < upload < 2**31:
            raise BadParameter("upload", "not_integer", min=1, max=2**31 - 1, value=str(upload)[:16])
        done = change(uow, actor, upload)
        return 200, {"upload": done.id, "status": done.status}

    response = idempotent_write(run)
    units.forget_unit_caches()  # this process routes by it at once; the others within JURISDICTION_CHECK_SECONDS
    return response


UPLOAD_BODY = _body(obj({"upload": INT}))


@blueprint.post("/admin/units/jurisdictions/apply")
@operation("Route by a checked jurisdiction file from now on (refused while its report has errors)",
           {200: obj({"upload": INT, "status": STR})}, roles={"admin"}, body=UPLOAD_BODY)
@require_login({"admin"})
def admin_jurisdictions_apply() -> Any:
    return _decide(units.apply_jurisdictions)


@blueprint.post("/admin/units/jurisdictions/discard")
@operation("Discard a checked jurisdiction file", {200: obj({"upload": INT, "status": STR})}, roles={"admin"},
           body=UPLOAD_BODY)
@require_login({"admin"})
def admin_jurisdictions_discard() -> Any:
    return _decide(units.discard_jurisdictions)
