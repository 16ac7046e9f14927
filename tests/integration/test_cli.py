"""The command line: migrate and load the demo bureau, as `make run` does."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from tests.helpers import run_app
from tickets.bootstrap import session_factory
from tickets.models import Unit


def test_db_upgrade_and_demo_load_are_repeatable(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    for _ in range(2):
        assert run_app("db", "upgrade", DATABASE_URL=db).returncode == 0
        done = run_app("demo", "load", DATABASE_URL=db)
        assert done.returncode == 0, done.stderr
    factory = session_factory(db)
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(Unit).where(Unit.level == 2, Unit.kind.in_(
            ["branch", "county_bureau"]))) == 12
        assert s.scalar(select(func.count()).select_from(Unit)) > 60


def test_unknown_command_is_refused_with_usage(tmp_path: Path) -> None:
    done = run_app("fly", DATABASE_URL=f"sqlite:///{tmp_path / 'x.db'}")
    assert done.returncode == 2
    assert "invalid choice" in done.stderr
