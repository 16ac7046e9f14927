"""Open311 GeoReport v2: services, validation of new requests, and request views.

The HTTP side is ``dashboard/open311.py`` (``/open311/v2/``); this module
holds what the spec asks of the data, so it can be tested without a server:

- services: one per topic (``feeds/open311_services.yaml``), ``service_code``
  = the topic's code, with definitions (attributes);
- POST: ``api_key`` (checked against SHA-256 hashes in
  ``settings.open311_api_keys``), ``service_code``, a location (``lat`` +
  ``long`` (WGS84, as the spec and GPS give them), or ``address_string``, or
  ``address_id``), ``attribute[code]`` values checked against the definition,
  ``email``, ``first_name``, ``last_name``, ``phone``, ``description`` (at
  most 4,000 characters, as the spec says), ``media_url``;
- request views for GET: ``status`` open/closed from our lifecycle,
  ``status_notes``, ``agency_responsible`` (the unit's name),
  ``expected_datetime`` (the resolve deadline), datetimes with offsets
  (+08:00), and never the citizen's name, phone or e-mail: only what the Open311 submitter
  gave (not what a 12345 caller told the ticket their request joined), phone and ID-card
  numbers in it masked, coordinates rounded.

Idempotency: the spec has no request id, so the intake record's external id
(also the ``token``) is the client's ``Idempotency-Key`` header when sent,
else a hash of the submitted fields (api_key excepted) and the local date:
the same form posted twice on one day is one request.
"""
from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from xml.etree import ElementTree as ET

import yaml
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from feeds.common import MAX_ADDRESS, MAX_NAME, Draft
from feeds.dead_letters import FieldError, Rejected
from tickets.intake import NewRequest, outside_window
from tickets.models import IntakeRecord, Ticket, TicketEvent, Unit, could_be
from tickets.personal import redacted
from tickets.vocabulary import KINDS, OPEN_STATUSES, STATUSES, TOPICS

CHANNEL = "open311"
SPEC_URL = "http://wiki.open311.org/GeoReport_v2"
CATALOGUE = Path(__file__).resolve().parent / "open311_services.yaml"
MAX_DESCRIPTION = 4000  # the spec's limit
MAX_WINDOW = timedelta(days=90)  # the spec's default window and widest range
MAX_RESULTS = 1000  # the spec's default limit
DATATYPES = frozenset({"string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"})
_URL = re.compile(r"^https?://[^\s<>\"]+$")
_W3C = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$")
_ATTRIBUTE = re.compile(r"^attribute\[([^\]]+)\](\[\])?$")


class Open311Error(Exception):
    """An error the spec's ``errors`` array reports: (HTTP code, [descriptions])."""

    def __init__(self, code: int, descriptions: list[str], errors: list[FieldError] | None = None) -> None:
        if errors:  # one description per field error, naming the field
            descriptions = [f"{e.field}: {e.message}" for e in errors]
        super().__init__("; ".join(descriptions))
        self.code = code
        self.descriptions = descriptions
        self.errors = errors or [FieldError("(request)", d) for d in descriptions]


# ------------------------------------------------------------- catalogue
@dataclass(frozen=True)
class Attribute:
    code: str
    description: str
    datatype: str
    required: bool
    datatype_description: str
    values: dict[str, str]
    order: int

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "variable": True, "code": self.code, "datatype": self.datatype, "required": self.required,
            "datatype_description": self.datatype_description or None, "order": self.order,
            "description": self.description,
        }
        if self.datatype in ("singlevaluelist", "multivaluelist"):
            out["values"] = [{"key": k, "name": v} for k, v in self.values.items()]
        return out


@dataclass(frozen=True)
class Service:
    code: str
    name: str
    description: str
    group: str
    keywords: tuple[str, ...]
    default_kind: str
    attributes: tuple[Attribute, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"service_code": self.code, "service_name": self.name, "description": self.description,
                "metadata": bool(self.attributes), "type": "realtime",
                "keywords": ",".join(self.keywords), "group": self.group}

    def definition(self) -> dict[str, Any]:
        return {"service_code": self.code, "attributes": [a.as_dict() for a in self.attributes]}


@lru_cache(maxsize=4)
def load_catalogue(path: Path = CATALOGUE) -> dict[str, Service]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    common = data.get("common_attributes") or []
    out: dict[str, Service] = {}
    for entry in data["services"]:
        code = str(entry["service_code"])
        if code not in TOPICS:
            raise ValueError(f"{path}: service_code {code!r} is not a topic ({sorted(TOPICS)})")
        attrs = []
        for i, a in enumerate([*common, *(entry.get("attributes") or [])], start=1):
            if a["datatype"] not in DATATYPES:
                raise ValueError(f"{path}: {code}.{a['code']}: datatype {a['datatype']!r}")
            attrs.append(Attribute(code=str(a["code"]), description=str(a.get("description", "")),
                                   datatype=str(a["datatype"]), required=bool(a.get("required", False)),
                                   datatype_description=str(a.get("datatype_description") or ""),
                                   values={str(k): str(v) for k, v in (a.get("values") or {}).items()},
                                   order=i))
        kind = str(entry.get("default_kind", "complaint"))
        if kind not in KINDS:
            raise ValueError(f"{path}: {code}: default_kind {kind!r}")
        out[code] = Service(code=code, name=str(entry.get("service_name", TOPICS[code])),
                            description=str(entry.get("description", "")), group=str(entry.get("group", "")),
                            keywords=tuple(entry.get("keywords") or ()), default_kind=kind,
                            attributes=tuple(attrs))
    return out


# --------------------------------------------------------------- api keys
def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def parse_keys(setting: str) -> dict[str, str]:
    """``label=hexhash, ...`` → {hash: label}."""
    out = {}
    for item in (setting or "").split(","):
        label, sep, digest = item.strip().partition("=")
        if sep and re.fullmatch(r"[0-9a-fA-F]{64}", digest.strip()):
            out[digest.strip().lower()] = label.strip()
    return out


def check_key(setting: str, given: str | None) -> str:
    """The key's label, or :class:`Open311Error` 403."""
    if not given:
        raise key_required()
    digest = key_hash(given)
    for known, label in parse_keys(setting).items():
        if hmac.compare_digest(known, digest):
            return label
    raise key_refused()


def key_required() -> Open311Error:
    return Open311Error(403, [], [FieldError("api_key", "is required to submit a request")])


def key_refused() -> Open311Error:
    return Open311Error(403, [], [FieldError("api_key", "is invalid (not a key of this endpoint)")])


def redacted_form(items: list[tuple[str, str]]) -> str:
    """The submitted form as text, with the api_key hidden (dead letters must not keep keys)."""
    return urlencode([(k, "***" if k == "api_key" else v) for k, v in items])


# ------------------------------------------------------------------ times
def w3c_datetime(name: str, raw: str) -> datetime:
    """A W3C datetime with its zone, as the spec requires; a naive one is refused, and one outside
    the plausible window (before 2000, after 2999)."""
    text = raw.strip()
    if not _W3C.match(text):
        if re.match(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$", text):
            raise Open311Error(400, [f"{name} {text!r} has no time zone; the GeoReport v2 spec requires "
                                     "W3C format with a zone, e.g. 2026-11-23T08:00:00+08:00 or ...Z"])
        raise Open311Error(400, [f"{name} {text!r} is not a W3C datetime (e.g. 2026-11-23T08:00:00+08:00)"])
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise Open311Error(400, [f"{name} {text!r} is not a valid date-time"]) from None
    wrong = outside_window(value)
    if wrong:
        raise Open311Error(400, [f"{name} {wrong}"])
    return value


def iso(value: datetime | None, tz: Any) -> str | None:
    return value.astimezone(tz).isoformat(timespec="seconds") if value else None


# ------------------------------------------------------------------- POST
def _attributes(form: list[tuple[str, str]]) -> tuple[dict[str, list[str]], list[str]]:
    values: dict[str, list[str]] = {}
    malformed = []
    for key, value in form:
        if key.startswith("attribute"):
            m = _ATTRIBUTE.match(key)
            if not m:
                malformed.append(key)
                continue
            values.setdefault(m.group(1), []).append(value)
    return values, malformed


def parse_post(form: list[tuple[str, str]], service: Service, *, now: datetime, tz: Any,
               idempotency_key: str | None = None, key_label: str = "") -> NewRequest:
    """Validate a POST's fields (api_key already checked) → NewRequest, or Rejected."""
    draft = Draft(CHANNEL, tz)
    first: dict[str, str] = {}
    for k, v in form:
        first.setdefault(k, v)
    point = draft.point(first.get("lat"), first.get("long"), "wgs84", lat_name="lat", lon_name="long")
    address = draft.text("address_string", first.get("address_string"), max_len=MAX_ADDRESS)
    address_id = draft.text("address_id", first.get("address_id"), max_len=64)
    located = point is not None or address or address_id
    if not located and not any(e.field in ("lat", "long") for e in draft.errors):
        draft.error("lat", "a location is required: lat and long, or address_string, or address_id")
    description = draft.text("description", first.get("description"), max_len=MAX_DESCRIPTION)
    email = draft.email("email", first.get("email"))
    phone = draft.phone("phone", first.get("phone"))
    first_name = draft.text("first_name", first.get("first_name"), max_len=MAX_NAME)
    last_name = draft.text("last_name", first.get("last_name"), max_len=MAX_NAME)
    media_url = draft.text("media_url", first.get("media_url"), max_len=2000)
    if media_url and not _URL.match(media_url):
        draft.error("media_url", f"{media_url[:80]!r} is not an http(s) URL")
        media_url = None
    for name in ("device_id", "account_id"):
        draft.text(name, first.get(name), max_len=100)

    given, malformed = _attributes(form)
    for key in malformed:
        draft.error(key, "is not of the form attribute[code]")
    known = {a.code: a for a in service.attributes}
    for code in given:
        if code not in known:
            draft.error(f"attribute[{code}]", f"is not an attribute of service {service.code}; "
                                              f"known: {', '.join(known) or 'none'}")
    clean: dict[str, Any] = {}
    for attr in service.attributes:
        raw_values = [v for v in given.get(attr.code, []) if v.strip()]
        field_name = f"attribute[{attr.code}]"
        if not raw_values:
            if attr.required:
                draft.error(field_name, f"is required ({attr.description})")
            continue
        if attr.datatype == "multivaluelist":
            keys = [k.strip() for v in raw_values for k in v.split(",") if k.strip()]
            bad = [k for k in keys if k not in attr.values]
            if bad:
                draft.error(field_name, f"{bad} not among: {', '.join(attr.values)}")
            else:
                clean[attr.code] = keys
            continue
        if len(raw_values) > 1:
            draft.error(field_name, "takes one value")
            continue
        value = raw_values[0].strip()
        if attr.datatype == "singlevaluelist":
            if value not in attr.values:
                draft.error(field_name, f"{value!r} is not one of: {', '.join(attr.values)}")
            else:
                clean[attr.code] = value
        elif attr.datatype == "number":
            number = draft.number(field_name, value, low=-1e12, high=1e12)
            if number is not None:
                clean[attr.code] = number
        elif attr.datatype == "datetime":
            try:
                clean[attr.code] = w3c_datetime(field_name, value).isoformat()
            except Open311Error as exc:
                draft.error(field_name, exc.descriptions[0].split(" ", 1)[1])
        else:
            limit = 200 if attr.datatype == "string" else 2000
            text = draft.text(field_name, value, max_len=limit)
            if text is not None:
                clean[attr.code] = text

    kind = clean.pop("kind", None) or service.default_kind
    lines = [description] if description else []
    for attr in service.attributes:
        if attr.code in clean and attr.code != "kind":
            v = clean[attr.code]
            shown = "、".join(str(attr.values.get(x, x)) for x in v) if isinstance(v, list) else attr.values.get(str(v), v)
            lines.append(f"【{attr.description}】{shown}")
    if media_url:
        lines.append(f"【图片】{media_url}")
    content = "\n".join(str(line) for line in lines) or service.name
    citizen = ((last_name or "") + (first_name or "")) or None
    fields_for_id = [(k, v) for k, v in sorted(form) if k != "api_key"]
    if idempotency_key:
        ext = "o311-k-" + hashlib.sha256(f"{key_label}\n{idempotency_key}".encode()).hexdigest()[:40]
    else:
        day = now.astimezone(tz).strftime("%Y%m%d")
        ext = "o311-" + day + "-" + hashlib.sha256(
            (key_label + "\n" + urlencode(fields_for_id)).encode("utf-8")).hexdigest()[:40]
    draft.external_id = ext
    if address is None and address_id:
        address = f"地址编号 {address_id}"
    # What the submitter gave is all a public GET shows of the request (views), whatever it joins.
    raw = {"service_code": service.code, "attributes": clean, "description": description, "email": email,
           "address_string": address, "lat": point[0] if point else None, "long": point[1] if point else None,
           "media_url": media_url, "address_id": address_id, "device_id": first.get("device_id"),
           "account_id": first.get("account_id"), "api_key": key_label}
    return draft.build(received_at=now, title=f"{service.name}：{(description or service.name)[:40]}",
                       content=content, kind=kind, topic=service.code, address=address, point=point,
                       citizen_name=citizen, citizen_phone=phone, raw=raw)


# -------------------------------------------------------------------- GET
def open311_ticket_ids(session: Session) -> Any:
    """A select of ids of tickets an Open311 client may see: made or joined by Open311 records."""
    joined = select(IntakeRecord.ticket_id).where(IntakeRecord.channel == CHANNEL)
    return or_(Ticket.channel == CHANNEL, Ticket.id.in_(joined))


def find(session: Session, number: str) -> Ticket | None:
    if not could_be(number, Ticket.__table__.c.number):
        return None
    return session.scalar(select(Ticket).where(Ticket.number == number, open311_ticket_ids(session)))


def effective(session: Session, ticket: Ticket) -> Ticket:
    """The ticket that carries on for ``ticket``: itself, or the one it was merged into."""
    seen = 0
    while ticket.status == "merged" and ticket.merged_into_id and seen < 10:
        target = session.get(Ticket, ticket.merged_into_id)
        if target is None:
            break
        ticket, seen = target, seen + 1
    return ticket


def _rounded(value: Any, decimals: int) -> float | None:
    return round(float(value), decimals) if isinstance(value, (int, float)) else None


def _given(ticket: Ticket, payload: dict[str, Any]) -> dict[str, Any]:
    """What the Open311 submitter gave: the ticket's own text and place when their request made
    it, else only their record's (a ticket another channel made is that caller's: their address,
    their words, their exact place are not the public's)."""
    if ticket.channel == CHANNEL:
        return {"description": ticket.content, "address": ticket.address, "lat": ticket.lat, "long": ticket.lon}
    address = payload.get("address_string") or (f"地址编号 {payload['address_id']}" if payload.get("address_id")
                                                else None)
    return {"description": payload.get("description") or "", "address": address, "lat": payload.get("lat"),
            "long": payload.get("long")}


def views(session: Session, tickets: list[Ticket], tz: Any, decimals: int = 3) -> list[dict[str, Any]]:
    """The spec's request fields for each ticket (several queries in all, not per ticket): what
    the Open311 submitter gave, phone and ID-card numbers masked, the place rounded to
    ``decimals`` (settings.open311_coordinate_decimals), and the platform's own status text."""
    if not tickets:
        return []
    carried = {t.id: effective(session, t) for t in tickets}
    all_ids = {t.id for t in tickets} | {e.id for e in carried.values()}
    updated = dict(session.execute(select(TicketEvent.ticket_id, func.max(TicketEvent.at))
                                   .where(TicketEvent.ticket_id.in_(all_ids)).group_by(TicketEvent.ticket_id)).all())
    unit_ids = {e.unit_id for e in carried.values() if e.unit_id}
    units = {u.id: u for u in session.scalars(select(Unit).where(Unit.id.in_(unit_ids)))} if unit_ids else {}
    payloads: dict[int, dict[str, Any]] = {}
    for rec in session.scalars(select(IntakeRecord).where(IntakeRecord.channel == CHANNEL,
                                                          IntakeRecord.ticket_id.in_(all_ids))
                               .order_by(IntakeRecord.id)):
        payloads.setdefault(rec.ticket_id, rec.payload if isinstance(rec.payload, dict) else {})
    out = []
    for t in tickets:
        e = carried[t.id]
        unit = units.get(e.unit_id) if e.unit_id else None
        payload = payloads.get(t.id) or payloads.get(e.id) or {}
        closed = e.status == "closed"
        note = STATUSES.get(e.status, e.status)
        if unit is not None and not closed:
            note = f"{note}：{unit.name}办理中" if e.status not in ("received", "returned") else note
        if t.id != e.id:
            note = f"已与工单{e.number}合并办理；{note}"
        given = _given(t, payload)
        out.append({
            "service_request_id": t.number,
            "status": "closed" if closed else "open",
            "status_notes": note,
            "service_name": TOPICS.get(t.topic, t.topic),
            "service_code": t.topic,
            "description": redacted(given["description"]),
            "agency_responsible": unit.name if unit else None,
            "service_notice": None,
            "requested_datetime": iso(t.received_at, tz),
            "updated_datetime": iso(max(filter(None, (updated.get(t.id), updated.get(e.id)))), tz)
            if (updated.get(t.id) or updated.get(e.id)) else iso(t.received_at, tz),
            "expected_datetime": iso(e.resolve_due_at, tz),
            "address": redacted(given["address"]) or None,
            "address_id": payload.get("address_id"),
            "zipcode": None,
            "lat": _rounded(given["lat"], decimals),
            "long": _rounded(given["long"], decimals),
            "media_url": payload.get("media_url"),
        })
    return out


def search(session: Session, args: dict[str, str], now: datetime, tz: Any) -> list[Ticket]:
    """GET requests: the spec's filters, window (90 days) and limit (1000), newest first."""
    visible = open311_ticket_ids(session)
    ids = args.get("service_request_id")
    if ids:  # "this overrides all other arguments"
        column = Ticket.__table__.c.number  # a number no ticket could have (a NUL, too long) names nothing
        numbers = [n.strip() for n in ids.split(",") if n.strip() and could_be(n.strip(), column)][:MAX_RESULTS]
        found = session.scalars(select(Ticket).where(Ticket.number.in_(numbers), visible)).all()
        by_number = {t.number: t for t in found}
        return [by_number[n] for n in numbers if n in by_number]
    query = select(Ticket).where(visible)
    codes = [c.strip() for c in (args.get("service_code") or "").split(",") if c.strip()]
    if codes:
        unknown = [c for c in codes if c not in TOPICS]
        if unknown:
            raise Open311Error(404, [f"service_code {', '.join(unknown)} not found"])
        query = query.where(Ticket.topic.in_(codes))
    start = w3c_datetime("start_date", args["start_date"]) if args.get("start_date") else None
    end = w3c_datetime("end_date", args["end_date"]) if args.get("end_date") else None
    if start and end and start > end:
        raise Open311Error(400, ["start_date is after end_date"])
    if start and end and end - start > MAX_WINDOW:
        raise Open311Error(400, ["start_date to end_date may not span more than 90 days"])
    if start is None and end is None:
        end, start = now, now - MAX_WINDOW
    elif start is None:
        assert end is not None
        start = end - MAX_WINDOW
    elif end is None:
        end = min(start + MAX_WINDOW, max(now, start))
    query = query.where(Ticket.received_at >= start, Ticket.received_at <= end)
    statuses = {s.strip() for s in (args.get("status") or "").split(",") if s.strip()}
    bad = statuses - {"open", "closed"}
    if bad:
        raise Open311Error(400, [f"status {', '.join(sorted(bad))} is not open or closed"])
    want: bool | None = None  # True: closed only; False: open only
    if statuses == {"closed"}:
        want = True
        query = query.where(Ticket.status.in_(("closed", "merged")))
    elif statuses == {"open"}:
        want = False
        query = query.where(Ticket.status != "closed")
    query = query.order_by(Ticket.received_at.desc(), Ticket.id.desc())
    if want is None:
        return list(session.scalars(query.limit(MAX_RESULTS)))
    tickets: list[Ticket] = []
    for t in session.scalars(query):  # merged tickets take their target's status
        if (effective(session, t).status == "closed") == want:
            tickets.append(t)
            if len(tickets) >= MAX_RESULTS:
                break
    return tickets[:MAX_RESULTS]


def is_open(status: str) -> bool:
    return status in OPEN_STATUSES


# -------------------------------------------------------------------- XML
def to_xml(root: str, item: str | None, data: Any) -> bytes:
    """The spec's XML: <root><item>…</item>…</root> for lists, <root>…</root> for a dict."""
    top = ET.Element(root)
    if isinstance(data, list):
        for entry in data:
            _fill(ET.SubElement(top, item or "item"), entry)
    else:
        _fill(top, data)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(top, encoding="utf-8", xml_declaration=False)


_LIST_ITEMS = {"attributes": "attribute", "values": "value", "endpoints": "endpoint", "formats": "format"}


def _fill(element: ET.Element, value: Any) -> None:
    if isinstance(value, dict):
        for key, sub in value.items():
            child = ET.SubElement(element, key)
            if isinstance(sub, list):
                for entry in sub:
                    _fill(ET.SubElement(child, _LIST_ITEMS.get(key, "item")), entry)
            else:
                _fill(child, sub)
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    elif value is None:
        element.text = None
    else:
        element.text = str(value)


def errors_body(err: Open311Error) -> list[dict[str, Any]]:
    return [{"code": err.code, "description": d} for d in err.descriptions]


def field_errors(errors: list[FieldError]) -> list[str]:
    return [f"{e.field}: {e.message}" for e in errors]


def reject_from(exc: Rejected) -> Open311Error:
    return Open311Error(400, field_errors(exc.errors), exc.errors)
