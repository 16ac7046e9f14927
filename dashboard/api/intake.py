"""The 12345 push: government hotlines POST signed JSON work orders here.

    POST /api/v1/intake/hotline             the default source (feeds/sources/hotline_12345.yaml)
    POST /api/v1/intake/hotline/<source>    any source in settings.hotline_sources_dir
    X-Timestamp: <Unix seconds>
    X-Signature: sha256=<hex HMAC-SHA256 of "<X-Timestamp>.<body>" with the source's secret>
    body: one work order (JSON object) or a batch (JSON array, at most 1,000)

Answers (JSON):
    201 {"status": "accepted", "order_no", "ticket_number"}        a new ticket
    200 {"status": "duplicate", "order_no", "ticket_number"}       the order number was seen: same ticket
    400 {"status": "rejected", "order_no", "errors": [{"field", "message"}], "dead_letter_id"}
    200 {"counts": {...}, "results": [...]}                        a batch: one result per order
    401 {"errors": [{"field": "X-Signature", "message": ...}], "dead_letter_id"}   not authentic: no ticket
    404 unknown source · 413 body too large

The hotline is a machine, not a user: no login, the signature alone
authenticates it (feeds/hotline.py). Every refused body is a dead letter.
"""
from __future__ import annotations

from typing import Any

from flask import jsonify, request

from dashboard.api import blueprint
from dashboard.api import platform as _platform
from dashboard.auth import public
from feeds import hotline
from feeds.dead_letters import FieldError, reject
from tickets.uow import unit_of_work
from tickets.models import utcnow

DEFAULT_SOURCE = "hotline_12345"


@blueprint.post("/intake/hotline", defaults={"source_name": DEFAULT_SOURCE})
@blueprint.post("/intake/hotline/<source_name>")
@public  # a machine: the HMAC signature authenticates it
def hotline_push(source_name: str) -> Any:
    platform = _platform()
    settings = platform.settings
    endpoint = request.path
    try:
        source = hotline.load_sources(settings.hotline_sources_dir).get(source_name)
    except hotline.SourceError as exc:
        return jsonify(errors=[{"field": "(source)", "message": str(exc)}]), 500
    if source is None:
        return jsonify(errors=[{"field": "(source)", "message": f"no hotline source {source_name!r}"}]), 404
    limit = settings.intake_max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        head = request.stream.read(65536)
        err = FieldError("(body)", f"is {request.content_length} bytes; at most {limit} are accepted "
                                   "(split the batch)")
        with unit_of_work(platform.factory) as session:
            letter = reject(session, source.channel, f"{endpoint} (first 64 KiB kept)", head, [err])
            letter_id = letter.id
        return jsonify(errors=[err.as_dict()], dead_letter_id=letter_id), 413
    request.max_content_length = limit  # a chunked body without a length is cut off too (413)
    body = request.get_data(cache=False)
    problem = hotline.verify(source.secret or settings.hotline_secret, request.headers, body,
                             settings.hotline_replay_window_seconds)
    if problem is not None:
        with unit_of_work(platform.factory) as session:
            letter_id = hotline.refuse_unauthenticated(session, source.name, source.channel, endpoint, body,
                                                       problem)
        response = jsonify(errors=[problem.as_dict()], dead_letter_id=letter_id)
        response.headers["WWW-Authenticate"] = 'HMAC-SHA256 realm="minsheng-intake"'
        return response, 401
    with unit_of_work(platform.factory) as session:
        result = hotline.ingest(session, source, body, utcnow(), settings.tz, endpoint=endpoint)
    return jsonify(result.body), result.http_status
