"""The command line: migrate and load the demo bureau, as `make run` does."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from tickets.bootstrap import session_factory
from tickets.models import Unit

ROOT = Path(__file__).resolve().parent.parent


def app(*args: str, db: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": db}
    return subprocess.run([sys.executable, "app.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


def test_db_upgrade_and_demo_load_are_repeatable(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    for _ in range(2):
        assert app("db", "upgrade", db=db).returncode == 0
        done = app("demo", "load", db=db)
        assert done.returncode == 0, done.stderr
    factory = session_factory(db)
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(Unit).where(Unit.level == 2, Unit.kind.in_(
            ["branch", "county_bureau"]))) == 12
        assert s.scalar(select(func.count()).select_from(Unit)) > 60


def test_unknown_command_is_refused_with_usage(tmp_path: Path) -> None:
    done = app("fly", db=f"sqlite:///{tmp_path / 'x.db'}")
    assert done.returncode == 2
    assert "invalid choice" in done.stderr
