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
    POST /api/v1/admin/units/jurisdictions/check      admin: {text[, name]} a GeoJSON file checked and kept (a report)
    POST /api/v1/admin/units/jurisdictions/apply      admin: {upload} route by it (refused while its report has errors)
    POST /api/v1/admin/units/jurisdictions/discard    admin: {upload}

The unit is named in the body, so the page's plain forms post them.

Each write is one command of ``tickets.units`` (role check, change, audit row, one transaction),
declared with :func:`dashboard.api.admin.admin_post`.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Response, jsonify

from dashboard.api.admin import admin_post, after_commit
from dashboard.api.base import blueprint
from dashboard.api.base import platform as _platform
from dashboard.api.errors import ApiError, BadParameter
from dashboard.api.openapi import ANY_OBJECT, BOOL, INT, STR, obj, operation
from dashboard.api.steps import Body
from dashboard.auth import require_login
from dashboard.read_models import admin_units as read
from tickets import units
from tickets.models import JurisdictionUpload, Unit
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


def _routed(uow: UnitOfWork) -> None:
    """Once the change commits, this process forgets its routing caches (the others' live a minute;
    the live path hears it on the outbox)."""
    after_commit(uow, units.forget_unit_caches)


def _done(uow: UnitOfWork, unit: Unit) -> dict[str, Any]:
    """The changed unit as the tree shows it. A tree write ``revokes``: the scopes every web
    process's gate cached follow the tree (``auth.grants_revoked``, on Redis)."""
    _routed(uow)
    return {"unit": next(r for r in read.tree(uow) if r["code"] == unit.code)}


@admin_post("units/add", "Add a unit under a parent, one level below it",
            {"code": STR, "name": STR, "kind": STR, "parent": STR, "name_en": STR}, ("code", "name", "kind", "parent"),
            answer=DONE, revokes=True)
def unit_add(uow: UnitOfWork, actor: Actor, body: Body) -> dict[str, Any]:
    return _done(uow, units.add_unit(uow, actor, code=body.required_text("code"), name=body.required_text("name"),
                                     kind=body.required_text("kind"), parent_code=body.required_text("parent"),
                                     name_en=body.text("name_en")))


@admin_post("units/rename", "Rename a unit", {"unit": STR, "name": STR, "name_en": STR}, ("unit", "name"),
            answer=DONE, revokes=True)
def unit_rename(uow: UnitOfWork, actor: Actor, body: Body) -> dict[str, Any]:
    return _done(uow, units.rename_unit(uow, actor, body.required_text("unit"), body.required_text("name"),
                                        body.text("name_en")))


@admin_post("units/move", "Move a unit, with its subtree, under another parent of the level above it",
            {"unit": STR, "parent": STR}, ("unit", "parent"), answer=DONE, revokes=True)
def unit_move(uow: UnitOfWork, actor: Actor, body: Body) -> dict[str, Any]:
    return _done(uow, units.move_unit(uow, actor, body.required_text("unit"), body.required_text("parent")))


@admin_post("units/rehome", "Move every open ticket of a unit to another unit (a timeline step each)",
            {"unit": STR, "to": STR, "note": STR}, ("unit", "to"),
            answer=obj({"tickets": {"type": "array", "items": STR}}), revokes=True)
def unit_rehome(uow: UnitOfWork, actor: Actor, body: Body) -> dict[str, Any]:
    moved = units.rehome_open_tickets(uow, actor, body.required_text("unit"), body.required_text("to"),
                                      body.text("note"))
    _routed(uow)
    return {"tickets": moved}


@admin_post("units/deactivate", "Deactivate a unit (refused while it holds open tickets or has active units below)",
            {"unit": STR}, ("unit",), answer=DONE, revokes=True)
def unit_deactivate(uow: UnitOfWork, actor: Actor, body: Body) -> dict[str, Any]:
    return _done(uow, units.deactivate_unit(uow, actor, body.required_text("unit")))


@admin_post("units/topics", "Set the topics a unit takes (routing by topic)",
            {"unit": STR, "topics": {"type": "array", "items": {"type": "string", "enum": list(TOPICS)}},
             # or the page's form: one topic, taken or not
             "topic": {"type": "string", "enum": list(TOPICS)}, "take": {"type": "string", "enum": ["yes", "no"]}},
            ("unit",),
            answer=DONE, revokes=True)
def unit_topics(uow: UnitOfWork, actor: Actor, body: Body) -> dict[str, Any]:
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
    return _done(uow, units.set_topics(uow, actor, code, topics))


MAX_GEOJSON_BYTES = 8 * 1024 * 1024  # a bureau's stations, drawn finely


@admin_post("units/jurisdictions/check", "Check a jurisdiction file (GeoJSON) as `geo check` does, against the "
            "stations in the database, and keep it to be applied or discarded: nothing routes by it yet",
            {"text": STR, "name": STR}, ("text",))
def jurisdictions_check(uow: UnitOfWork, actor: Actor, body: Body) -> dict[str, Any]:
    text, name = body.file_text("text", MAX_GEOJSON_BYTES), body.data.get("name")
    upload, found = units.check_jurisdictions(uow, actor, text,
                                              name if isinstance(name, str) and name else "upload.geojson")
    return read.jurisdiction_report(found, upload.id)


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


def _decide(uow: UnitOfWork, actor: Actor, body: Body,
            change: Callable[[UnitOfWork, Actor, int], JurisdictionUpload]) -> dict[str, Any]:
    """Apply or discard an upload; this process routes by it at once, the others within
    ``JURISDICTION_CHECK_SECONDS``."""
    upload = body.data.get("upload")
    if isinstance(upload, str) and upload.isdigit():
        upload = int(upload)
    if isinstance(upload, bool) or not isinstance(upload, int) or not 0 < upload < 2**31:
        raise BadParameter("upload", "not_integer", min=1, max=2**31 - 1, value=str(upload)[:16])
    done = change(uow, actor, upload)
    _routed(uow)
    return {"upload": done.id, "status": done.status}


DECIDED = obj({"upload": INT, "status": STR})


@admin_post("units/jurisdictions/apply", "Route by a checked jurisdiction file from now on (refused while its "
            "report has errors)", {"upload": INT}, ("upload",), answer=DECIDED)
def jurisdictions_apply(uow: UnitOfWork, actor: Actor, body: Body) -> dict[str, Any]:
    return _decide(uow, actor, body, units.apply_jurisdictions)


@admin_post("units/jurisdictions/discard", "Discard a checked jurisdiction file", {"upload": INT}, ("upload",),
            answer=DECIDED)
def jurisdictions_discard(uow: UnitOfWork, actor: Actor, body: Body) -> dict[str, Any]:
    return _decide(uow, actor, body, units.discard_jurisdictions)
