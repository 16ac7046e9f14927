"""The one error shape of ``/api/v1``, and the handlers that produce it.

Every refusal of the API answers::

    {"error": {"status": 404, "code": "unknown_unit", "message": "Unknown unit 'JN-XX'",
               "params": {"unit": "JN-XX"}, "field": "unit"}}

``code`` is stable (clients branch on it), ``params`` are the plain values the
message was made from, ``field`` names the request parameter at fault (only
when one is), and ``message`` is ``MESSAGES[code]`` in the caller's language
(``?lang=``, else ``Accept-Language``, else zh-CN) through ``layouts.i18n``.

Where refusals come from:

- the domain (``tickets.errors``): ``DomainError`` subclasses map to a status
  by class (``DOMAIN_STATUS``), their ``code`` and ``params`` pass through;
- the API layer itself: :class:`ApiError`, and :class:`BadParameter` for a
  query or body parameter that cannot be read (400 with ``field``);
- the auth gate (401/403, ``dashboard.auth``), unknown routes and methods
  under ``/api/v1`` (404/405, :func:`unknown_route`), Werkzeug's HTTP errors
  (413 …), a JSON body nested too deep (400, :class:`BoundedJSON`, any path),
  the database out of reach (503 with Retry-After, any path: :func:`init_app`),
  and anything unexpected (500, logged; it must never happen).

The Open311 endpoints (``/open311/v2/``) keep the GeoReport spec's own shape.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any, NoReturn

from flask import Blueprint, Flask, Response, current_app, has_request_context, jsonify, request
from flask.json.provider import DefaultJSONProvider
from sqlalchemy import exc as sa_exc
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.routing import Map, Rule

from layouts.i18n import LANGUAGES, N_, gettext, normalise
from tickets import errors as domain
from tickets.jsontext import MAX_DEPTH, too_deep

log = logging.getLogger(__name__)

# English templates (msgids for the catalogue), keyed by code.
MESSAGES: dict[str, str] = {
    # the request
    "bad_request": N_("The request is not valid"),
    "not_one_of": N_("'%(field)s' must be one of %(allowed)s, not '%(value)s'"),
    "not_integer": N_("'%(field)s' must be a whole number from %(min)s to %(max)s, not '%(value)s'"),
    "out_of_range": N_("'%(field)s' must be from %(min)s to %(max)s, not %(value)s"),
    "invalid_date": N_("'%(field)s' must be a date as YYYY-MM-DD, not '%(value)s'"),
    "invalid_date_or_time": N_("'%(field)s' must be YYYY-MM-DD or an ISO date-time, not '%(value)s'"),
    "invalid_time": N_("'%(field)s' must be ISO 8601 or yyyy-MM-dd HH:mm:ss, not '%(value)s'"),
    "missing_parameter": N_("'%(field)s' is required"),
    "not_a_string": N_("'%(field)s' must be a string"),
    "not_a_number": N_("'%(field)s' must be a number"),
    "not_a_boolean": N_("'%(field)s' must be true or false"),
    "idempotency_key": N_("An Idempotency-Key is 1 to %(most)s printable characters"),
    "idempotency_key_reused": N_("Idempotency-Key '%(key)s' was used for another request"),
    "nul_character": N_("'%(field)s' must not contain a NUL character or a lone surrogate: it is not text"),
    "conflicting_parameters": N_("Give either '%(field)s' or '%(other)s', not both"),
    "range_order": N_("The period ends before it starts ('%(field)s' is before '%(other)s')"),
    "range_too_long": N_("A period may span at most %(max_days)s days"),
    "live_today_only": N_("source=live covers today only; use source=sql for other periods"),
    "invalid_cursor": N_("'%(field)s' is not a cursor this list gave out"),
    "body_not_object": N_("Send a JSON object or a form"),
    "body_too_large": N_("The request body is too large"),
    "json_too_deep": N_("The JSON body nests arrays and objects more than %(max_depth)s deep"),
    "too_many_refusals": N_("Too many refused requests from this address: at most %(most)s an hour; "
                            "try again later"),
    # who is asking
    "authentication_required": N_("Authentication required: log in, or send Authorization: Bearer <token>"),
    "token_invalid": N_("The bearer token is invalid, revoked, or its user is inactive"),
    "kiosk_token_invalid": N_("The kiosk token is invalid or has been revoked"),
    "role_required": N_("%(actor)s (role %(role)s) may not use %(path)s: it needs the role %(roles)s"),
    "kiosk_read_only": N_("A kiosk token is read-only"),
    "kiosk_callback_refused": N_("A kiosk token may only run the wall's callbacks"),
    "json_required": N_("This write takes JSON (Content-Type: application/json), not %(content_type)s"),
    "cross_site_refused": N_("Refused: the request came from another site (%(origin)s)"),
    "csrf_token_invalid": N_("The page's security token is missing or out of date: reload the page and try again"),
    "login_locked": N_("Too many failed logins: try again after %(until)s"),
    "sms_secret_refused": N_("Missing or wrong %(header)s"),
    "signature_refused": N_("The request is not authentic: %(field)s %(reason)s"),
    # what is asked for
    "unknown_unit": N_("Unknown unit '%(unit)s'"),
    "unknown_ticket": N_("Unknown ticket '%(number)s'"),
    "unknown_source": N_("No hotline source '%(source)s'"),
    "outside_scope": N_("Unit %(unit)s is outside your unit's scope"),
    "body_refused": N_("The request body was refused: %(reason)s"),
    "unknown_endpoint": N_("No such API endpoint: %(path)s"),
    "method_not_allowed": N_("%(method)s is not allowed on %(path)s; allowed: %(allowed)s"),
    # the platform
    "live_rebuilding": N_("The live state is being rebuilt from the database; retry shortly"),
    "redis_unreachable": N_("Redis is unreachable; retry shortly"),
    "source_misconfigured": N_("The hotline source configuration cannot be read"),
    "document_renderer_missing": N_("This server cannot print documents: the PDF renderer (WeasyPrint with "
                                    "Pango) is not installed"),
    "document_font_missing": N_("This server cannot print documents: the Chinese font %(font)s is not installed"),
    "internal_error": N_("Internal error; it has been logged"),
    "http_error": N_("The request failed (HTTP %(status)s)"),
    # the domain's refusals, one code each (tickets/errors.py)
    "status_forbids_step": N_("Ticket %(number)s is %(status)s: %(step)s is allowed only from %(allowed)s"),
    "before_received": N_("Ticket %(number)s: %(step)s at %(at)s would be before it was received"),
    "naive_time": N_("The time of %(what)s has no time zone"),
    "text_required": N_("A %(what)s is required"),
    "unit_inactive": N_("Unit %(unit)s is not active"),
    "pass_down_only": N_("Ticket %(number)s is dispatched: only its level-2 unit may pass it down, to one of its own units"),
    "role_may_not": N_("%(user)s (role %(role)s) may not %(step)s"),
    "step_outside_scope": N_("%(user)s may not %(step)s a ticket outside their unit's scope"),
    "own_unit_only": N_("%(user)s may %(step)s only tickets of their own unit"),
    "findings_required": N_("Ticket %(number)s is a level-3 case: it closes only with findings"),
    "findings_level": N_("Ticket %(number)s is at level %(level)s: only a level-3 case closes with findings"),
    "extension_pending": N_("Ticket %(number)s already has an extension request pending"),
    "extension_too_late": N_("Ticket %(number)s: an extension must be asked for before the deadline (%(due)s)"),
    "extension_hours": N_("An extension is more than 0 and at most %(most)s working hours, not %(hours)s"),
    "extension_decided": N_("The extension request of ticket %(number)s was already %(status)s"),
    "no_extension_pending": N_("Ticket %(number)s has no extension request pending"),
    "merge_into_itself": N_("Ticket %(number)s cannot be merged into itself"),
    "merge_target_closed": N_("Ticket %(into)s is %(status)s: merge into an open ticket"),
    "not_merged": N_("Ticket %(number)s is not merged into another ticket"),
    "no_unit_yet": N_("Ticket %(number)s has no unit yet"),
    "order_still_open": N_("Ticket %(number)s already has supervision order %(order)s open"),
    "order_not_open": N_("Supervision order %(order)s is %(status)s: only an open order is answered"),
    "order_closed": N_("Supervision order %(order)s is already closed"),
    "answer_unknown": N_("'%(answer)s' is not one of %(known)s"),
    "nothing_to_answer": N_("Ticket %(number)s has no follow-up waiting for an answer"),
    "alert_closed": N_("Alert %(alert)s is closed"),
    "unknown_clock": N_("'%(clock)s' is not a clock: contact or resolve"),
    "nothing_to_acknowledge": N_("Ticket %(number)s: its %(clock)s clock is neither near nor past its deadline now"),
    "already_acknowledged": N_("Ticket %(number)s: %(by)s already took its %(clock)s clock at %(at)s"),
    "alert_acknowledged": N_("Alert %(alert)s was already acknowledged at %(at)s"),
    "suggestion_decided": N_("Duplicate suggestion %(suggestion)s was already %(status)s"),
    "ticket_or_unit": N_("Name either a ticket or a unit"),
    "unknown_order": N_("Unknown supervision order '%(order)s'"),
    "unknown_letter": N_("Unknown reminder letter '%(letter)s'"),
    "unknown_suggestion": N_("Unknown duplicate suggestion %(suggestion)s"),
    "unknown_follow_up": N_("Unknown follow-up %(follow_up)s"),
    "unknown_alert": N_("Unknown alert %(alert)s"),
    "intake_busy": N_("Intake is busy with another batch; nothing was changed, try again"),
    "database_busy": N_("The database is busy; nothing was changed, try again"),
    "database_unavailable": N_("The database cannot be reached; nothing was changed, try again shortly"),
    "invalid_week": N_("'%(week)s' is not an ISO week such as 2026-W48"),
    "future_week": N_("Week %(week)s has not begun: it has no bulletin yet"),
    "unknown_bulletin": N_("No bulletin of week %(week)s has been made yet"),
    "bulletin_city_only": N_("%(user)s does not see the whole city: the bureau's bulletin is made by the city"),
    "reveal_not_allowed": N_("%(user)s may not see the citizen of ticket %(number)s in full"),
    # the unit tree and the working calendar (tickets/units.py, tickets/workcalendar.py)
    "text_too_long": N_("'%(field)s' is at most %(most)s characters"),
    "unit_exists": N_("Unit %(unit)s already exists"),
    "unit_too_deep": N_("Unit %(unit)s is at the lowest level: the tree has %(most)s levels"),
    "unit_kind_level": N_("A unit of level %(level)s is one of %(allowed)s, not %(kind)s"),
    "unit_is_root": N_("Unit %(unit)s is the city bureau: it cannot be moved, retired or given topics"),
    "unit_parent_level": N_("Unit %(unit)s can only go under a unit of level %(level)s; %(parent)s is not one"),
    "unit_same_parent": N_("Unit %(unit)s is already under %(parent)s"),
    "unit_already_inactive": N_("Unit %(unit)s is already deactivated"),
    "unit_has_open_tickets": N_("Unit %(unit)s still holds %(count)s open tickets: move them to another unit first"),
    "unit_has_active_children": N_("Unit %(unit)s still has %(count)s active units below it: move or deactivate them first"),
    "rehome_same_unit": N_("The tickets are already with unit %(unit)s"),
    "unknown_topic": N_("Unknown topic '%(topic)s'"),
    "unknown_jurisdiction_upload": N_("No uploaded jurisdiction file %(upload)s"),
    "jurisdiction_upload_decided": N_("Jurisdiction file %(upload)s is already %(status)s"),
    "jurisdiction_upload_errors": N_("Jurisdiction file %(upload)s has %(count)s errors: fix the file and check it again"),
    "calendar_invalid": N_("The schedule cannot be entered: %(reason)s"),
    "calendar_placeholder": N_("This %(year)s file is a placeholder showing the format, not the official schedule"),
    "calendar_year_not_loaded": N_("The platform does not know %(year)s yet: enter that year's official schedule first"),
    # the domain's refusals, by class (a code without a template of its own falls back to these)
    "invalid": N_("The request is not valid"),
    "not_found": N_("Not found"),
    "not_allowed": N_("Not allowed"),
    "illegal_step": N_("This step is not allowed in the current state"),
    "conflict": N_("Conflict with the current state; reload and try again"),
    "stale_version": N_("Someone else changed this meanwhile; reload and try again"),
    "busy": N_("The platform is busy; nothing was changed, try again"),
}

DOMAIN_STATUS: dict[type[domain.DomainError], int] = {
    domain.Invalid: 400, domain.NotFound: 404, domain.NotAllowed: 403,
    domain.IllegalStep: 409, domain.Conflict: 409, domain.Busy: 503,
}
RETRY_AFTER_SECONDS = 1
# The database cannot be reached (a lost or refused connection, no connection free in the pool):
# every request that needs it is answered 503, with a longer Retry-After than a lock wait's.
DATABASE_OUTAGE: tuple[type[Exception], ...] = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError)
DATABASE_RETRY_AFTER_SECONDS = 5
DASH_PREFIX = "/_dash-"
SCREEN_DEPTH = 128
# HTTP errors that are not the API's own refusals (Werkzeug's, Flask's): a code by status.
HTTP_CODES: dict[int, str] = {400: "bad_request", 404: "unknown_endpoint", 405: "method_not_allowed",
                              413: "body_too_large", 500: "internal_error"}


_PLACEHOLDER = re.compile(r"%\((\w+)\)")
API_PREFIX = "/api/v1"
CATCH_ALL_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


class ApiError(Exception):
    """A refusal of the API layer itself: the request, the route, the gate, the platform."""

    def __init__(self, status: int, code: str, *, field: str | None = None,
                 headers: Mapping[str, str] | None = None, **params: Any) -> None:
        super().__init__(code)
        self.status = status
        self.code = code
        self.field = field
        self.headers = dict(headers or {})
        self.params = params


class BadParameter(ApiError):
    """A query or body parameter that cannot be read: 400, naming the parameter."""

    def __init__(self, field: str, code: str, **params: Any) -> None:
        super().__init__(400, code, field=field, **params)


# ------------------------------------------------------------ rendering
def language() -> str:
    """The caller's language: ``?lang=``, else ``Accept-Language``, else zh-CN."""
    asked = request.args.get("lang")
    if asked:
        return normalise(asked)
    return normalise(request.accept_languages.best_match(LANGUAGES, default="zh-CN"))


def _shown(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return value


def message(code: str, lang: str, params: Mapping[str, Any], fallback: str = "http_error") -> str:
    """``MESSAGES[code]`` in ``lang``; the fallback's when the code has none or its params are missing."""
    template = MESSAGES.get(code)
    if template is None or not set(_PLACEHOLDER.findall(template)) <= set(params):
        # A code raised with other params than its template names says the generic thing.
        template, code = MESSAGES[fallback], fallback
    wanted = set(_PLACEHOLDER.findall(template))
    return gettext(template, lang, **{k: _shown(v) for k, v in params.items() if k in wanted})


def error_response(status: int, code: str, params: Mapping[str, Any] | None = None, *, field: str | None = None,
                   headers: Mapping[str, str] | None = None, fallback: str = "http_error") -> Response:
    """The one error shape."""
    params = dict(params or {})
    shown = {**params, "status": status, **({"field": field} if field is not None else {})}
    body: dict[str, Any] = {"status": status, "code": code,
                            "message": message(code, language(), shown, fallback),
                            "params": params}
    if field is not None:
        body["field"] = field
    response = jsonify(error=body)
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="minsheng"'
    if status == 503:
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response.headers.update(dict(headers or {}))
    return response


# ------------------------------------------------------------- handlers
def _api_error(exc: ApiError) -> Response:
    return error_response(exc.status, exc.code, exc.params, field=exc.field, headers=exc.headers)


def _domain_status(exc: domain.DomainError) -> int:
    return next((status for cls, status in DOMAIN_STATUS.items() if isinstance(exc, cls)), 400)


def _domain_error(exc: domain.DomainError) -> Response:
    status = _domain_status(exc)
    # The nearest class's own code with a template (a subclass's new code falls back to its family's).
    fallback = next((c for c in (vars(cls).get("code") for cls in type(exc).__mro__) if c in MESSAGES), "invalid")
    return error_response(status, exc.code, exc.params, fallback=fallback)


def _http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    params: dict[str, Any] = {}
    headers: dict[str, str] = {}
    if isinstance(exc, MethodNotAllowed):
        allowed = sorted(exc.valid_methods or [])
        params = {"method": request.method, "path": request.path, "allowed": allowed}
        headers = {"Allow": ", ".join(allowed)}
    elif status == 404:
        params = {"path": request.path}
    return error_response(status, HTTP_CODES.get(status, "http_error"), params, headers=headers)


def _internal_error(exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.path)
    return error_response(500, "internal_error")


def _database_unavailable(exc: Exception) -> Response:
    log.error("database unavailable on %s %s: %s", request.method, request.path, exc.__class__.__name__)
    return error_response(503, "database_unavailable", headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)})


class BoundedJSON(DefaultJSONProvider):
    """Flask's JSON, refusing a body nested deeper than ``tickets.jsontext.MAX_DEPTH`` (400
    ``json_too_deep``) before parsing it: the API's and the intake's. A screen's callback (Dash's,
    which sends component trees back) may nest ``SCREEN_DEPTH`` deep: still no parser's stack."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        limit = SCREEN_DEPTH if has_request_context() and request.path.startswith(DASH_PREFIX) else MAX_DEPTH
        if too_deep(s, limit):
            raise ApiError(400, "json_too_deep", max_depth=limit)
        return super().loads(s, **kwargs)


def init_app(server: Flask) -> None:
    """What applies beyond ``/api/v1``: JSON bodies' depth, the API's refusals raised anywhere
    (a screen's JSON body) in the one shape, and a database outage a 503 with Retry-After, not
    a 500 (intake forms and screens too; Open311 says it in its own shape)."""
    server.json = BoundedJSON(server)
    server.register_error_handler(ApiError, _api_error)
    for exc in DATABASE_OUTAGE:
        server.register_error_handler(exc, _database_unavailable)
    server.register_error_handler(404, _not_found)


def _not_found(exc: HTTPException) -> Any:
    """A path under ``/api/v1`` that no route matches at all (the catch-all's ``path`` takes no
    line break, so ``/api/v1/alerts/a%0Ab`` falls through to the server): the API's 404 shape."""
    if request.path.startswith(API_PREFIX + "/") or request.path == API_PREFIX:
        return _api_error(ApiError(404, "unknown_endpoint", path=request.path))
    return exc


def register(blueprint: Blueprint) -> None:
    """Every refusal raised in an API view answers in the one shape."""
    blueprint.register_error_handler(ApiError, _api_error)
    blueprint.register_error_handler(domain.DomainError, _domain_error)
    blueprint.register_error_handler(HTTPException, _http_error)
    for exc in DATABASE_OUTAGE:  # before Exception's handler below
        blueprint.register_error_handler(exc, _database_unavailable)
    blueprint.register_error_handler(Exception, _internal_error)
    # Dash's catch-all page route would answer unknown /api/v1 paths with its HTML page.
    blueprint.add_url_rule("/", "unknown_route", unknown_route, defaults={"path": ""}, methods=CATCH_ALL_METHODS)
    blueprint.add_url_rule("/<path:path>", "unknown_route", unknown_route, methods=CATCH_ALL_METHODS)


def _api_rules() -> Map:
    """The API's own routes, without the catch-all: tells an unknown path from a wrong method."""
    return Map([Rule(r.rule, methods=r.methods, endpoint=r.endpoint)
                for r in current_app.url_map.iter_rules()
                if r.rule.startswith(API_PREFIX) and r.endpoint != "api.unknown_route"])


def unknown_route(path: str) -> NoReturn:
    adapter = _api_rules().bind("localhost")
    try:
        adapter.match(request.path, method=request.method)
    except MethodNotAllowed as exc:
        allowed = sorted(exc.valid_methods or [])
        raise ApiError(405, "method_not_allowed", headers={"Allow": ", ".join(allowed)},
                       method=request.method, path=request.path, allowed=allowed) from None
    except HTTPException:  # no such path (or only with a trailing slash)
        pass
    raise ApiError(404, "unknown_endpoint", path=request.path)
