"""Document numbers (tickets.numbers): per-day serials that two writers cannot both take."""
from __future__ import annotations

import threading
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from tickets import numbers
from tickets.db import make_engine
from tickets.bootstrap import session_factory
from tickets.uow import unit_of_work
from tickets.schema import upgrade

TZ = ZoneInfo("Asia/Shanghai")
# 23:30 on the 21st in Beijing is already the 22nd's 00:30 a few minutes later: two local days.
LATE = datetime(2026, 11, 21, 23, 30, tzinfo=TZ)
EARLY = datetime(2026, 11, 22, 0, 30, tzinfo=TZ)


def test_serials_run_per_local_day_and_continue_across_transactions(database_url: str) -> None:
    upgrade(database_url)
    factory = session_factory(database_url)
    with unit_of_work(factory) as s:
        first = numbers.take(s, numbers.TICKET, [LATE, EARLY, LATE], TZ)
    assert first == ["MS20261121000001", "MS20261122000001", "MS20261121000002"]
    with unit_of_work(factory) as s:
        assert numbers.peek(s, numbers.TICKET, [EARLY], TZ) == ["MS20261122000002"]
        assert numbers.take(s, numbers.TICKET, [EARLY], TZ) == ["MS20261122000002"]
        assert numbers.next_number(s, numbers.SUPERVISION_ORDER, EARLY, TZ) == "DB20261122000001"


def test_a_rolled_back_transaction_gives_its_numbers_back(database_url: str) -> None:
    upgrade(database_url)
    factory = session_factory(database_url)
    with pytest.raises(RuntimeError), unit_of_work(factory) as s:
        numbers.take(s, numbers.TICKET, [EARLY] * 5, TZ)
        raise RuntimeError("the batch failed")
    with unit_of_work(factory) as s:
        assert numbers.take(s, numbers.TICKET, [EARLY], TZ) == ["MS20261122000001"]


def test_two_writers_at_once_get_distinct_numbers(pg_url: str) -> None:
    """The first writer holds the day's counter until it commits; the second waits and
    continues after it, instead of reading the same max(number) and failing on the unique index."""
    upgrade(pg_url)
    factory = session_factory(pg_url)
    got: dict[str, list[str]] = {}
    first_took = threading.Event()

    def first() -> None:
        with unit_of_work(factory) as s:
            got["first"] = numbers.take(s, numbers.TICKET, [EARLY] * 50, TZ)
            first_took.set()
            time.sleep(0.5)  # still in its transaction

    def second() -> None:
        first_took.wait(5)
        with unit_of_work(factory) as s:
            got["second"] = numbers.take(s, numbers.TICKET, [EARLY] * 50, TZ)

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    everything = got["first"] + got["second"]
    assert len(set(everything)) == 100
    assert got["second"][0] == "MS20261122000051"


def test_the_migration_starts_the_counters_after_the_numbers_already_written(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0004")
    engine = make_engine(url)
    with engine.begin() as c:
        c.execute(text("INSERT INTO units (id, code, name, level, kind, topics, active) "
                       "VALUES (1, 'U1', '指挥中心', 1, 'command', '[]', 1)"))
        for i, number in enumerate(("MS20261122000041", "MS20261122000007", "MS20261121000003"), start=1):
            c.execute(text(
                "INSERT INTO tickets (id, number, channel, kind, sla_class, topic, title, content, status, "
                "received_at, escalation_level, redo_count, extension_pending) VALUES "
                "(:id, :number, 'walk_in', 'complaint', 'standard', 'noise', 't', 'c', 'received', "
                "'2026-11-22 01:00:00', 1, 0, 0)"), {"id": i, "number": number})
    engine.dispose()
    upgrade(url)
    factory = session_factory(url)
    with unit_of_work(factory) as s:
        assert numbers.take(s, numbers.TICKET, [EARLY, LATE], TZ) == ["MS20261122000042", "MS20261121000004"]
