"""De-duplication across channels: one problem, one ticket (docs/DEDUP.md).

The same problem often reaches the bureau on several channels: a citizen
calls 12345, writes to the director's mailbox the next morning, a neighbour
walks into the station. Each arrival is an intake record; after
de-duplication they should hang on one ticket, and every channel that
reported it still gets its reply (:func:`reply_targets`).

Signals, compared between a new record and each open ticket received within
``window_hours`` of it (:func:`compare`):

- the same phone number (normalised: digits, no +86);
- a nearby place: great-circle distance under ``near_m`` (300 m); places
  more than ``far_m`` apart count *against* a match;
- similar Chinese text: both texts normalised (NFKC, so full-width letters,
  digits and punctuation become half-width; punctuation, spaces and the
  boilerplate every message carries — 您好, 反映, 请尽快处理 … — removed),
  cut into character bigrams; the similarity is the larger of their Jaccard
  index and 0.8 × their overlap coefficient (a one-line hotline summary
  inside a long mailbox letter still scores);
- the same named place, when a record has no point: a road, estate, square,
  school, market … both texts name (:mod:`tickets.placenames`); both naming
  places and none in common counts *against* a match;
- close in time, and the same topic.

The same topic is never enough on its own (issue 15: two venues in two
districts that share only the topic "other" and the 12345 operators' wording).
Two outcomes. **Certain** (merged at intake without asking): the same phone
and the same matter (similar text, or the same place and topic); or the same
place (within ``near_m``, or the same named place when a record has no point),
topic and clearly similar text. **Likely** (a :class:`DuplicateSuggestion`
for the dispatcher, with the reasons in Chinese): the same phone and the same
topic or similar text; the same place (within ``near_m`` with a few words in
common, or the same named place) and topic; without a place either way,
the same topic and similar text (a higher bar for the catch-all topic
"other"). A certain match between two records of the *same* channel is only
suggested: a source that numbers its own records sends a second record on
purpose (a 12345 催办 is a new work order about an old one), so a person
confirms it; so is one between a request for help and a report of another
kind (the injured cyclist and the missing manhole cover).

Thresholds were set on the labelled pairs in ``tests/fixtures/dedup_pairs.yaml``;
their precision and recall are in docs/DEDUP.md and held by tests.

Candidate search never scans the tickets table: :class:`CandidateIndex` keeps
the open tickets of the hours around the record in memory, by phone, by
(H3 cell, topic) (resolution 9; the cell and two rings around it cover every
point within 300 m) and by (district, topic) for records without a point; it loads an hour
of tickets from the database (``ix_tickets_received_at``) the first time a
record needs it and picks up other processes' new tickets by id. The index
only narrows the search: the few candidates it returns are read back from
the database and judged on what is stored there, so a stale or rolled-back
entry can make the search miss a duplicate but never merge a wrong one.
"""
from __future__ import annotations

import math
import re
import threading
import unicodedata
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

import h3.api.basic_int as h3  # int cells: no string conversion in the hot path
from sqlalchemy import Engine, bindparam, func, select
from sqlalchemy.orm import Session

from geo.measure import distance_m
from tickets import placenames, sms
from tickets.models import IntakeRecord, Ticket
from tickets.vocabulary import CHANNELS, OPEN_STATUSES, TOPICS

MODES = ("auto", "suggest", "off")
# Topics where each citizen's request is their own matter: different callers are
# different requests, however alike their words (see ``compare``).
PERSONAL_TOPICS = frozenset({"household", "exit_entry", "vehicle", "fraud", "theft", "lost_property"})
# The catch-all topic (what the topic model answers when unsure): sharing it says nothing.
GENERIC_TOPICS = frozenset({"other"})
CERTAIN, LIKELY, NONE = "certain", "likely", "none"


@dataclass(frozen=True)
class Params:
    """Thresholds and switches (``DomainConfig.dedup``; the mode from ``settings.dedup_mode``)."""

    mode: str = "auto"  # auto: merge certain matches; suggest: only suggest; off
    window_hours: float = 72.0
    near_m: float = 300.0
    far_m: float = 2000.0
    # Text similarity a certain match needs, by the other evidence it has:
    certain_phone_sim: float = 0.20  # the same phone
    certain_place_sim: float = 0.25  # the same place (within near_m) and topic
    certain_text_sim: float = 0.35  # no point to compare: the same named place and topic
    # Text similarity that alone (with the topic, no place either way) makes a suggestion;
    # for the catch-all topic "other" (GENERIC_TOPICS) a higher one. Chosen on the tuning
    # pairs (docs/DEDUP.md): the lowest at which what they add is right four times in five.
    likely_sim: float = 0.20
    likely_sim_generic: float = 0.35
    # The same place (within near_m) and topic make a suggestion when the words have this
    # much in common, or when the shorter text has fewer bigrams than ``terse_bigrams``
    # (报警人称楼下太吵: too few words to count against a match).
    near_sim: float = 0.10
    terse_bigrams: int = 16
    # A citizen's own matter from another phone: only nearly the same words are suggested.
    personal_sim: float = 0.80
    # Certain matches within one channel merge automatically only if True.
    same_channel_auto: bool = False
    # Certain matches between a request for help and another kind, from another phone,
    # merge automatically only if True.
    help_auto: bool = False
    max_suggestions: int = 3
    # H3 resolution 9 (edge ≈ 174 m): a cell and two rings around it hold every point
    # within 300 m (tests/unit/test_dedup.py checks it), about 2 km² to search.
    h3_resolution: int = 9
    h3_rings: int = 2

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"dedup mode must be one of {MODES}, not {self.mode!r}")


# ------------------------------------------------------------------- text
# Phrases nearly every message carries; they say nothing about which problem it is.
BOILERPLATE = tuple(sorted({
    "您好", "你好", "尊敬的领导", "尊敬的", "领导", "请问", "反映", "反应", "投诉", "举报", "咨询", "求助", "建议",
    "希望", "请求", "要求", "恳请", "尽快", "尽早", "及时", "处理", "解决", "相关部门", "有关部门", "相关单位",
    "政府", "警察", "民警", "派出所", "公安", "管一管", "管管", "帮忙", "帮助", "谢谢", "感谢", "麻烦", "一下",
    "市民", "本人", "我是", "我们", "我家", "目前", "现在", "问题", "情况", "严重", "非常", "特别", "一直",
    "已经", "多次", "没有", "无人", "给予", "重视", "落实", "核实", "调查", "查处", "请", "望", "的", "了",
}, key=len, reverse=True))
_BOILERPLATE_RE = re.compile("|".join(map(re.escape, BOILERPLATE)))


def normalise(text: str | None) -> str:
    """Text as compared: NFKC (full-width → half-width), lower case, no punctuation,
    spaces or symbols, no boilerplate phrases."""
    text = unicodedata.normalize("NFKC", text or "").lower()
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] in "LN")
    return _BOILERPLATE_RE.sub("", text)


@lru_cache(maxsize=65536)
def shingles(text: str) -> frozenset[str]:
    """Character bigrams of the normalised text (a one-character text: itself)."""
    norm = normalise(text)
    if len(norm) < 2:
        return frozenset([norm]) if norm else frozenset()
    return frozenset(norm[i:i + 2] for i in range(len(norm) - 1))


def similarity(a: str, b: str) -> float:
    """max(Jaccard, 0.8 × overlap coefficient) of the bigram sets, 0–1."""
    sa, sb = shingles(a), shingles(b)
    if not sa or not sb:
        return 0.0
    common = len(sa & sb)
    if not common:
        return 0.0
    jaccard = common / (len(sa) + len(sb) - common)
    overlap = common / min(len(sa), len(sb))
    return max(jaccard, 0.8 * overlap)


def normalise_phone(phone: str | None) -> str:
    """``sms.normalise_phone``; "" when too short to mean anything."""
    digits = sms.normalise_phone(phone)
    return digits if len(digits) >= 7 else ""


def _mask(phone: str) -> str:
    return f"{phone[:3]}****{phone[-4:]}" if len(phone) >= 7 else "****"


# ---------------------------------------------------------------- compare
@dataclass(frozen=True)
class Record:
    """What de-duplication knows of a record or a ticket."""

    channel: str
    received_at: datetime
    topic: str
    text: str
    phone: str = ""  # normalised
    kind: str | None = None
    lat: float | None = None
    lon: float | None = None
    district: str | None = None
    ticket_id: int | None = None
    number: str | None = None

    @classmethod
    def of(cls, *, channel: str, received_at: datetime, topic: str, title: str | None, content: str | None,
           phone: str | None = None, kind: str | None = None, lat: float | None = None, lon: float | None = None,
           district: str | None = None, ticket_id: int | None = None, number: str | None = None) -> Record:
        text = f"{title or ''} {content or ''}".strip()
        # In UTC: two instants in one zone with summer time subtract (and compare) as wall
        # clocks in Python, an hour off across the change (a Boston pair 72.9 h apart in
        # November measured 71.9 h and fell inside the window).
        return cls(channel=channel, received_at=received_at.astimezone(UTC), topic=topic, text=text,
                   phone=normalise_phone(phone), kind=kind, lat=lat, lon=lon, district=district,
                   ticket_id=ticket_id, number=number)

    @classmethod
    def of_request(cls, request: Any) -> Record:
        return cls.of(channel=request.channel, received_at=request.received_at, topic=request.topic,
                      title=request.title, content=request.content, phone=request.citizen_phone,
                      kind=request.kind, lat=request.lat, lon=request.lon, district=request.district)

    @property
    def has_point(self) -> bool:
        return self.lat is not None and self.lon is not None


@dataclass(frozen=True)
class Verdict:
    level: str  # certain | likely | none
    score: float
    reasons: tuple[str, ...] = ()
    similarity: float = 0.0
    distance_m: float | None = None
    hours: float = 0.0
    same_phone: bool = False
    same_topic: bool = False

    @property
    def rank(self) -> tuple[int, float]:
        return ({CERTAIN: 2, LIKELY: 1}.get(self.level, 0), self.score)


_NO = Verdict(NONE, 0.0)


def compare(new: Record, old: Record, p: Params | None = None) -> Verdict:
    """Is ``new`` the same problem as ``old``? (Pure: the labelled set tests this.)"""
    p = p or Params()
    hours = abs((new.received_at - old.received_at).total_seconds()) / 3600.0
    if hours > p.window_hours:
        return _NO
    same_phone = bool(new.phone) and new.phone == old.phone
    same_topic = new.topic == old.topic
    if not same_phone and not same_topic:
        return _NO  # every rule below without the phone needs the same topic
    distance = distance_m(new.lat, new.lon, old.lat, old.lon) if new.has_point and old.has_point else None  # type: ignore[arg-type]
    near = distance is not None and distance <= p.near_m
    far = distance is not None and distance > p.far_m
    if not same_phone and distance is not None and not near:
        return _NO  # ... and, with two points, the same place
    sim = similarity(new.text, old.text)
    other_district = bool(new.district and old.district and new.district != old.district)

    # A citizen's own matter (their ID card, their stolen bike, their question) is a
    # separate request for every citizen; a problem *at a place* (noise, a blocked
    # road) is one problem however many people report it.
    personal = bool(PERSONAL_TOPICS & {new.topic, old.topic}) or "consultation" in (new.kind, old.kind)
    shared_places: tuple[str, ...] = ()
    level = NONE
    if same_phone:
        if not far and (sim >= p.certain_phone_sim or (near and same_topic)):
            level = CERTAIN
        elif (not far or sim >= p.certain_phone_sim) and (same_topic or sim >= p.likely_sim):
            level = LIKELY  # the same caller about the same kind of thing: a person looks
    elif personal:
        if same_topic and sim >= p.personal_sim and (near or distance is None) and not other_district:
            level = LIKELY  # the same words about one person's matter, from another number
    elif same_topic and near:
        if sim >= p.certain_place_sim:
            level = CERTAIN
        elif sim >= p.near_sim or min(len(shingles(new.text)), len(shingles(old.text))) < p.terse_bigrams:
            level = LIKELY
    elif same_topic and distance is None and not other_district:
        # No two points to measure: the places the texts name, else the words alone.
        place, shared_places = placenames.relation(new.text, old.text)
        if place == placenames.SHARED:
            level = CERTAIN if sim >= p.certain_text_sim else LIKELY
        elif place == placenames.UNKNOWN and sim >= (
                p.likely_sim_generic if new.topic in GENERIC_TOPICS else p.likely_sim):
            level = LIKELY
    if level == NONE:
        return _NO

    reasons = []
    if same_phone:
        reasons.append(f"同一联系电话（{_mask(new.phone)}）")
    if distance is not None:
        reasons.append(f"地点相距约{distance:.0f}米")
    elif new.district and new.district == old.district:
        reasons.append(f"同在{new.district}")
    if shared_places:
        reasons.append(f"提及同一地点（{'、'.join(shared_places[:3])}）")
    reasons.append(f"内容相似度{sim:.0%}")
    reasons.append(f"相隔{hours:.1f}小时" if hours < 48 else f"相隔{hours / 24:.1f}天")
    if same_topic:
        reasons.append(f"同为“{TOPICS.get(new.topic, new.topic)}”类诉求")
    if level == CERTAIN and new.channel == old.channel and not p.same_channel_auto:
        level = LIKELY
        reasons.append(f"同一渠道（{CHANNELS.get(new.channel, new.channel)}）再次来件，可能是催办，未自动合并")
    if (level == CERTAIN and not same_phone and not p.help_auto
            and (new.kind == "help") != (old.kind == "help")):
        level = LIKELY
        reasons.append("一件为求助、一件不是，需求可能不同，未自动合并")
    # Ranked by the evidence: a named place both texts share counts as half a nearby point.
    near_score = (0.5 if shared_places else 0.0) if distance is None else max(0.0, 1.0 - distance / p.near_m)
    score = round(0.35 * same_phone + 0.35 * sim + 0.2 * near_score + 0.1 * same_topic, 4)
    return Verdict(level, score, tuple(reasons), round(sim, 4), distance, round(hours, 2), same_phone, same_topic)


# ------------------------------------------------------------------ index
@dataclass
class _Entry:
    record: Record
    cell: int | None
    hour: int


def _hour(at: datetime) -> int:
    return int(at.timestamp() // 3600)


@dataclass
class CandidateIndex:
    """Open tickets around a time, by phone, H3 cell and (district, topic); see the module docstring."""

    resolution: int = 9
    rings: int = 2
    entries: dict[int, _Entry] = field(default_factory=dict)
    by_phone: dict[str, set[int]] = field(default_factory=dict)
    by_cell: dict[tuple[int, str], set[int]] = field(default_factory=dict)  # (H3 cell, topic)
    by_area: dict[tuple[str | None, str], set[int]] = field(default_factory=dict)
    by_hour: dict[int, set[int]] = field(default_factory=dict)
    loaded_hours: set[int] = field(default_factory=set)
    max_id: int | None = None
    lock: threading.RLock = field(default_factory=threading.RLock)
    # Hours of tickets kept in memory beyond the window (older ones are dropped).
    keep_hours: int = 24 * 7
    load_ahead_hours: int = 24
    _provisional: int = 0
    _skipped: set[int] = field(default_factory=set)

    def provisional_id(self) -> int:
        """A negative id for a ticket a bulk import has decided on but not inserted yet."""
        with self.lock:
            self._provisional -= 1
            return self._provisional

    def clear(self) -> None:
        with self.lock:
            for d in (self.entries, self.by_phone, self.by_cell, self.by_area, self.by_hour):
                d.clear()
            self.loaded_hours.clear()
            self._skipped.clear()
            self.max_id = None

    # ------------------------------------------------------------ filling
    def add(self, record: Record) -> None:
        """Index one open ticket (``record.ticket_id`` set; negative: not yet in the database)."""
        with self.lock:
            if record.ticket_id not in self.entries:
                self._put(record, self._cell(record))

    def _cell(self, record: Record) -> int | None:
        return h3.latlng_to_cell(record.lat, record.lon, self.resolution) if record.has_point else None

    def _put(self, record: Record, cell: int | None) -> None:
        tid = record.ticket_id
        assert tid is not None
        entry = _Entry(record, cell, _hour(record.received_at))
        self.entries[tid] = entry
        if record.phone:
            self.by_phone.setdefault(record.phone, set()).add(tid)
        if cell is not None:
            self.by_cell.setdefault((cell, record.topic), set()).add(tid)
        else:
            self.by_area.setdefault((record.district, record.topic), set()).add(tid)
        self.by_hour.setdefault(entry.hour, set()).add(tid)

    def discard(self, ticket_id: int) -> None:
        with self.lock:
            entry = self.entries.pop(ticket_id, None)
            if entry is None:
                return
            r = entry.record
            buckets: tuple[tuple[dict[Any, set[int]], Any], ...] = (
                (self.by_phone, r.phone), (self.by_cell, (entry.cell, r.topic)),
                (self.by_area, (r.district, r.topic)), (self.by_hour, entry.hour))
            for bucket, key in buckets:
                ids = bucket.get(key)
                if ids is not None:
                    ids.discard(ticket_id)
                    if not ids:
                        del bucket[key]

    def rekey(self, old_id: int, record: Record) -> None:
        """A provisional entry got its database id (``record``: the same one, with its id)."""
        with self.lock:
            old = self.entries.get(old_id)
            self.discard(old_id)
            if record.ticket_id in self.entries:
                return
            same_place = old is not None and (old.record.lat, old.record.lon) == (record.lat, record.lon)
            self._put(record, old.cell if same_place else self._cell(record))  # type: ignore[union-attr]

    def written_up_to(self, ticket_id: int) -> None:
        """This process wrote tickets up to ``ticket_id`` itself (a bulk import): the delta
        reload need not read them back."""
        with self.lock:
            if self.max_id is not None:
                self.max_id = max(self.max_id, ticket_id)

    def prepare(self, session: Session, at: datetime, window_hours: float, *, delta: bool = True) -> None:
        """Make sure the hours around ``at`` are loaded, and pick up tickets committed since."""
        span = int(math.ceil(window_hours)) + 1
        lo, hi = _hour(at) - span, _hour(at) + span
        with self.lock:
            if self.max_id is None:
                self.max_id = session.scalar(select(func.max(Ticket.id))) or 0
            missing = [h for h in range(lo, hi + 1) if h not in self.loaded_hours]
            if missing:
                # Load a day ahead at once: an import walking through history asks hour by hour.
                start, end = min(missing), max(missing) + 1 + self.load_ahead_hours
                end = max(start + 1, end)
                self._load(session, select(*_COLUMNS).where(
                    Ticket.received_at >= _from_hour(start), Ticket.received_at < _from_hour(end),
                    Ticket.status.in_(OPEN_STATUSES)))
                self.loaded_hours.update(range(start, end))
                self._evict(lo - self.keep_hours, hi + self.keep_hours)
            elif delta:
                self.catch_up(session)

    def catch_up(self, session: Session) -> list[Record]:
        """Pick up the open tickets (of the hours loaded) that other processes committed since
        the last look, and return them. Ids are not committed in order across processes that
        write outside intake's lock, so look a little behind; read only the ids first (the
        primary key index), then the few rows not seen yet."""
        found: list[Record] = []
        with self.lock:
            if self.max_id is None:
                self.max_id = session.scalar(select(func.max(Ticket.id))) or 0
            after = max(0, self.max_id - 64)
            while True:
                recent = list(session.connection().execute(_RECENT_IDS, {"after": after}).scalars())
                unseen = [tid for tid in recent if tid not in self.entries and tid not in self._skipped]
                if unseen:
                    found += self._load(session, _BY_IDS_OPEN, {"ids": unseen}, only_loaded=True)
                    self._skipped.update(unseen)  # closed, or outside the loaded hours: not again
                    if len(self._skipped) > 8192:
                        self._skipped.clear()
                if recent:
                    self.max_id = max(self.max_id, recent[-1])
                if len(recent) < _RECENT_CHUNK:
                    return found
                after = recent[-1]

    def _load(self, session: Session, query: Any, params: dict[str, Any] | None = None,
              only_loaded: bool = False) -> list[Record]:
        added = []
        for row in session.connection().execute(query, params or {}):
            self.max_id = max(self.max_id or 0, row.id)
            if row.id in self.entries:
                continue
            record = _record_of_row(row)
            if only_loaded and _hour(record.received_at) not in self.loaded_hours:
                continue
            self.add(record)
            added.append(record)
        return added

    def _evict(self, keep_from: int, keep_to: int) -> None:
        old = [h for h in self.loaded_hours if h < keep_from or h > keep_to]
        for h in old:
            self.loaded_hours.discard(h)
            for tid in list(self.by_hour.get(h, ())):
                self.discard(tid)

    # ------------------------------------------------------------ looking up
    def candidates(self, record: Record, window_hours: float, near_m: float = 300.0,
                   limit_area: int = 500) -> list[Record]:
        """Indexed records that could match ``record``: the same phone; or the same topic and a
        point within ``near_m`` (a box, ``compare`` measures) or no point to compare. These are
        exactly the pairs ``compare`` does not dismiss at once."""
        ids: set[int] = set()
        with self.lock:
            if record.phone:
                ids |= self.by_phone.get(record.phone, set())
            if record.has_point:
                # Without the phone, only the same topic can match (``compare``): look there only.
                for cell in _disk(record.lat, record.lon, self.resolution, self.rings):
                    ids |= self.by_cell.get((cell, record.topic), set())
            # Records without a point are compared by text within their district and topic;
            # a record with a point also looks at pointless ones of its district and topic.
            area = self.by_area.get((record.district, record.topic), set())
            if len(area) > limit_area:
                area = set(sorted(area)[-limit_area:])
            ids |= area
            lo = record.received_at - timedelta(hours=window_hours)
            hi = record.received_at + timedelta(hours=window_hours)
            has_point, phone, topic = record.has_point, record.phone, record.topic
            if has_point:
                dlat = near_m * 1.01 / 111_320.0
                dlon = dlat / max(0.01, math.cos(math.radians(record.lat)))  # type: ignore[arg-type]
            out = []
            for tid in ids:
                entry = self.entries.get(tid)
                if entry is None or tid == record.ticket_id:
                    continue
                r = entry.record
                if not lo <= r.received_at <= hi:
                    continue
                if not (phone and r.phone == phone):
                    if r.topic != topic:
                        continue
                    if has_point and r.lat is not None and r.lon is not None and (
                            abs(r.lat - record.lat) > dlat or abs(r.lon - record.lon) > dlon):  # type: ignore[operator]
                        continue
                out.append(r)
            return out


@lru_cache(maxsize=8192)
def _disk(lat: float, lon: float, resolution: int, rings: int) -> tuple[int, ...]:
    """The H3 cells within ``rings`` of the point's cell: a record is looked up in the shared
    index and in its batch's own, and H3 took a tenth of de-duplication's time."""
    return tuple(h3.grid_disk(h3.latlng_to_cell(lat, lon, resolution), rings))


_COLUMNS = (Ticket.id, Ticket.number, Ticket.channel, Ticket.received_at, Ticket.topic, Ticket.kind, Ticket.title,
            Ticket.content, Ticket.citizen_phone, Ticket.lat, Ticket.lon, Ticket.district, Ticket.status)


# Built once: compiling a fresh statement per lookup cost more than running it.
_BY_IDS = select(*_COLUMNS).where(Ticket.id.in_(bindparam("ids", expanding=True)))
_BY_IDS_OPEN = _BY_IDS.where(Ticket.status.in_(OPEN_STATUSES))
_RECENT_CHUNK = 1000
_RECENT_IDS = select(Ticket.id).where(Ticket.id > bindparam("after")).order_by(Ticket.id).limit(_RECENT_CHUNK)


def _record_of_row(row: Any) -> Record:
    return Record.of(channel=row.channel, received_at=row.received_at, topic=row.topic, title=row.title,
                     content=row.content, phone=row.citizen_phone, kind=row.kind, lat=row.lat, lon=row.lon,
                     district=row.district, ticket_id=row.id, number=row.number)


def _from_hour(hour: int) -> datetime:
    from datetime import timezone

    return datetime.fromtimestamp(hour * 3600, tz=timezone.utc)


# The process's index per database, shared by every batch (``UnitOfWork.hold_intake``).
_indexes: weakref.WeakKeyDictionary[Engine, CandidateIndex] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def index_for(session: Session) -> CandidateIndex:
    """The process's index for the session's database."""
    return index_for_bind(session.get_bind())


def index_for_bind(bind: Any) -> CandidateIndex:
    engine = getattr(bind, "engine", bind)
    with _lock:
        index = _indexes.get(engine)
        if index is None:
            index = _indexes[engine] = CandidateIndex(resolution=Params.h3_resolution, rings=Params.h3_rings)
        return index


def forget_indexes() -> None:
    with _lock:
        for index in list(_indexes.values()):
            index.clear()


# ------------------------------------------------------------------ search
def rank(record: Record, candidates: Iterable[Record], p: Params) -> list[tuple[Verdict, Record]]:
    return _best_first([(compare(record, c, p), c) for c in candidates])


def _best_first(judged: list[tuple[Verdict, Record]]) -> list[tuple[Verdict, Record]]:
    """The matches among (verdict, candidate) pairs, best first; the older ticket of two equals."""
    judged = [(v, c) for v, c in judged if v.level != NONE]
    judged.sort(key=lambda vc: (vc[0].rank, -(vc[1].ticket_id or 0)), reverse=True)
    return judged


def _confirm(session: Session, index: CandidateIndex, ids: Iterable[int], cache: dict[int, Record | None]) -> None:
    """Read the stored tickets among ``ids`` not in ``cache`` yet: their data as the database
    has it, or None (gone, or no longer open: dropped from the index too)."""
    stored = sorted({tid for tid in ids if tid > 0 and tid not in cache})
    for start in range(0, len(stored), 1000):  # PostgreSQL takes 65,535 parameters at most
        chunk = stored[start:start + 1000]
        for tid in chunk:
            cache[tid] = None  # not found: gone (rolled back) or not open
        for row in session.connection().execute(_BY_IDS, {"ids": chunk}):
            if row.status in OPEN_STATUSES:
                cache[row.id] = _record_of_row(row)
            else:
                index.discard(row.id)


def confirm_ahead(session: Session, records: Sequence[Record], p: Params, index: CandidateIndex,
                  confirmed: dict[int, Record | None], limit: int = 5) -> list[list[tuple[Verdict, Record]]]:
    """The best matches of each of a whole batch of ``records`` in ``index`` (prepared for
    them), ranked: those :func:`search` would read back, their stored data confirmed in one
    query, so that each search after it (given these as ``ranked``) finds its answers in
    ``confirmed`` instead of asking the database once per record. The best of these and of
    any other candidates are the best of all: only these need confirming."""
    found = [rank(record, index.candidates(record, p.window_hours, p.near_m), p)[: limit * 2] for record in records]
    _confirm(session, index, {c.ticket_id for ranked in found for _v, c in ranked if c.ticket_id is not None},
             confirmed)
    return found


def search(session: Session, record: Record, p: Params | None = None, *, index: CandidateIndex | None = None,
           prepare: bool = True, limit: int = 5, confirmed: dict[int, Record | None] | None = None,
           candidates: Iterable[Record] | None = None, ranked: Sequence[tuple[Verdict, Record]] = (),
           ) -> list[tuple[Verdict, Record]]:
    """Matches of ``record`` among open tickets, best first, judged on the database's data.

    Candidates with a negative id (added by a bulk import, not yet inserted)
    are judged on what the index holds. ``confirmed`` caches the database's
    answers within one transaction (a bulk import passes one per batch);
    ``ranked``, matches already judged on what the index holds (:func:`confirm_ahead`),
    and ``candidates``, others still to judge (with ``ranked``: only those).
    """
    p = p or Params()
    if p.mode == "off":
        return []
    index = index or index_for(session)
    if prepare:
        index.prepare(session, record.received_at, p.window_hours)
    if candidates is None and not ranked:
        candidates = index.candidates(record, p.window_hours, p.near_m)
    first = _best_first([*ranked, *((compare(record, c, p), c) for c in candidates or ())])[: limit * 2]
    if not first:
        return []
    cache = confirmed if confirmed is not None else {}
    _confirm(session, index, [c.ticket_id for _v, c in first if c.ticket_id is not None], cache)
    judged = []
    for verdict, c in first:
        stored = c if c.ticket_id is not None and c.ticket_id < 0 else cache.get(c.ticket_id)  # type: ignore[arg-type]
        if stored is not None:  # judged again only where the database's data differs from the index's
            judged.append((verdict, c) if stored == c else (compare(record, stored, p), stored))
    return _best_first(judged)[:limit]


# ----------------------------------------------------------- replies
@dataclass(frozen=True)
class ReplyTarget:
    """One channel that reported a ticket's problem and is owed the reply."""

    channel: str
    external_id: str
    phone: str | None
    merged: bool
    received_at: datetime


def reply_targets(session: Session, ticket: Ticket) -> list[ReplyTarget]:
    """Every intake record of the ticket (its own and the merged ones), oldest first."""
    out = []
    for record in session.scalars(select(IntakeRecord).where(IntakeRecord.ticket_id == ticket.id)
                                  .order_by(IntakeRecord.received_at, IntakeRecord.id)):
        payload = record.payload or {}
        phone = payload.get("citizen_phone") or payload.get("phone")
        out.append(ReplyTarget(record.channel, record.external_id, phone if isinstance(phone, str) else None,
                               bool(record.merged), record.received_at))
    return out


__all__ = [
    "CandidateIndex",
    "Params",
    "Record",
    "Verdict",
    "compare",
    "confirm_ahead",
    "forget_indexes",
    "index_for",
    "normalise",
    "reply_targets",
    "search",
    "shingles",
    "similarity",
]
