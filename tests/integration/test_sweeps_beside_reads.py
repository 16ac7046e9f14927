"""The sweeps never make a read fail (issue 16): while the overdue sweep issues thousands of
supervision orders and the alert sweep runs, the figures API answers every request, on
SQLite (WAL: readers never wait for the writer) and on PostgreSQL (MVCC, short transactions)."""
from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from tests.helpers import ApiWorld, api_world, plant, ticket_row
from tickets import alerts, housekeeping
from tickets.models import ApiToken, SupervisionOrder, Unit
from tickets.uow import unit_of_work

OVERDUE = 1500  # three batches of the overdue sweep
READS = ("/api/v1/figures/units?level=3", "/api/v1/figures", "/api/v1/alerts")


@pytest.fixture
def api_world_each_db(tmp_path: Path, database_url: str) -> Iterator[ApiWorld]:
    yield from api_world(tmp_path, database_url)


def test_figures_answer_while_a_big_sweep_writes(api_world_each_db: ApiWorld) -> None:
    world = api_world_each_db
    platform = world.platform
    now = datetime.now(timezone.utc).replace(microsecond=0)
    with unit_of_work(platform.factory) as s:
        stations = s.scalars(select(Unit.id).where(Unit.level == 3).order_by(Unit.code)).all()
        rows = []
        for n in range(OVERDUE):
            row = ticket_row(now - timedelta(hours=30 + n % 24), 36.66, 117.02, unit_id=stations[n % len(stations)])
            row["resolve_due_at"] = now - timedelta(hours=6)
            rows.append(row)
        plant(s, rows)
    for path in READS:  # the tokens resolved and cached, the app warm
        assert world.get(path).status_code == 200, path

    answers: list[tuple[str, int, float]] = []
    sweeping = threading.Event()
    done = threading.Event()
    swept: dict[str, object] = {}

    def sweep() -> None:
        sweeping.set()
        try:
            swept.update(housekeeping.run_sweeps(platform.factory, now, deliver={}))
            swept["alerts"] = alerts.detect_in_own_transaction(platform.factory, now, platform.settings.tz)
        finally:
            done.set()

    def read() -> None:
        sweeping.wait()
        n = 0
        while not done.is_set():
            path = READS[n % len(READS)]
            started = time.perf_counter()
            status = world.get(path).status_code
            answers.append((path, status, time.perf_counter() - started))
            n += 1
            time.sleep(0.02)  # a screen's pace, not a loop that starves the sweep of the GIL

    threads = [threading.Thread(target=sweep), threading.Thread(target=read)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    took = time.perf_counter() - started

    assert swept["supervision"] == {"orders_issued": OVERDUE, "digests": len(stations)}, swept
    with platform.factory() as s:
        assert s.scalar(select(func.count()).select_from(SupervisionOrder)) == OVERDUE
    failed = [(path, status) for path, status, _ in answers if status != 200]
    assert failed == []
    assert len(answers) >= 3  # the reads did overlap the sweep
    slowest = max(seconds for _, _, seconds in answers)
    print(f"\n{platform.settings.database_url.split(':')[0]}: sweep {took:.1f} s, {len(answers)} reads, "
          f"slowest {slowest:.2f} s")
    assert slowest < 3.0  # no read waited for a batch to commit (they took 5–17 s when one did)


def test_a_read_never_waits_for_a_writer_holding_the_lock(api_world_each_db: ApiWorld) -> None:
    world = api_world_each_db
    """A sweep's transaction holds the write lock (on SQLite, the database's only one) for
    seconds: a request that only reads, with a token not seen before (its last use is due to be
    written), answers at once."""
    from tickets import accounts

    with unit_of_work(world.platform.factory) as s:
        user = accounts.find_user(s, "admin")
        fresh = accounts.issue_token(s, "api", user, label="fresh")
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with unit_of_work(world.platform.factory) as s:
            s.execute(update(Unit).where(Unit.code == "JN").values(name=Unit.name))  # the lock, taken
            holding.set()
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert holding.wait(10)
        client = world.platform.server.test_client()
        started = time.perf_counter()
        answer = client.get(READS[0], headers={"Authorization": f"Bearer {fresh}"})
        took = time.perf_counter() - started
    finally:
        release.set()
        holder.join()
    assert answer.status_code == 200 and took < 2.0, (answer.status_code, took)
    with world.platform.factory() as s:
        stamped = s.scalar(select(ApiToken.last_used_at).where(ApiToken.label == "fresh"))
        # SQLite: the stamp gave way to the lock (the next resolution writes it); PostgreSQL locks rows only.
        assert (stamped is None) == (s.get_bind().dialect.name == "sqlite")
