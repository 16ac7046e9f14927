"""Replay (feeds/replay.py): history into the live path at N× speed, on a fake clock."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from feeds.importer import run_import
from feeds.mapping import Mapping
from feeds.replay import Replayer, ReplayStats, items_from_db, items_from_file
from tests.helpers import HOTLINE_MAPPING, TZ, hotline_row, outbox_events, write_csv
from tickets.models import IntakeRecord, Ticket

START = datetime(2026, 11, 24, 1, 0, tzinfo=timezone.utc)  # 09:00 in Jinan


class FakeClock:
    """now() and sleep() on one timeline; sleep can be told to raise Ctrl-C at a moment."""

    def __init__(self, now: datetime, interrupt_at: datetime | None = None) -> None:
        self.now = now
        self.slept = 0.0
        self.interrupt_at = interrupt_at

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.now += timedelta(seconds=seconds)
        self.slept += seconds
        if self.interrupt_at is not None and self.now >= self.interrupt_at:
            raise KeyboardInterrupt


# An hour of history: arrivals at 0, 6, 30 and 60 minutes, each a different matter and place.
OFFSETS = (0, 6, 30, 60)


def history(tmp_path: Path) -> Path:
    rows = []
    for n, minutes in enumerate(OFFSETS, start=1):
        at = datetime(2026, 3, 2, 21, 0) + timedelta(minutes=minutes)
        rows.append(hotline_row(n, at=at.strftime("%Y-%m-%d %H:%M:%S"), closed=(at + timedelta(hours=2)).strftime(
            "%Y-%m-%d %H:%M:%S"), status="2", title=f"第{n}件", content=f"{'甲乙丙丁'[n - 1] * 8}的问题",
            point=(36.60 + n * 0.03, 117.00), phone=f"1370000000{n}"))
    return write_csv(tmp_path / "history.csv", rows)


def test_replay_at_speed_plays_history_as_new_live_records(tmp_path: Path, jinan_db: sessionmaker[Session]) -> None:
    mapping = Mapping.from_dict(HOTLINE_MAPPING)
    items = list(items_from_file(history(tmp_path), mapping, jinan_db, START))
    clock = FakeClock(START)
    player = Replayer(jinan_db, TZ, speed=60, run_id="R1", clock=clock, sleep=clock.sleep)
    stats = player.play(items)
    assert (stats.played, stats.merged, stats.interrupted) == (4, 0, False)
    with jinan_db() as s:
        tickets = s.scalars(select(Ticket).order_by(Ticket.received_at)).all()
        records = s.scalars(select(IntakeRecord).order_by(IntakeRecord.received_at)).all()
        # An hour of history in a minute: the gaps shrink 60×, and the records arrive now, live.
        assert [(t.received_at - START).total_seconds() for t in tickets] == [m for m in OFFSETS]
        assert all(t.status == "dispatched" and t.dispatched_at == t.received_at for t in tickets)
        assert [r.external_id for r in records] == [f"RPR1:jn12345:GS2026111800000{n}" for n in range(1, 5)]
        assert records[0].payload["_replay"]["original_received_at"] == "2026-03-02T21:00:00+08:00"
        events = {e["event"] for e in outbox_events(s)}
        assert {"received", "dispatched"} <= events  # on the live path, like any intake
    assert clock.slept == pytest.approx(60.0)

    # A second drill of the same history never collides with the first.
    clock2 = FakeClock(START + timedelta(hours=1))
    again = Replayer(jinan_db, TZ, speed=0, run_id="R2", clock=clock2, sleep=clock2.sleep).play(items)
    assert again.played == 4 and clock2.slept == 0  # speed 0: no waiting
    with jinan_db() as s:
        assert s.scalar(select(func.count()).select_from(IntakeRecord)) == 8
        assert s.scalar(select(func.count()).select_from(Ticket)) == 8


def test_ctrl_c_stops_between_records_and_keeps_what_was_played(tmp_path: Path,
                                                                 jinan_db: sessionmaker[Session]) -> None:
    items = list(items_from_file(history(tmp_path), Mapping.from_dict(HOTLINE_MAPPING), jinan_db, START))
    clock = FakeClock(START, interrupt_at=START + timedelta(seconds=10))  # during the wait for the third
    stats = Replayer(jinan_db, TZ, speed=60, run_id="R3", clock=clock, sleep=clock.sleep).play(items)
    assert stats.interrupted and stats.played == 2
    with jinan_db() as s:
        assert s.scalar(select(func.count()).select_from(Ticket)) == 2
        assert s.scalar(select(func.count()).select_from(IntakeRecord)) == 2


def test_replay_from_the_database(tmp_path: Path, jinan_db: sessionmaker[Session]) -> None:
    run_import(jinan_db, history(tmp_path), Mapping.from_dict(HOTLINE_MAPPING), TZ, now=START)
    with jinan_db() as s:
        items = items_from_db(s, datetime(2026, 3, 2, tzinfo=TZ), datetime(2026, 3, 3, tzinfo=TZ))
        originals = {t.number: t.unit_id for t in s.scalars(select(Ticket))}
    assert [i.at for i in items] == sorted(i.at for i in items) and len(items) == 4
    clock = FakeClock(START)
    stats = Replayer(jinan_db, TZ, speed=120, run_id="DB", clock=clock, sleep=clock.sleep).play(items, limit=3)
    assert stats.played == 3 and clock.slept == pytest.approx(15.0)  # 30 minutes at 120×
    with jinan_db() as s:
        replayed = s.scalars(select(IntakeRecord).where(IntakeRecord.external_id.like("RPDB:%"))).all()
        assert len(replayed) == 3
        for record in replayed:
            original = record.external_id.split(":", 1)[1]
            assert record.ticket.unit_id == originals[original]  # routed where the original went
            assert record.ticket.status == "dispatched"  # the history's closing is not replayed


def test_stats_text_names_the_run() -> None:
    stats = ReplayStats("R9", 60.0, played=3, first_at=START, last_at=START + timedelta(hours=1))
    assert "replay R9 done: 3 records played at 60×" in stats.text()
