"""deploy/backup.sh and deploy/restore.sh on a real PostgreSQL (docs/DEPLOY.md, "Backups"):
tickets taken in and worked through the service layer, a dump, a restore into a new database,
and the restored platform answers the same figures and holds the same rows as the original.
The scripts run with the test server's own pg_dump and pg_restore (the same version)."""
from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from tests.helpers import MONDAY_9, ROOT, ApiWorld, api_world, api_world_again, new_request, submit
from tests.servers import PostgresServer
from tickets import lifecycle
from tickets.models import Ticket
from tickets.uow import unit_of_work

BACKUP = ROOT / "deploy" / "backup.sh"
RESTORE = ROOT / "deploy" / "restore.sh"
# Places in three districts, so the tickets go to several stations.
PLACES = [(36.665, 117.03, "历下区"), (36.651, 116.985, "市中区"), (36.70, 117.07, "历城区")]
TOPICS = ["noise", "theft", "dispute", "traffic", "other"]
PERIOD = {"from": (MONDAY_9 - timedelta(days=2)).date().isoformat(), "to": (MONDAY_9 + timedelta(days=6)).date().isoformat()}


def _env(server: PostgresServer, database: str, **extra: str) -> dict[str, str]:
    return dict(os.environ, PGHOST="127.0.0.1", PGPORT=str(server.port), PGUSER=server.superuser,
                PGDATABASE=database, PG_BINDIR=str(server.bindir), **extra)


def _run(cmd: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(cmd, env=env, check=False, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{cmd} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _row_counts(url: str) -> dict[str, int]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            tables = inspect(conn).get_table_names()
            return {t: conn.execute(text(f'SELECT count(*) FROM "{t}"')).scalar_one() for t in sorted(tables)}
    finally:
        engine.dispose()


def _load(world: ApiWorld) -> None:
    """Thirty tickets over a week, some accepted and contacted, in several districts and topics."""
    factory = world.platform.factory
    numbers = []
    for n in range(30):
        lat, lon, district = PLACES[n % len(PLACES)]
        at = MONDAY_9 - timedelta(days=1) + timedelta(hours=5 * n)
        ticket = submit(factory, new_request(at, topic=TOPICS[n % len(TOPICS)], lat=lat, lon=lon,
                                             district=district, phone=f"1390000{n:04d}",
                                             external_id=f"BACKUP-{n}"), now=at)
        numbers.append((ticket.id, at))
    for ticket_id, at in numbers[::2]:
        with unit_of_work(factory) as s:
            ticket = s.get(Ticket, ticket_id)
            lifecycle.accept(s, ticket, at + timedelta(minutes=20))
            if ticket_id % 4 == 0:
                lifecycle.contact(s, ticket, at + timedelta(minutes=40))


def _figures(world: ApiWorld) -> dict[str, Any]:
    query = "&".join(f"{k}={v}" for k, v in PERIOD.items())
    answers = {}
    for path in (f"/api/v1/figures?{query}", f"/api/v1/figures?{query}&unit=JN-LX",
                 f"/api/v1/figures/units?{query}", f"/api/v1/figures/units?{query}&level=2"):
        response = world.get(path)
        assert response.status_code == 200, response.get_data(as_text=True)
        answers[path] = response.get_json()
    return answers


@pytest.fixture
def original(postgres_server: PostgresServer, pg_url: str, tmp_path: Path) -> Iterator[ApiWorld]:
    yield from api_world(tmp_path, pg_url)


def test_a_backup_restored_into_a_new_database_has_the_same_figures_and_rows(
        original: ApiWorld, postgres_server: PostgresServer, pg_url: str, tmp_path: Path) -> None:
    _load(original)
    before = _figures(original)
    assert before[next(iter(before))]["received"] == 30
    source = make_url(pg_url).database
    assert source is not None
    backups = tmp_path / "backups"

    # Four runs keep the newest three; each prints its file.
    made = [_run([str(BACKUP), str(backups)], _env(postgres_server, source, MINSHENG_BACKUP_KEEP="3")).strip()
            for _ in range(4)]
    kept = sorted(p.name for p in backups.iterdir())
    assert len(kept) == 3 and Path(made[-1]).name in kept and Path(made[0]).name not in kept, (made, kept)
    assert all(name.endswith(".dump") for name in kept)  # no .partial left behind

    restored_name = f"{source}_restored"
    restored_url = str(make_url(pg_url).set(database=restored_name))
    try:
        _run([str(RESTORE), made[-1], restored_name], _env(postgres_server, "postgres"))
        # Never over an existing database.
        again = subprocess.run([str(RESTORE), made[-1], restored_name], env=_env(postgres_server, "postgres"),
                               check=False, capture_output=True, text=True, timeout=60)
        assert again.returncode == 1 and "exists" in again.stderr

        counts = _row_counts(pg_url)
        assert counts["tickets"] == 30 and counts["alembic_version"] == 1
        assert _row_counts(restored_url) == counts
        for world in api_world_again(restored_url, original.tokens):
            assert _figures(world) == before
    finally:
        postgres_server.drop_database(restored_name)
