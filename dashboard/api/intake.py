"""The 12345 push: government hotlines POST signed JSON work orders here.

    POST /api/v1/intake/hotline             the default source (feeds/sources/hotline_12345.yaml)
    POST /api/v1/intake/hotline/<source>    any source in settings.hotline_sources_dir
    X-Timestamp: <Unix seconds>
    X-Signature: sha256=<hex HMAC-SHA256 of "<X-Timestamp>.<body>" with the source's secret>
    body: one work order (JSON object) or a batch (JSON array, at most 1,000)

Answers (JSON), per order:
    201 {"status": "accepted", "order_no", "ticket_number"}        a new ticket
    200 {"status": "duplicate", "order_no", "ticket_number"}       the order number was seen: same ticket
    400 {"status": "rejected", "order_no", "errors": [{"field", "message"}], "dead_letter_id"}
    200 {"counts": {...}, "results": [...]}                        a batch: one result per order
A request refused as a whole answers in the API's one error shape (dashboard/api/errors.py),
with the header or "(body)" at fault as ``field`` and ``params`` {"reason", "dead_letter_id"}:
    401 signature_refused (not authentic: no ticket) · 400 body_refused (not JSON, nested more than
    32 deep, an empty batch) · 413 body_too_large (over intake_max_body_bytes, chunked or not, or
    more than 1,000 orders) · 404 unknown_source · 429 too_many_refusals (Retry-After)

The hotline is a machine, not a user: no login, the signature alone
authenticates it (feeds/hotline.py). Every refused body is a dead letter; one refused before it
was authenticated (401, 413) is kept as its first 4 KB with its length and SHA-256, and at most
``settings.intake_refusals_per_hour`` of them an hour from one address (then 429, nothing kept).
"""
from __future__ import annotations

import logging
from typing import Any

from flask import jsonify, request

from dashboard.api.base import blueprint
from dashboard.api.base import platform as _platform
from dashboard.api.errors import ApiError
from dashboard.api.openapi import INT, PUBLIC, STR, Param, obj, operation, ref
from dashboard.auth import public
from feeds import hotline
from dashboard.intake_forms import read_body, refuse_unauthenticated
from feeds.dead_letters import FieldError
from tickets import feedkeys
from tickets.uow import unit_of_work
from tickets.models import utcnow

DEFAULT_SOURCE = "hotline_12345"
_RESULT = obj({"status": {"type": "string", "enum": ["accepted", "merged", "duplicate", "rejected"]},
               "order_no": {"type": ["string", "null"]}, "ticket_number": {"type": ["string", "null"]},
               "errors": {"type": "array", "items": obj({"field": STR, "message": STR})},
               "dead_letter_id": INT}, required=("status",))
_BATCH = obj({"counts": {"type": "object", "additionalProperties": INT},
              "results": {"type": "array", "items": _RESULT}})
_ORDER = {"type": "object", "description": "a work order, field names per source (feeds/sources/*.yaml)"}
_SIGNED = (Param("X-Timestamp", {"type": "string"}, "Unix seconds", "header", required=True),
           Param("X-Signature", {"type": "string"}, 'sha256=<hex HMAC-SHA256 of "<X-Timestamp>.<body>">', "header",
                 required=True))
INTAKE_REALM = {"WWW-Authenticate": 'HMAC-SHA256 realm="minsheng-intake"'}
REFUSALS_RETRY_AFTER = 600  # seconds: the hourly allowance of refusals frees up slowly
log = logging.getLogger(__name__)


def _refused(status: int, code: str, err: FieldError, letter_id: int, **headers: str) -> ApiError:
    return ApiError(status, code, field=err.field, headers=headers, reason=err.message, dead_letter_id=letter_id)


def _kept(source: hotline.Source, endpoint: str, body: bytes, err: FieldError, length: int | None = None) -> int:
    """The dead letter of a push nobody vouched for (its first 4 KB); over the address's hourly
    allowance, a 429 instead, with nothing kept."""
    letter_id = refuse_unauthenticated(source.channel, f"{endpoint} ({source.name})", body, [err], length=length)
    if letter_id is None:
        raise ApiError(429, "too_many_refusals", headers={"Retry-After": str(REFUSALS_RETRY_AFTER)},
                       most=_platform().settings.intake_refusals_per_hour)
    return letter_id


# The default source's route is an endpoint of its own: one endpoint with both rules would
# answer /intake/hotline/hotline_12345 with Werkzeug's 308 redirect (HTML) to the shorter URL.
@blueprint.post("/intake/hotline", endpoint="hotline_push_default", defaults={"source_name": DEFAULT_SOURCE})
@blueprint.post("/intake/hotline/<source_name>")
@operation("The 12345 push: one work order or a batch (at most 1,000), HMAC-signed",
           {201: _RESULT, 200: {"oneOf": [_RESULT, _BATCH]}, 400: {"oneOf": [_RESULT, ref("Error")]}},
           auth=PUBLIC, params=_SIGNED,
           body={"application/json": {"oneOf": [_ORDER, {"type": "array", "items": _ORDER, "maxItems": 1000}]}},
           description="No login: the signature authenticates the hotline. A request refused as a whole "
                       "(401 signature, 400 body, 413 size, 404 source) answers in the error shape.")
@public  # a machine: the HMAC signature authenticates it
def hotline_push(source_name: str) -> Any:
    platform = _platform()
    settings = platform.settings
    endpoint = request.path
    try:
        source = hotline.load_sources(settings.hotline_sources_dir).get(source_name)
    except hotline.SourceError as exc:
        log.error("hotline sources in %s: %s", settings.hotline_sources_dir, exc)
        raise ApiError(500, "source_misconfigured") from exc
    if source is None:
        raise ApiError(404, "unknown_source", source=source_name)
    body, too_large, length = read_body(settings.intake_max_body_bytes, " (split the batch)")
    if too_large is not None:
        raise _refused(413, "body_too_large", too_large, _kept(source, endpoint, body, too_large, length))
    now = utcnow()
    with platform.factory() as session:  # its accepted keys (feed_keys), else its file's secret
        keys = feedkeys.hotline_secrets(session, source.name, source.secret or settings.hotline_secret, now)
    signed_by, problem = hotline.verify_any([k.secret for k in keys], request.headers, body,
                                            settings.hotline_replay_window_seconds)
    if problem is not None:
        raise _refused(401, "signature_refused", problem, _kept(source, endpoint, body, problem), **INTAKE_REALM)
    assert signed_by is not None
    feedkeys.seen(platform.factory, keys[signed_by].key_id, now)
    with unit_of_work(platform.factory) as session:
        result = hotline.ingest(session, source, body, utcnow(), settings.tz, endpoint=endpoint)
    if result.refused is not None:
        code = "body_too_large" if result.http_status == 413 else "body_refused"
        raise _refused(result.http_status, code, result.refused, result.body["dead_letter_id"])
    return jsonify(result.body), result.http_status
