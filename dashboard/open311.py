"""Open311 GeoReport v2 over HTTP, under ``/open311/v2/`` (docs/INTAKE.md).

    GET  discovery.json|xml
    GET  services.json|xml                      topics as services
    GET  services/{service_code}.json|xml       definitions with attributes
    POST requests.json|xml                      form-encoded; api_key required
    GET  requests.json|xml                      service_request_id | service_code, start_date,
                                                end_date (W3C, with a zone), status
    GET  requests/{service_request_id}.json|xml
    GET  tokens/{token}.json|xml

Errors are the spec's ``errors``: ``[{"code": 400, "description": "..."}]``
(XML ``<errors><error>…``) with HTTP 400, 403, 404, 413, 429 or 503 (the database out of
reach, with Retry-After). A refused POST is also kept as a dead letter (api_key redacted); one
nobody vouched for (a wrong api_key, a body over the limit) as its first 4 KB only, at most
``settings.intake_refusals_per_hour`` an hour from one address (then 429, nothing kept). No login: GETs are public as the spec
has them, POSTs need an api_key; no cookie is read, so there is nothing to forge.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, request
from sqlalchemy import select
from sqlalchemy.orm import Session
from dashboard import running
from dashboard.api.errors import DATABASE_OUTAGE, DATABASE_RETRY_AFTER_SECONDS
from dashboard.auth import public
from dashboard.intake_forms import read_body, refuse_unauthenticated
from feeds import open311 as o311
from feeds.common import hand_in
from feeds.dead_letters import FieldError, Rejected, reject
from tickets import feedkeys
from tickets.uow import unit_of_work
from tickets.models import IntakeRecord, Ticket, could_be, utcnow

blueprint = Blueprint("open311", __name__, url_prefix="/open311/v2")
FMT = "<any(json,xml):fmt>"


def _platform() -> Any:
    return running.platform()


def _respond(fmt: str, data: Any, root: str, item: str | None, status: int = 200) -> Response:
    if fmt == "xml":
        return Response(o311.to_xml(root, item, data), status=status, mimetype="text/xml",
                        content_type="text/xml; charset=utf-8")
    return Response(json.dumps(data, ensure_ascii=False), status=status,
                    content_type="application/json; charset=utf-8")


def _error(fmt: str, err: o311.Open311Error) -> Response:
    return _respond(fmt, o311.errors_body(err), "errors", "error", err.code)


def _service_requests(fmt: str, data: list[dict[str, Any]], status: int = 200) -> Response:
    return _respond(fmt, data, "service_requests", "request", status)


@contextmanager
def _reading() -> Iterator[tuple[Session, ZoneInfo]]:
    """A public GET's session, after the jurisdiction check, and the platform's time zone."""
    platform = _platform()
    _jurisdiction()
    with platform.factory() as session:
        yield session, platform.settings.tz


def _views(session: Session, tickets: list[Ticket], tz: ZoneInfo) -> list[dict[str, Any]]:
    return o311.views(session, tickets, tz, _platform().settings.open311_coordinate_decimals)


def _record_of(session: Session, token: str) -> IntakeRecord | None:
    """The intake record of an Open311 request, by the token its client was given."""
    if not could_be(token, IntakeRecord.__table__.c.external_id):
        return None
    return session.scalar(select(IntakeRecord).where(IntakeRecord.channel == o311.CHANNEL,
                                                     IntakeRecord.external_id == token))


def _jurisdiction() -> None:
    given = (request.values.get("jurisdiction_id") or "").strip()
    expected = _platform().settings.open311_jurisdiction_id
    if given and given != expected:
        raise o311.Open311Error(404, [f"jurisdiction_id {given!r} not found; this endpoint serves {expected!r}"],
                                [FieldError("jurisdiction_id", f"{given!r} not found; this endpoint serves "
                                                               f"{expected!r}")])


def _service(code: str) -> o311.Service:
    service = o311.load_catalogue().get(code)
    if service is None:
        raise o311.Open311Error(404, [f"service_code {code!r} not found"],
                                [FieldError("service_code", f"{code!r} not found; see services.json")])
    return service


@blueprint.errorhandler(o311.Open311Error)
def _open311_error(err: o311.Open311Error) -> Response:
    fmt = "xml" if request.path.endswith(".xml") else "json"
    return _error(fmt, err)


def _database_unavailable(exc: Exception) -> Response:
    """The database out of reach: 503 in the spec's shape, with Retry-After (dashboard.api.errors)."""
    response = _open311_error(o311.Open311Error(503, ["the database cannot be reached; try again shortly"]))
    response.headers["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
    return response


for _outage in DATABASE_OUTAGE:
    blueprint.register_error_handler(_outage, _database_unavailable)


# -------------------------------------------------------------- discovery
@blueprint.get(f"/discovery.{FMT}")
@public
def discovery(fmt: str) -> Response:
    settings = _platform().settings
    base = request.host_url.rstrip("/") + (blueprint.url_prefix or "")
    data = {
        "changeset": "2026-11-23T00:00:00+08:00",
        "contact": "民生警务平台办公室",
        "key_service": "向民生警务平台办公室申请 api_key",
        "endpoints": [{"specification": o311.SPEC_URL, "url": base, "changeset": "2026-11-23T00:00:00+08:00",
                       "type": "production", "formats": ["application/json", "text/xml"]}],
        "jurisdiction_id": settings.open311_jurisdiction_id,
    }
    return _respond(fmt, data, "discovery", None)


# --------------------------------------------------------------- services
@blueprint.get(f"/services.{FMT}")
@public
def services(fmt: str) -> Response:
    _jurisdiction()
    return _respond(fmt, [s.as_dict() for s in o311.load_catalogue().values()], "services", "service")


@blueprint.get(f"/services/<code>.{FMT}")
@public
def service_definition(code: str, fmt: str) -> Response:
    _jurisdiction()
    return _respond(fmt, _service(code).definition(), "service_definition", None)


# --------------------------------------------------------------- requests
@blueprint.post(f"/requests.{FMT}")
@public
def post_request(fmt: str) -> Response:
    platform = _platform()
    settings = platform.settings
    endpoint = f"POST {request.path}"
    raw_body, too_large, length = read_body(settings.intake_max_body_bytes)  # the form is parsed from it
    if too_large is not None:
        _kept(endpoint, raw_body, [too_large], length)
        return _error(fmt, o311.Open311Error(413, [], [too_large]))
    form = list(request.form.items(multi=True))
    raw_text = o311.redacted_form(form)
    first = {k: v for k, v in reversed(form)}
    now = utcnow()
    given = first.get("api_key")
    with platform.factory() as session:  # its accepted keys (feed_keys), else the settings' hashes
        found = feedkeys.open311_label(session, given, o311.parse_keys(settings.open311_api_keys), now) \
            if given else None
    if found is None:  # nobody vouched for it: its first 4 KB are kept
        refused = o311.key_refused() if given else o311.key_required()
        _kept(endpoint, raw_text.encode("utf-8"), refused.errors)
        return _error(fmt, refused)
    feedkeys.seen(platform.factory, found[0], now)
    label = found[1]
    with unit_of_work(platform.factory) as session:
        try:
            _jurisdiction()
            code = (first.get("service_code") or "").strip()
            if not code:
                raise o311.Open311Error(400, ["service_code: is required"],
                                        [FieldError("service_code", "is required")])
            service = _service(code)
            new = o311.parse_post(form, service, now=now, tz=settings.tz,
                                  idempotency_key=request.headers.get("Idempotency-Key"), key_label=label)
        except Rejected as exc:
            err = o311.reject_from(exc)
            reject(session, o311.CHANNEL, endpoint, raw_text, exc.errors)
            return _error(fmt, err)
        except o311.Open311Error as err:
            reject(session, o311.CHANNEL, endpoint, raw_text, err.errors)
            return _error(fmt, err)
        outcome = hand_in(session, new, now)
        ticket = outcome.ticket
        assert ticket is not None
        number = _remember_number(session, new.external_id, ticket)
        body = [{"service_request_id": number, "token": new.external_id,
                 "service_notice": "该诉求已受理（重复提交）" if outcome.status == "duplicate" else "已受理，民警将与您联系",
                 "account_id": first.get("account_id") or None}]
    return _service_requests(fmt, body, 200 if outcome.status == "duplicate" else 201)


def _kept(endpoint: str, body: bytes, errors: list[FieldError], length: int | None = None) -> None:
    """A request nobody vouched for, kept as its first 4 KB; over the address's hourly allowance,
    a 429 instead (nothing kept)."""
    if refuse_unauthenticated(o311.CHANNEL, endpoint, body, errors, length=length) is None:
        most = _platform().settings.intake_refusals_per_hour
        why = f"too many refused requests from this address (at most {most} an hour): try again later"
        raise o311.Open311Error(429, [why])


def _remember_number(session: Any, token: str, ticket: Ticket) -> str:
    """The service_request_id the client was given first stays theirs (kept in the record)."""
    record = _record_of(session, token)
    if record is None:
        return ticket.number
    payload = dict(record.payload or {})
    if not payload.get("service_request_id"):
        payload["service_request_id"] = ticket.number
        record.payload = payload
    return str(payload["service_request_id"])


@blueprint.get(f"/requests.{FMT}")
@public
def get_requests(fmt: str) -> Response:
    with _reading() as (session, tz):
        tickets = o311.search(session, {k: v for k, v in request.args.items()}, utcnow(), tz)
        data = _views(session, tickets, tz)
    return _service_requests(fmt, data)


@blueprint.get(f"/requests/<number>.{FMT}")
@public
def get_request(number: str, fmt: str) -> Response:
    with _reading() as (session, tz):
        ticket = o311.find(session, number)
        if ticket is None:
            raise o311.Open311Error(404, [f"service_request_id {number!r} not found"])
        data = _views(session, [ticket], tz)
    return _service_requests(fmt, data)


@blueprint.get(f"/tokens/<token>.{FMT}")
@public
def get_token(token: str, fmt: str) -> Response:
    with _reading() as (session, _tz):
        record = _record_of(session, token)
        if record is None:
            raise o311.Open311Error(404, [f"token {token!r} not found"])
        number = (record.payload or {}).get("service_request_id") or record.ticket.number
    return _service_requests(fmt, [{"service_request_id": number, "token": token}])


@blueprint.route("/<path:rest>", methods=["GET", "POST"])
@public
def not_found(rest: str) -> Response:
    fmt = "xml" if rest.endswith(".xml") else "json"
    return _error(fmt, o311.Open311Error(404, [f"/open311/v2/{rest} is not a GeoReport v2 resource "
                                               "(formats: .json, .xml)"]))
