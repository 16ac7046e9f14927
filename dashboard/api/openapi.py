"""The OpenAPI 3.1 document of ``/api/v1``, served at ``GET /api/v1/openapi.json``.

Each view says what it takes and answers with :func:`operation`, next to its
code; :func:`document` walks Flask's URL map and puts each route's
description under its path, so the document has the routes that exist and
no others (tests/integration/test_api_openapi.py fails on a route without a description).
Rows' schemas are ``serializers.SCHEMAS``; every operation may answer the
one error shape (``Error``, dashboard/api/errors.py).
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import Flask, current_app, jsonify

from dashboard.api.base import blueprint
from dashboard.api.errors import API_PREFIX
from dashboard.api.pagination import DEFAULT_LIMIT, MAX_LIMIT
from dashboard.api.params import FIRST_DATE, LAST_DATE
from dashboard.api.serializers import SCHEMAS
from dashboard.auth import public
from layouts.i18n import LANGUAGES

F = TypeVar("F", bound=Callable[..., Any])
ATTRIBUTE = "_openapi_operation"
SKIPPED_METHODS = frozenset({"HEAD", "OPTIONS"})
LOGIN = "login"  # a user's bearer token or browser session (a kiosk's too, for reading)
PUBLIC = "public"
SMS_SECRET = "sms"  # the SMS gateway's shared secret header


# ------------------------------------------------------------- schemas
def ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def obj(properties: Mapping[str, Any], required: Iterable[str] | None = None, **more: Any) -> dict[str, Any]:
    """An object; every property required unless ``required`` says which."""
    return {"type": "object", "properties": dict(properties),
            "required": list(properties if required is None else required), **more}


def page_of(item: str, **summary: Any) -> dict[str, Any]:
    """A page of a list (dashboard/api/pagination.py) and the list's summary fields."""
    return obj({"items": {"type": "array", "items": ref(item)}, "next_cursor": {"type": ["string", "null"]},
                **summary})


STR: dict[str, Any] = {"type": "string"}
INT: dict[str, Any] = {"type": "integer"}
NUM: dict[str, Any] = {"type": "number"}
BOOL: dict[str, Any] = {"type": "boolean"}
RATE: dict[str, Any] = {"type": ["number", "null"], "minimum": 0, "maximum": 1}
DATE: dict[str, Any] = {"type": "string", "format": "date"}
TIME: dict[str, Any] = {"type": "string", "format": "date-time"}
ANY_OBJECT: dict[str, Any] = {"type": "object"}

ERROR = obj({"error": obj({
    "status": {"type": "integer", "minimum": 400, "maximum": 599},
    "code": {"type": "string", "description": "stable: clients branch on it"},
    "message": {"type": "string", "description": "in the caller's language (?lang=, Accept-Language, zh-CN)"},
    "params": {"type": "object", "description": "the values the message was made from"},
    "field": {"type": "string", "description": "the request parameter at fault, when one is"},
}, required=("status", "code", "message", "params"), additionalProperties=False)}, additionalProperties=False)


# ---------------------------------------------------------- parameters
@dataclass(frozen=True)
class Param:
    name: str
    schema: Mapping[str, Any]
    description: str = ""
    where: str = "query"
    required: bool = False

    def spec(self) -> dict[str, Any]:
        out = {"name": self.name, "in": self.where, "required": self.required, "schema": dict(self.schema)}
        return {**out, "description": self.description} if self.description else out


def one_of(name: str, values: Iterable[Any], description: str = "", default: Any = None) -> Param:
    schema: dict[str, Any] = {"type": "string", "enum": [str(v) for v in values]}
    return Param(name, {**schema, "default": str(default)} if default is not None else schema, description)


def bounded(name: str, low: int, high: int, default: int, description: str = "") -> Param:
    return Param(name, {"type": "integer", "minimum": low, "maximum": high, "default": default}, description)


def day(name: str, description: str) -> Param:
    return Param(name, {"type": "string", "format": "date"},
                 f"{description}; from {FIRST_DATE.isoformat()} to {LAST_DATE.isoformat()}")


LIMIT = bounded("limit", 1, MAX_LIMIT, DEFAULT_LIMIT, "rows on a page")
CURSOR = Param("cursor", {"type": "string", "pattern": "^[A-Za-z0-9_-]+$"},
               "next_cursor of the page before (opaque)")
PAGE = (LIMIT, CURSOR)
UNIT = Param("unit", {"type": "string", "maxLength": 32}, "a unit's code, e.g. JN-LX")
LANG = one_of("lang", LANGUAGES, "the language of messages and labels (default: Accept-Language, else zh-CN)")


# ---------------------------------------------------------- operations
@dataclass(frozen=True)
class Operation:
    summary: str
    responses: Mapping[int, Any]
    params: Sequence[Param] = ()
    body: Mapping[str, Any] | None = None  # media type -> schema
    body_required: bool = True
    auth: str = LOGIN
    roles: Iterable[str] | None = None
    description: str = ""


def operation(summary: str, responses: Mapping[int, Any], **more: Any) -> Callable[[F], F]:
    """Describe a view. ``responses``: status -> schema (JSON), or (media type, schema)."""
    spec = Operation(summary, responses, **more)

    def attach(view: F) -> F:
        setattr(view, ATTRIBUTE, spec)
        return view

    return attach


def _response(status: int, answer: Any) -> dict[str, Any]:
    media, schema = answer if isinstance(answer, tuple) else ("application/json", answer)
    return {"description": f"HTTP {status}", "content": {media: {"schema": schema}}}


def _security(auth: str) -> list[dict[str, list[str]]]:
    schemes: dict[str, list[dict[str, list[str]]]] = {
        LOGIN: [{"bearerAuth": []}, {"sessionCookie": []}], PUBLIC: [], SMS_SECRET: [{"smsSecret": []}]}
    return schemes[auth]


def _path_params(rule: Any) -> list[dict[str, Any]]:
    return [{"name": name, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
            for name in sorted(rule.arguments - set(rule.defaults or {}))]


def _operation_spec(spec: Operation, view: Any, rule: Any, method: str) -> dict[str, Any]:
    responses = {str(status): _response(status, answer) for status, answer in spec.responses.items()}
    if spec.auth == LOGIN:
        responses.setdefault("401", _response(401, ref("Error")))
        responses.setdefault("403", _response(403, ref("Error")))
    responses["default"] = {"description": "a refusal, in the one error shape",
                            "content": {"application/json": {"schema": ref("Error")}}}
    description = spec.description
    if spec.roles is not None:
        description = f"{description}\n\nRoles: {', '.join(sorted(spec.roles))}.".strip()
    arguments = sorted(rule.arguments - set(rule.defaults or {}))
    out: dict[str, Any] = {
        "operationId": "_".join([method.lower(), rule.endpoint.removeprefix("api."), *arguments]),
        "summary": spec.summary,
        "tags": [view.__module__.rsplit(".", 1)[-1]],  # the resource module
        "parameters": _path_params(rule) + [p.spec() for p in spec.params],
        "responses": responses,
        "security": _security(spec.auth),
    }
    if description:
        out["description"] = description
    if spec.body is not None:
        out["requestBody"] = {"required": spec.body_required,
                              "content": {media: {"schema": schema} for media, schema in spec.body.items()}}
    return out


def api_routes(app: Flask) -> Iterable[tuple[Any, str]]:
    """(rule, method) of every /api/v1 route, as Flask routes them (the catch-all aside)."""
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(API_PREFIX + "/") and rule.endpoint != "api.unknown_route":
            for method in sorted((rule.methods or set()) - SKIPPED_METHODS):
                yield rule, method


def openapi_path(rule: Any) -> str:
    """``/api/v1/tickets/<number>/events`` → ``/tickets/{number}/events`` (under the server URL)."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule.removeprefix(API_PREFIX))


def document(app: Flask) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for rule, method in api_routes(app):
        view = app.view_functions[rule.endpoint]
        spec = getattr(view, ATTRIBUTE, None)
        if spec is not None:
            paths.setdefault(openapi_path(rule), {})[method.lower()] = _operation_spec(spec, view, rule, method)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Minsheng API", "version": "1",
                 "description": "The people's-livelihood policing platform. Lists page by cursor: "
                                "?limit=&cursor= → {items, next_cursor}. Refusals: {error: {status, code, "
                                "message, params, field?}}."},
        "servers": [{"url": API_PREFIX}],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": {"Error": ERROR, **SCHEMAS},
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer",
                               "description": "an API or kiosk token: python app.py token create|kiosk"},
                "sessionCookie": {"type": "apiKey", "in": "cookie", "name": "session",
                                  "description": "the browser's session after /login (or a wall's kiosk grant)"},
                "smsSecret": {"type": "apiKey", "in": "header", "name": "X-Minsheng-Sms-Secret",
                              "description": "the SMS gateway's shared secret (settings.sms_inbound_secret)"},
            },
        },
    }


@blueprint.get("/openapi.json")
@public  # the description is no secret; every operation in it still needs its credentials
@operation("This document", {200: ANY_OBJECT}, auth=PUBLIC)
def openapi_json() -> Any:
    return jsonify(document(current_app))
