"""Replay: history played into the live path at N× speed, for demos and drills.

    python app.py replay FILE --mapping MAPPING.yaml --speed 60          # a CSV/Excel history
    python app.py replay --from-db --from 2015-03-01 --to 2015-03-07 --speed 600   # imported tickets

Each historical record becomes a *new live record*: it goes through
``tickets.services.receive`` (validation, de-duplication, routing, dispatch,
outbox, so the wall sees it) at the moment it is played, with the gaps
between records shrunk by the speed factor (``--speed 60``: an hour of
history in a minute; ``--speed 0``: as fast as the database takes them).

A replay never touches the original records: every played record gets a new
external id ``RP<run>:<original id>`` (the run id is printed and stored in
each record's payload with the original id and time), so a drill can be run
again and again, next to the real history, without colliding with it or with
itself. Routing follows the source: the unit the mapping (or the imported
ticket) names, else the platform's own routing. What the history did after
arrival (closing, on time or late) is not replayed: the drill's people do it.

Ctrl-C (or SIGTERM) stops between two records: each record is its own
transaction, so what was played stays played and nothing is half-written.
"""
from __future__ import annotations

import argparse
import hashlib
import secrets
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from feeds.mapping import Mapping
from tickets.uow import UnitOfWork, unit_of_work
from tickets import services
from tickets.intake import NewRequest
from tickets.models import Ticket, Unit

MAX_EXTERNAL_ID = 64
# Longest single sleep, so Ctrl-C and the stop event are noticed promptly.
MAX_NAP_SECONDS = 0.5


@dataclass(frozen=True)
class ReplayItem:
    at: datetime  # when it arrived in history
    request: NewRequest


@dataclass
class ReplayStats:
    run_id: str
    speed: float
    played: int = 0
    merged: int = 0  # became a merged record of an earlier played ticket (de-duplication)
    skipped: int = 0  # rows of the file that are not valid records
    interrupted: bool = False
    first_at: datetime | None = None
    last_at: datetime | None = None
    tickets: list[int] = field(default_factory=list)

    def text(self) -> str:
        span = f"history {self.first_at:%Y-%m-%d %H:%M} → {self.last_at:%Y-%m-%d %H:%M}, " if self.first_at and \
            self.last_at else ""
        state = "interrupted" if self.interrupted else "done"
        return (f"replay {self.run_id} {state}: {self.played:,} records played at {self.speed:g}× "
                f"({span}{self.merged:,} merged as duplicates, {self.skipped:,} invalid rows skipped)")


def new_run_id(now: datetime) -> str:
    return f"{now:%Y%m%d%H%M}{secrets.token_hex(2)}"


def replay_id(run_id: str, original: str) -> str:
    value = f"RP{run_id}:{original}"
    if len(value) <= MAX_EXTERNAL_ID:
        return value
    return f"RP{run_id}:{hashlib.sha1(original.encode()).hexdigest()[:MAX_EXTERNAL_ID - len(run_id) - 3]}"


# ----------------------------------------------------------------- sources
def items_from_file(path: str | Path, mapping: Mapping, factory: sessionmaker[UnitOfWork], now: datetime,
                    stats: ReplayStats | None = None) -> Iterator[ReplayItem]:
    """Records of a CSV/Excel history, in file order (sorted by the caller if needed)."""
    from feeds.importer import open_rows
    from tickets.batch import Arrival

    with factory() as session:
        mapping.known_units = frozenset(session.scalars(select(Unit.code).where(Unit.active.is_(True))))
    header, rows = open_rows(Path(path), mapping)
    mapping.check_header(header, str(path))
    for number, raw in enumerate(rows, start=1):
        parsed = mapping.parse(raw, f"row {number}", now) if raw and mapping.keep(raw) else None
        if not isinstance(parsed, Arrival):
            if stats is not None:
                stats.skipped += 1
            continue
        yield ReplayItem(parsed.request.received_at, parsed.request)


def items_from_db(session: Session, start: datetime, end: datetime) -> list[ReplayItem]:
    """Tickets received in [start, end) (duplicates merged away are not tickets), oldest first."""
    out = []
    for t in session.scalars(select(Ticket).where(Ticket.received_at >= start, Ticket.received_at < end,
                                                  Ticket.status != "merged")
                             .order_by(Ticket.received_at, Ticket.id)):
        unit = t.unit
        out.append(ReplayItem(t.received_at, NewRequest(
            channel=t.channel, external_id=t.number, received_at=t.received_at, kind=t.kind, topic=t.topic,
            sla_class=t.sla_class, title=t.title, content=t.content, district=t.district, address=t.address,
            lat=t.lat, lon=t.lon, citizen_name=t.citizen_name, citizen_phone=t.citizen_phone,
            unit_code=unit.code if unit is not None and unit.active else None)))
    return out


# ------------------------------------------------------------------ player
class Replayer:
    def __init__(self, factory: sessionmaker[UnitOfWork], tz: Any, *, speed: float, run_id: str | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
                 sleep: Callable[[float], None] = time.sleep, stop: threading.Event | None = None) -> None:
        if speed < 0:
            raise ValueError("--speed must be 0 (as fast as possible) or more")
        self.factory, self.tz, self.speed = factory, tz, speed
        self.clock, self.sleep = clock, sleep
        self.stop = stop or threading.Event()
        self.run_id = run_id or new_run_id(clock())

    def play(self, items: Iterable[ReplayItem], stats: ReplayStats | None = None,
             limit: int | None = None) -> ReplayStats:
        stats = stats or ReplayStats(self.run_id, self.speed)
        start_wall: datetime | None = None
        start_hist: datetime | None = None
        try:
            for item in items:
                if self.stop.is_set() or (limit is not None and stats.played >= limit):
                    stats.interrupted = self.stop.is_set()
                    break
                if start_hist is None:
                    start_hist, start_wall = item.at, self.clock()
                    stats.first_at = item.at
                assert start_wall is not None
                if self.speed > 0:
                    due = start_wall + (item.at - start_hist) / self.speed
                    if not self._wait_until(due):
                        stats.interrupted = True
                        break
                self._play_one(item, stats)
        except KeyboardInterrupt:
            stats.interrupted = True
        return stats

    def _wait_until(self, due: datetime) -> bool:
        while True:
            if self.stop.is_set():
                return False
            left = (due - self.clock()).total_seconds()
            if left <= 0:
                return True
            self.sleep(min(left, MAX_NAP_SECONDS))

    def _play_one(self, item: ReplayItem, stats: ReplayStats) -> None:
        now = self.clock()
        original = item.request.external_id
        raw = {**(item.request.raw or {}), "_replay": {
            "run": self.run_id, "original_external_id": original, "original_received_at": item.at.isoformat(),
            "speed": self.speed}}
        request = replace(item.request, external_id=replay_id(self.run_id, original), received_at=now, raw=raw)
        with unit_of_work(self.factory) as uow:
            ticket = services.receive_one(uow, request, now=now)
            # A new id always makes a new record; a ticket received earlier means it merged into one.
            if ticket.received_at != request.received_at:
                stats.merged += 1
            else:
                stats.tickets.append(ticket.id)
        stats.played += 1
        stats.last_at = item.at


# --------------------------------------------------------------------- CLI
def add_commands(sub: Any) -> None:
    p = sub.add_parser("replay", help="play a history into the live path at N× speed (demos, drills)",
                       description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("file", nargs="?", help="a .csv, .csv.gz or .xlsx history (with --mapping)")
    p.add_argument("--mapping", help="mapping YAML of the file")
    p.add_argument("--from-db", action="store_true", help="replay tickets already in the database")
    p.add_argument("--from", dest="date_from", help="first day (YYYY-MM-DD, platform time zone) with --from-db")
    p.add_argument("--to", dest="date_to", help="last day, inclusive, with --from-db")
    p.add_argument("--speed", type=float, default=60.0, help="N× real time (default 60; 0: no waiting)")
    p.add_argument("--limit", type=int, help="stop after this many records")
    p.set_defaults(func=cmd_replay)


def cmd_replay(args: argparse.Namespace) -> int:
    import settings as settings_module
    from tickets.bootstrap import session_factory
    from tickets.figures import period_bounds

    cfg = settings_module.load()
    factory = session_factory(cfg.database_url, cfg)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    player = Replayer(factory, cfg.tz, speed=args.speed, stop=stop)
    stats = ReplayStats(player.run_id, args.speed)
    if args.from_db:
        if args.file or not (args.date_from and args.date_to):
            print("error: --from-db takes --from and --to, not a file", file=sys.stderr)
            return 2
        start, end = period_bounds(date.fromisoformat(args.date_from), date.fromisoformat(args.date_to), cfg.tz)
        with factory() as session:
            items: Iterable[ReplayItem] = items_from_db(session, start, end)
    else:
        if not args.file or not args.mapping:
            print("error: give FILE --mapping MAPPING.yaml, or --from-db --from DATE --to DATE", file=sys.stderr)
            return 2
        items = sorted(items_from_file(args.file, Mapping.load(args.mapping), factory,
                                       datetime.now(timezone.utc) + timedelta(days=36500), stats),
                       key=lambda i: i.at)
    print(f"replay {player.run_id}: external ids RP{player.run_id}:…, speed {args.speed:g}×; Ctrl-C stops",
          file=sys.stderr, flush=True)
    player.play(items, stats, limit=args.limit)
    print(stats.text())
    return 0
