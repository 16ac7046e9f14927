"""The 12345 push: signed JSON work orders from government hotlines (docs/INTAKE.md).

Each source (a city's hotline platform) is one YAML file in
``settings.hotline_sources_dir`` (``feeds/sources/``): its field names, value
codes, time formats, coordinate system, id prefix and where results go back.

Authentication: HMAC-SHA256 with the source's shared secret over
``<X-Timestamp> + "." + <raw body>``, sent as ``X-Signature: sha256=<hex>``;
``X-Timestamp`` is Unix seconds and must be within the replay window
(``settings.hotline_replay_window_seconds``) of our clock. The timestamp is
signed too, or the window would protect nothing (an old body could be replayed
with a fresh header). A replay inside the window is harmless: the order number
makes intake idempotent.

Body: one work order (a JSON object) or a batch (a JSON array of them).
Each order becomes a ticket, is found to be a resubmission (same order number:
the same ticket), or is refused with every reason (field and why) and kept as
a dead letter with its raw JSON.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from sqlalchemy.orm import Session

from feeds.common import (
    MAX_ADDRESS,
    MAX_CONTENT,
    MAX_NAME,
    MAX_TITLE,
    Draft,
    Outcome,
    hand_in_each,
    refuse,
)
from feeds.dead_letters import FieldError, Rejected, reject
from tickets.calendars import OFFICIAL, Calendar, CalendarError
from tickets.calendars import make as make_calendar
from tickets.uow import UnitOfWork
from tickets.intake import NewRequest
from tickets.jsontext import MAX_DEPTH, too_deep
from tickets.vocabulary import CHANNELS, KINDS

SIGNATURE_HEADER = "X-Signature"
TIMESTAMP_HEADER = "X-Timestamp"
MAX_BATCH = 1000
MAX_ATTACHMENTS = 20
_URL = re.compile(r"^https?://[^\s]+$")
OUR_FIELDS = ("order_no", "dispatched_at", "deadline", "caller", "phone", "address", "lat", "lon",
              "appeal_type", "subject", "content", "urgency", "suggested_unit", "attachments", "status")
RESULT_FIELDS = ("order_no", "handler_id", "unit_id", "handled_at", "reply")


class SourceError(ValueError):
    """A source file that cannot be used (names the file and the key)."""


@dataclass(frozen=True)
class Source:
    name: str
    channel: str
    label: str
    tz: ZoneInfo
    time_formats: tuple[str, ...]
    coordinates: str
    id_prefix: str
    secret: str | None
    fields: dict[str, str]
    required: tuple[str, ...]
    values: dict[str, dict[str, str]]
    results: dict[str, Any] = field(default_factory=dict)
    # Whose resolve deadline a ticket gets: the bureau's SLA policy (``bureau``, the default) or
    # the order's own 办理时限 when it has one (``source``); and the working calendar its
    # deadlines count on (``tickets.calendars``; the official Chinese calendar by default).
    deadline: str = "bureau"
    calendar: Calendar = OFFICIAL

    def their(self, ours: str) -> str:
        return self.fields.get(ours, ours)

    def result_field(self, ours: str) -> str:
        fields_: dict[str, str] = self.results.get("fields") or {}
        return fields_.get(ours, ours)


def parse_source(data: dict[str, Any], origin: str) -> Source:
    def need(key: str) -> Any:
        if key not in data:
            raise SourceError(f"{origin}: missing key {key!r}")
        return data[key]

    name = str(need("name"))
    channel = str(data.get("channel", "hotline_12345"))
    if channel not in CHANNELS:
        raise SourceError(f"{origin}: channel {channel!r} is not one of {sorted(CHANNELS)}")
    fields_ = {str(k): str(v) for k, v in (need("fields") or {}).items()}
    unknown = set(fields_) - set(OUR_FIELDS)
    if unknown:
        raise SourceError(f"{origin}: fields {sorted(unknown)} are not ours; ours: {', '.join(OUR_FIELDS)}")
    required = tuple(str(r) for r in data.get("required", ("order_no", "dispatched_at", "content")))
    for r in required:
        if r not in OUR_FIELDS:
            raise SourceError(f"{origin}: required field {r!r} is not one of ours")
    for r in ("order_no", "dispatched_at", "content"):
        if r not in required:
            raise SourceError(f"{origin}: {r} must be required (a ticket needs it)")
    values = {str(k): {str(a): str(b) for a, b in (v or {}).items()} for k, v in (data.get("values") or {}).items()}
    for code in values.get("appeal_type", {}).values():
        if code not in KINDS:
            raise SourceError(f"{origin}: values.appeal_type maps to {code!r}, not one of {sorted(KINDS)}")
    try:
        tz = ZoneInfo(str(data.get("timezone", "Asia/Shanghai")))
    except Exception as exc:  # noqa: BLE001 - ZoneInfoNotFoundError and friends
        raise SourceError(f"{origin}: timezone: {exc}") from None
    results = dict(data.get("results") or {})
    unknown = set(results.get("fields") or {}) - set(RESULT_FIELDS)
    if unknown:
        raise SourceError(f"{origin}: results.fields {sorted(unknown)}; ours: {', '.join(RESULT_FIELDS)}")
    from geo.coords import normalize_system

    try:
        system = normalize_system(str(data.get("coordinates", "wgs84")))
    except ValueError as exc:
        raise SourceError(f"{origin}: coordinates: {exc}") from None
    deadline = str(data.get("deadline", "bureau"))
    if deadline not in ("bureau", "source"):
        raise SourceError(f"{origin}: deadline: bureau (the SLA policy) or source (the order's own), "
                          f"not {deadline!r}")
    spec = data.get("calendar") or {}
    if isinstance(spec, str):
        spec = {"days": spec}
    try:
        calendar = make_calendar(str(spec.get("days", "official")), spec.get("country"), spec.get("subdivision"),
                                 spec.get("hours"))
    except (CalendarError, AttributeError) as exc:
        raise SourceError(f"{origin}: calendar: {exc}") from None
    return Source(
        deadline=deadline, calendar=calendar,
        name=name, channel=channel, label=str(data.get("label", name)), tz=tz,
        time_formats=tuple(data.get("time_formats") or ("%Y-%m-%d %H:%M:%S",)),
        coordinates=system, id_prefix=str(data.get("id_prefix") or ""),
        secret=None if data.get("secret") in (None, "") else str(data["secret"]),
        fields=fields_, required=required, values=values, results=results,
    )


def load_sources(directory: str | Path) -> dict[str, Source]:
    """Every ``*.yaml`` source in ``directory`` by name (re-read when a file changes)."""
    path = Path(directory)
    stamp = tuple(sorted((p.name, p.stat().st_mtime_ns) for p in path.glob("*.yaml"))) if path.is_dir() else ()
    return _load(str(path), stamp)


@lru_cache(maxsize=8)
def _load(directory: str, stamp: tuple[tuple[str, int], ...]) -> dict[str, Source]:
    out: dict[str, Source] = {}
    for name, _ in stamp:
        file = Path(directory) / name
        data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        source = parse_source(data, str(file))
        if source.name in out:
            raise SourceError(f"{file}: source name {source.name!r} is used twice")
        out[source.name] = source
    return out


# ------------------------------------------------------------ signatures
def sign(secret: str, timestamp: str | int, body: bytes) -> str:
    """The X-Signature value for ``body`` sent at ``timestamp`` (Unix seconds)."""
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode("ascii") + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str | None, headers: Any, body: bytes, window: float, now: float | None = None,
           ) -> FieldError | None:
    """None if the request is authentic and fresh; else which header is wrong and why."""
    return verify_any([secret] if secret else [], headers, body, window, now)[1]


def verify_any(secrets: list[str], headers: Any, body: bytes, window: float, now: float | None = None,
               ) -> tuple[int | None, FieldError | None]:
    """(the index of the secret that signed the request, None) if it is authentic and fresh under
    one of ``secrets`` (a key and, during a rotation's overlap, the one before it); else
    (None, which header is wrong and why)."""
    problem = _verify_all(secrets, headers, body, window, now)
    if isinstance(problem, int):
        return problem, None
    return None, problem


def _verify_all(secrets: list[str], headers: Any, body: bytes, window: float, now: float | None) -> int | FieldError:
    if not secrets:
        return FieldError(SIGNATURE_HEADER, "no shared secret is configured for this source; "
                                            "every push is refused until one is (MINSHENG_HOTLINE_SECRET)")
    stamp = (headers.get(TIMESTAMP_HEADER) or "").strip()
    if not stamp:
        return FieldError(TIMESTAMP_HEADER, "header missing: Unix seconds when the request was signed")
    if not re.fullmatch(r"\d{1,12}", stamp):
        return FieldError(TIMESTAMP_HEADER, f"{stamp[:40]!r} is not Unix seconds")
    now = time.time() if now is None else now
    skew = now - int(stamp)
    if abs(skew) > window:
        when = f"{skew:.0f} s old" if skew > 0 else f"{-skew:.0f} s in the future"
        return FieldError(TIMESTAMP_HEADER, f"is {when}; the replay window is ±{window:.0f} s "
                                            "(check the sender's clock)")
    given = (headers.get(SIGNATURE_HEADER) or "").strip()
    if not given:
        return FieldError(SIGNATURE_HEADER, "header missing: sha256=<hex HMAC-SHA256 of '<timestamp>.<body>'>")
    if not given.startswith("sha256=") or not re.fullmatch(r"[0-9a-fA-F]{64}", given[7:]):
        return FieldError(SIGNATURE_HEADER, "must be sha256= followed by 64 hex digits")
    matched = None
    for index, secret in enumerate(secrets):  # each compared in full: no timing says which one
        if hmac.compare_digest(sign(secret, stamp, body).lower(), given.lower()) and matched is None:
            matched = index
    if matched is None:
        return FieldError(SIGNATURE_HEADER, "does not match: HMAC-SHA256 of '<X-Timestamp>.<body>' with the "
                                            "shared secret differs (wrong secret, or the body was changed)")
    return matched


# --------------------------------------------------------------- orders
def order_number(source: Source, order: Any) -> str | None:
    if not isinstance(order, dict):
        return None
    value = order.get(source.their("order_no"))
    return str(value).strip() if isinstance(value, (str, int)) and str(value).strip() else None


def _attachments(draft: Draft, name: str, raw: Any) -> list[str]:
    if raw is None or raw == "" or raw == []:
        return []
    if isinstance(raw, str):
        items: list[Any] = raw.split(",")
    elif isinstance(raw, list):
        items = raw
    else:
        draft.error(name, f"must be a list of URLs, got {type(raw).__name__}")
        return []
    if len(items) > MAX_ATTACHMENTS:
        draft.error(name, f"{len(items)} attachments; at most {MAX_ATTACHMENTS}")
        return []
    urls = []
    for i, item in enumerate(items):
        text = item.strip() if isinstance(item, str) else None
        if not text or len(text) > 2000 or not _URL.match(text):
            draft.error(f"{name}[{i}]", f"{str(item)[:80]!r} is not an http(s) URL")
            continue
        urls.append(text)
    return urls


def parse_order(source: Source, order: Any, tz: ZoneInfo | None = None) -> NewRequest:
    """One work order → a NewRequest, or :class:`Rejected` with every reason."""
    draft = Draft(source.channel, tz or source.tz)
    if not isinstance(order, dict):
        draft.error("(order)", f"a work order must be a JSON object, got {type(order).__name__}")
        raise Rejected(draft.errors)
    f = source.their
    for ours in source.required:
        value = order.get(f(ours))
        if value is None or (isinstance(value, str) and not value.strip()) or value == []:
            draft.error(f(ours), "is required and missing or empty")
    missing = {e.field for e in draft.errors}

    def get(ours: str) -> Any:
        return None if f(ours) in missing else order.get(f(ours))

    number = get("order_no")
    if number is not None and (isinstance(number, bool) or not isinstance(number, (str, int))):
        draft.error(f("order_no"), f"must be text, got {type(number).__name__}")
        number = None
    number = str(number).strip() if number is not None else None
    if number is not None and not re.fullmatch(r"[A-Za-z0-9_\-]{1,60}", number):
        draft.error(f("order_no"), f"{number[:80]!r} is not a work-order number (letters, digits, - and _)")
        number = None
    draft.external_id = (source.id_prefix + number) if number else None

    dispatched = draft.local_time(f("dispatched_at"), get("dispatched_at"), required=False,
                                  formats=source.time_formats)
    deadline = draft.local_time(f("deadline"), get("deadline"), required=False, allow_date=True,
                                end_of_day=True, formats=source.time_formats, received=False)
    if dispatched and deadline and deadline < dispatched:
        draft.error(f("deadline"), f"{deadline.isoformat()} is before the dispatch time {dispatched.isoformat()}")
    caller = draft.text(f("caller"), get("caller"), max_len=MAX_NAME)
    phone = draft.phone(f("phone"), get("phone"))
    address = draft.text(f("address"), get("address"), max_len=MAX_ADDRESS)
    subject = draft.text(f("subject"), get("subject"), max_len=MAX_TITLE)
    content = draft.text(f("content"), get("content"), max_len=MAX_CONTENT)
    kind = _coded(draft, source, "appeal_type", get("appeal_type"))
    urgency = _coded(draft, source, "urgency", get("urgency"))
    status = _coded(draft, source, "status", get("status"))
    unit = draft.text(f("suggested_unit"), get("suggested_unit"), max_len=100)
    attachments = _attachments(draft, f("attachments"), get("attachments"))
    point = draft.point(get("lat"), get("lon"), source.coordinates, lat_name=f("lat"), lon_name=f("lon"))
    raw = {"source": source.name, "order": order,
           "deadline": deadline.isoformat() if deadline else None, "urgency": urgency, "status": status,
           "suggested_unit": unit, "attachments": attachments}
    return draft.build(received_at=dispatched, title=subject, content=content, kind=kind, address=address,
                       point=point, citizen_name=caller, citizen_phone=phone, raw=raw,
                       due_at=deadline if source.deadline == "source" else None,
                       calendar=None if source.calendar.is_official else source.calendar.key)


def _coded(draft: Draft, source: Source, ours: str, raw: Any) -> str | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    table = source.values.get(ours)
    if isinstance(raw, (dict, list, bool)) or not isinstance(raw, (str, int)):
        draft.error(source.their(ours), f"must be text or a code, got {type(raw).__name__}")
        return None
    text = str(raw).strip()
    if not table:
        return text
    if text in table:
        return table[text]
    if text in table.values():
        return text
    draft.error(source.their(ours), f"{text!r} is not one of: {', '.join(table)}")
    return None


# -------------------------------------------------------------- intake
@dataclass(frozen=True)
class PushResult:
    http_status: int
    body: dict[str, Any]
    refused: FieldError | None = None  # the body refused as a whole, not one order's own result


def _refused(session: Session, source: Source, endpoint: str, body: bytes, status: int,
             err: FieldError) -> PushResult:
    letter = reject(session, source.channel, endpoint, body, [err])
    return PushResult(status, {"errors": [err.as_dict()], "dead_letter_id": letter.id}, refused=err)


def ingest(session: UnitOfWork, source: Source, body: bytes, now: datetime, tz: Any, *,
           endpoint: str) -> PushResult:
    """Parse an authenticated body and take in every order; the caller commits."""
    if too_deep(body):
        return _refused(session, source, endpoint, body, 400,
                        FieldError("(body)", f"nests arrays and objects more than {MAX_DEPTH} deep"))
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        return _refused(session, source, endpoint, body, 400, FieldError("(body)", f"is not UTF-8 JSON: {exc}"))
    batch = isinstance(data, list)
    orders = data if batch else [data]
    if batch and not orders:
        return _refused(session, source, endpoint, body, 400, FieldError("(body)", "is an empty array"))
    if len(orders) > MAX_BATCH:
        return _refused(session, source, endpoint, body, 413,
                        FieldError("(body)", f"holds {len(orders)} orders; at most {MAX_BATCH} per request"))
    outcomes: list[Outcome | None] = []
    good: list[tuple[int, NewRequest]] = []
    for i, order in enumerate(orders):
        where = f"{endpoint}[{i}]" if batch else endpoint
        try:
            good.append((i, parse_order(source, order)))
            outcomes.append(None)
        except Rejected as exc:
            raw = json.dumps(order, ensure_ascii=False) if batch else body
            outcomes.append(refuse(session, source.channel, where, raw, exc,
                                   external_id=_prefixed(source, order)))
    def refused(position: int, exc: Exception) -> Outcome:
        i = good[position][0]
        cause = getattr(exc, "orig", None) or exc  # the driver's words, without the SQL and its values
        err = FieldError("(order)", f"the database cannot store it: {str(cause)[:200]}")
        return refuse(session, source.channel, f"{endpoint}[{i}]" if batch else endpoint,
                      json.dumps(orders[i], ensure_ascii=False) if batch else body, Rejected([err]),
                      external_id=_prefixed(source, orders[i]))

    # The whole batch in one go: de-duplication, routing and the writes are done in bulk (one
    # order the database refuses is its own dead letter, the others are stored).
    for (i, _request), outcome in zip(good, hand_in_each(session, [r for _i, r in good], now, refused)):
        outcomes[i] = outcome
    results = [o for o in outcomes if o is not None]
    if not batch:
        outcome = results[0]
        status = {"accepted": 201, "merged": 201, "duplicate": 200, "rejected": 400}[outcome.status]
        return PushResult(status, _describe(outcome, source))
    counts = {k: sum(1 for o in results if o.status == k) for k in ("accepted", "merged", "duplicate", "rejected")}
    return PushResult(200, {"counts": counts, "results": [_describe(o, source) for o in results]})


def _prefixed(source: Source, order: Any) -> str | None:
    number = order_number(source, order)
    return (source.id_prefix + number)[:64] if number else None


def _describe(outcome: Outcome, source: Source) -> dict[str, Any]:
    out = outcome.as_dict()
    ext = outcome.external_id
    out["order_no"] = ext[len(source.id_prefix):] if ext and ext.startswith(source.id_prefix) else ext
    out.pop("external_id", None)
    return out

