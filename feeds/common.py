"""What every channel adapter shares: field checks, places, times, and handing in.

A channel adapter turns what its source sent into a :class:`Draft` through the
checks here, each of which records a :class:`~feeds.dead_letters.FieldError`
naming the field and the reason instead of raising at the first problem, so
the sender learns everything wrong with a record at once. ``Draft.build``
then gives a :class:`tickets.intake.NewRequest`, or raises
:class:`~feeds.dead_letters.Rejected` with all the errors.

Places: coordinates are converted to WGS84 (``geo.coords``) on the way in and
must lie in the deployment's area; the district comes from the point
(``geo.districts.district_at``) or, without a point, from a district name in
the address or text.
"""
from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session

from feeds.dead_letters import FieldError, Rejected, reject
from feeds.topics import kind_of, topic_of
from geo import coords
from geo.districts import JIAXIANG_FILE, district_at, load_districts
from tickets import services
from tickets.intake import NewRequest, outside_window
from tickets.models import NOT_TEXT, Ticket, utcnow
from tickets.uow import UnitOfWork
from tickets.vocabulary import CHANNELS, TOPICS

# Field limits (characters). Ticket columns: title 200, address 200, name 64,
# phone 32; content is Text, capped here so one record cannot be a megabyte.
# 12345 work orders and petition letters run long (a real one: 6,999 characters):
# the 12345 push, the mailbox (form and .eml), the front desk and the 110 export
# take 20,000; Open311 keeps its spec's 4,000 (feeds/open311.py). The import's
# limit is its mapping's (limits.max_text, the same default).
MAX_TITLE = 200
MAX_CONTENT = 20_000
MAX_ADDRESS = 200
MAX_NAME = 64
MAX_PHONE = 32
MAX_EXTERNAL_ID = 64
MAX_EMAIL = 254

log = logging.getLogger(__name__)
_ENFORCEMENT_TOPICS = frozenset({"theft", "fraud", "dispute"})
_PHONE = re.compile(r"^\+?[0-9][0-9\- ]{4,30}$")
_PHONE_IN_TEXT = re.compile(r"(?<!\d)(1[3-9]\d{9})(?!\d)")
# Control characters a text field loses on the way in: C0 but tab, line feed and carriage return,
# and DEL. What no text column holds (tickets.models.NOT_TEXT: a NUL, a lone surrogate) refuses
# the field instead (Draft.text).
_CONTROLS = re.compile(r"[\x01-\x08\x0b\x0c\x0e-\x1f\x7f]")
_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
_BARE_DATE = re.compile(r"(\d{4})[-/](\d{1,2})[-/](\d{1,2})")
# How nearly every source writes a time, read without ``strptime`` (a tenth of its cost; the
# same answer, a day that does not exist refused alike).
_PADDED_FORMAT = "%Y-%m-%d %H:%M:%S"
_PADDED = re.compile(r"(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})")
_LOCAL_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M",
                  "%Y%m%d%H%M%S")


def sla_class_for(kind: str, topic: str) -> str:
    """咨询 is the consultation class; theft, fraud, disputes are enforcement; the rest service."""
    if kind == "consultation":
        return "consultation"
    return "enforcement" if topic in _ENFORCEMENT_TOPICS else "service"


# ------------------------------------------------------------------ places
@lru_cache(maxsize=1)
def _areas() -> tuple[dict[str, Any], ...]:
    """The deployment's districts: Jinan's twelve and Jiaxiang county."""
    out: list[dict[str, Any]] = [load_districts()]
    if JIAXIANG_FILE.exists():
        out.append(load_districts(JIAXIANG_FILE))
    return tuple(out)


def district_of_point(lat: float, lon: float) -> str | None:
    for districts in _areas():
        name = district_at(lat, lon, districts)
        if name:
            return name
    return None


@lru_cache(maxsize=1)
def _district_names() -> tuple[str, ...]:
    names = [n for districts in _areas() for n in districts]
    return tuple(sorted(names, key=len, reverse=True))


def district_of_text(*texts: str | None) -> str | None:
    """The first full district name (历下区, 嘉祥县 …) found in the texts, in order."""
    for text in texts:
        if not text:
            continue
        for name in _district_names():
            if name in text:
                return name
    return None


def area_label() -> str:
    return "、".join(n for districts in _areas() for n in districts)


def phone_in_text(text: str | None) -> str | None:
    m = _PHONE_IN_TEXT.search(text or "")
    return m.group(1) if m else None


# ------------------------------------------------------------------- draft
@dataclass
class Draft:
    """A record being checked; errors pile up, ``build`` decides."""

    channel: str
    tz: ZoneInfo
    external_id: str | None = None
    errors: list[FieldError] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)
    now: datetime | None = None  # what a time of receipt may not be later than (five minutes' slack); None: the clock

    def error(self, field_name: str, message: str) -> None:
        self.errors.append(FieldError(field_name, message))

    # -- checks: each returns the clean value, or None after recording why
    def text(self, name: str, raw: Any, *, required: bool = False, max_len: int = MAX_CONTENT,
             label: str | None = None) -> str | None:
        label = label or name
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            if required:
                self.error(label, "is required and missing or empty")
            return None
        if isinstance(raw, bool) or not isinstance(raw, (str, int, float)):
            self.error(label, f"must be text, got {type(raw).__name__}")
            return None
        value = str(raw)
        wrong = NOT_TEXT.search(value)
        if wrong:
            what = "NUL" if wrong.group() == "\x00" else "a lone surrogate"
            self.error(label, f"contains U+{ord(wrong.group()):04X} ({what}): not text, refused")
            return None
        value = _CONTROLS.sub("", value).strip()
        if len(value) > max_len:
            self.error(label, f"is {len(value)} characters long; at most {max_len} are accepted")
            return None
        return value

    def phone(self, name: str, raw: Any, *, required: bool = False) -> str | None:
        value = self.text(name, raw, required=required, max_len=MAX_PHONE)
        if value is None:
            return None
        if not _PHONE.match(value):
            self.error(name, f"{value!r} is not a phone number (digits, optional +, - or spaces)")
            return None
        return re.sub(r"[\s\-]", "", value)

    def email(self, name: str, raw: Any) -> str | None:
        value = self.text(name, raw, max_len=MAX_EMAIL)
        if value is not None and not _EMAIL.match(value):
            self.error(name, f"{value!r} is not an e-mail address")
            return None
        return value

    def number(self, name: str, raw: Any, *, low: float, high: float) -> float | None:
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            return None
        if isinstance(raw, bool):
            self.error(name, "must be a number, got a boolean")
            return None
        try:
            value = float(raw)
        except (TypeError, ValueError):
            self.error(name, f"must be a number, got {raw!r}")
            return None
        if not math.isfinite(value):
            self.error(name, f"must be a finite number, got {raw!r}")
            return None
        if not low <= value <= high:
            self.error(name, f"{value:g} is out of range [{low:g}, {high:g}]")
            return None
        return value

    def point(self, lat_raw: Any, lon_raw: Any, system: str = "wgs84", *,
              lat_name: str = "lat", lon_name: str = "long") -> tuple[float, float] | None:
        """A point in ``system`` → WGS84, refused outside the deployment's districts."""
        given_lat = lat_raw is not None and str(lat_raw).strip() != ""
        given_lon = lon_raw is not None and str(lon_raw).strip() != ""
        if not given_lat and not given_lon:
            return None
        if given_lat != given_lon:
            missing = lon_name if given_lat else lat_name
            self.error(missing, f"{lat_name} and {lon_name} come together; {missing} is missing")
            return None
        before = len(self.errors)
        lat = self.number(lat_name, lat_raw, low=-90, high=90)
        lon = self.number(lon_name, lon_raw, low=-180, high=180)
        if len(self.errors) > before or lat is None or lon is None:
            return None
        if lat == 0 and lon == 0:
            self.error(lat_name, "(0, 0) is not a real location (an unset GPS fix)")
            return None
        try:
            wlat, wlon = coords.to_wgs84(lat, lon, system)
        except ValueError as exc:
            self.error(lat_name, str(exc))
            return None
        district = district_of_point(wlat, wlon)
        if district is None:
            hint = " (latitude and longitude swapped?)" if district_of_point(wlon, wlat) else ""
            self.error(lat_name, f"({lat:g}, {lon:g}) in {system} lies outside the area served "
                                 f"({area_label()}){hint}")
            return None
        self.values["district"] = district
        return wlat, wlon

    def local_time(self, name: str, raw: Any, *, required: bool = True, allow_date: bool = False,
                   end_of_day: bool = False, formats: tuple[str, ...] | list[str] | None = None,
                   received: bool = True) -> datetime | None:
        """A source that never sends a zone: ``yyyy-MM-dd HH:mm:ss`` (or ISO) read in ``tz``.

        An explicit offset, when a source does send one, is honoured. A bare date is
        the start of the day, or with ``end_of_day`` its last second (a deadline). A time
        outside the plausible window (``tickets.intake.outside_window``: a time of receipt
        unless ``received`` is False) is refused.
        """
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            if required:
                self.error(name, "is required and missing or empty")
            return None
        if not isinstance(raw, str):
            self.error(name, f"must be a date-time string like 2024-06-12 09:30:00, got {type(raw).__name__}")
            return None
        text = raw.strip()
        value: datetime | None = None
        bare_date = _BARE_DATE.fullmatch(text)
        if bare_date:
            if allow_date:
                try:
                    day = date(int(bare_date[1]), int(bare_date[2]), int(bare_date[3]))
                    value = datetime.combine(day, time(23, 59, 59) if end_of_day else time(0, 0))
                except ValueError:
                    value = None
        else:
            for fmt in formats or _LOCAL_FORMATS:
                try:
                    padded = _PADDED.fullmatch(text) if fmt == _PADDED_FORMAT else None
                    if padded:
                        year, month, day_, hour, minute, second = map(int, padded.groups())
                        value = datetime(year, month, day_, hour, minute, second)
                    else:
                        value = datetime.strptime(text, fmt)
                    break
                except ValueError:
                    continue
            if value is None:
                try:
                    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
                except ValueError:
                    value = None
        if value is None:
            # The formats as the source's configuration writes them (%Y/%m/%d %H:%M:%S stays that).
            expected = " or ".join(f"'{f}'" for f in formats) + " or ISO 8601" if formats else "yyyy-MM-dd HH:mm:ss"
            expected += " or a date yyyy-MM-dd" if allow_date else ""
            self.error(name, f"{text!r} is not a date-time (expected {expected})")
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=self.tz)
        return self.plausible(name, value, received=received)

    def plausible(self, name: str, value: datetime, *, received: bool = True) -> datetime | None:
        """``value`` if inside the plausible window (``tickets.intake.outside_window``; a time of
        receipt is at most five minutes after ``now``), else None after recording why."""
        wrong = outside_window(value, (self.now or utcnow()) if received else None)
        if wrong:
            self.error(name, wrong)
            return None
        return value

    def choice(self, name: str, raw: Any, allowed: dict[str, str], *, required: bool = False) -> str | None:
        """One of ``allowed`` (code -> label); the label (e.g. 投诉) is accepted for the code."""
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            if required:
                self.error(name, "is required and missing or empty")
            return None
        text = str(raw).strip()
        if text in allowed:
            return text
        by_label = {label: code for code, label in allowed.items()}
        if text in by_label:
            return by_label[text]
        self.error(name, f"{text!r} is not one of: " + ", ".join(f"{c} ({l})" for c, l in allowed.items()))
        return None

    # -- assembling
    def build(self, *, received_at: datetime | None, title: str | None, content: str | None,
              kind: str | None = None, topic: str | None = None, address: str | None = None,
              point: tuple[float, float] | None = None, citizen_name: str | None = None,
              citizen_phone: str | None = None, default_kind: str = "help",
              raw: dict[str, Any] | None = None, due_at: datetime | None = None,
              calendar: str | None = None) -> NewRequest:
        if self.channel not in CHANNELS:
            self.error("channel", f"{self.channel!r} is not a channel")
        ext = (self.external_id or "").strip()
        if not ext and not self.errors:  # else the id's own field was already named
            self.error("external_id", "is required and missing or empty")
        elif len(ext) > MAX_EXTERNAL_ID:
            self.error("external_id", f"is {len(ext)} characters; at most {MAX_EXTERNAL_ID}")
        if self.errors:
            raise Rejected(self.errors, external_id=ext or None)
        assert received_at is not None and content is not None
        text = f"{title or ''} {content}"
        topic = topic or topic_of(text)
        kind = kind or kind_of(text, default_kind)
        if topic not in TOPICS:
            topic = "other"
        district = self.values.get("district") if point else None
        if district is None:
            district = district_of_text(address, title, content)
        return NewRequest(
            channel=self.channel,
            external_id=ext,
            received_at=received_at,
            kind=kind,
            topic=topic,
            sla_class=sla_class_for(kind, topic),
            title=(title or content[:40]).strip()[:MAX_TITLE],
            content=content,
            district=district,
            address=address,
            lat=point[0] if point else None,
            lon=point[1] if point else None,
            citizen_name=citizen_name,
            citizen_phone=citizen_phone,
            raw=raw or {},
            due_at=due_at,
            calendar=calendar,
        )


# ------------------------------------------------------------- handing in
@dataclass(frozen=True)
class Outcome:
    """What became of one record: a ticket (a new intake record, or one already
    there for the same external id), or a dead letter with the reasons."""

    status: str  # accepted (a new ticket) | merged (into an open ticket) | duplicate | rejected
    ticket: Ticket | None = None  # loaded by ``hand_in``; a batch (``hand_in_many``) gives id and number
    dead_letter_id: int | None = None
    errors: tuple[FieldError, ...] = ()
    external_id: str | None = None
    ticket_id: int | None = None
    number: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"status": self.status, "external_id": self.external_id}
        if self.number is not None:
            out["ticket_number"] = self.number
        if self.dead_letter_id is not None:
            out["dead_letter_id"] = self.dead_letter_id
            out["errors"] = [e.as_dict() for e in self.errors]
        return out


def hand_in_many(uow: UnitOfWork, requests: list[NewRequest], now: datetime) -> list[Outcome]:
    """``services.receive``: one outcome per request (accepted, merged or duplicate)."""
    return [Outcome(r.status, external_id=q.external_id, ticket_id=r.ticket_id, number=r.number)
            for q, r in zip(requests, services.receive(uow, requests, now=now))]


def refused_by_database(exc: BaseException) -> bool:
    """Did the database (or the way to it) refuse one record's values, a record that passed every
    check (text it cannot encode, a value it will not store)? Then it is that record's fault. A
    lost connection or a lock wait is not (:class:`~sqlalchemy.exc.OperationalError`)."""
    cause = getattr(exc, "orig", None) or exc
    return isinstance(exc, (DataError, IntegrityError)) or isinstance(cause, (UnicodeError, orjson.JSONEncodeError))


def hand_in_each(uow: UnitOfWork, requests: list[NewRequest], now: datetime,
                 refused: Callable[[int, Exception], Outcome]) -> list[Outcome]:
    """:func:`hand_in_many`, the batch in bulk on a savepoint; if the database refuses one of its
    records (:func:`refused_by_database`), each request again on a savepoint of its own, so that
    one bad record costs only itself: it becomes ``refused(position, error)`` (a dead letter)."""
    try:
        with uow.begin_nested():
            return hand_in_many(uow, requests, now)
    except Exception as exc:
        if not refused_by_database(exc):
            raise
    out: list[Outcome] = []
    for i, request in enumerate(requests):
        try:
            with uow.begin_nested():
                out.extend(hand_in_many(uow, [request], now))
        except Exception as exc:
            if not refused_by_database(exc):
                raise
            log.warning("%s %s refused by the database: %s", request.channel, request.external_id, exc)
            out.append(refused(i, exc))
    return out


def hand_in(session: UnitOfWork, request: NewRequest, now: datetime) -> Outcome:
    """:func:`hand_in_many` for one request, with its ticket loaded."""
    outcome = hand_in_many(session, [request], now)[0]
    return replace(outcome, ticket=session.get(Ticket, outcome.ticket_id))


def refuse(session: Session, channel: str, source: str, payload: Any, exc: Rejected,
           external_id: str | None = None) -> Outcome:
    """Store the refused record as a dead letter (in ``session``) and say why."""
    letter = reject(session, channel, source, payload, exc.errors, external_id=external_id or exc.external_id)
    return Outcome("rejected", dead_letter_id=letter.id, errors=tuple(exc.errors),
                   external_id=external_id or exc.external_id)
