"""Shared builders for the intake channel tests: a platform on a fresh SQLite file."""
from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

import settings as settings_module
from feeds import hotline
from tests.helpers import add_small_bureau
from tickets import accounts
from tickets.bootstrap import session_factory
from tickets.uow import unit_of_work
from tickets.models import DeadLetter, IntakeRecord, Ticket, Unit, User

SECRET = "test-hotline-secret"
OPEN311_KEY = "minsheng-open311-demo"  # the published demo key (settings default)


def make_platform(tmp_path: Path, **overrides: Any) -> Any:
    from dashboard import create_platform
    from tickets.schema import upgrade

    url = f"sqlite:///{tmp_path / 'intake.db'}"
    upgrade(url)
    factory = session_factory(url)
    add_small_bureau(factory)
    with unit_of_work(factory) as s:
        for username, role, code in (("admin", "admin", "JN-PTB"), ("dispatcher", "dispatcher", "JN-PTB"),
                                     ("officer", "handler", "JN-LX-01")):
            unit = s.scalar(select(Unit).where(Unit.code == code))
            s.add(User(username=username, real_name=username, police_number="100" + str(len(username)).zfill(3),
                       unit_id=unit.id, role=role))
    values = dict(database_url=url, hotline_secret=SECRET, demo_accounts_file="none")
    values.update(overrides)
    cfg = settings_module.load(environ={}, **values)
    platform = create_platform(cfg, live=False)
    tokens = {}
    with unit_of_work(factory) as s:
        for name in ("admin", "dispatcher", "officer"):
            tokens[name] = accounts.issue_token(s, "api", s.scalar(select(User).where(User.username == name)))
    platform.tokens = tokens
    platform.test_factory = factory
    return platform


def platform_fixture(tmp_path: Path, **overrides: Any) -> Iterator[Any]:
    from dashboard import intake_forms

    platform = make_platform(tmp_path, **overrides)
    intake_forms.limiter.reset()
    try:
        yield platform
    finally:
        platform.stop()


def signed_headers(body: bytes, secret: str = SECRET, at: float | None = None) -> dict[str, str]:
    stamp = str(int(time.time() if at is None else at))
    return {"Content-Type": "application/json", hotline.TIMESTAMP_HEADER: stamp,
            hotline.SIGNATURE_HEADER: hotline.sign(secret, stamp, body)}


def push(client: Any, payload: Any, *, path: str = "/api/v1/intake/hotline", secret: str = SECRET,
         raw: bytes | None = None, at: float | None = None, headers: dict[str, str] | None = None) -> Any:
    body = raw if raw is not None else json.dumps(payload, ensure_ascii=False).encode("utf-8")
    h = signed_headers(body, secret, at)
    if headers is not None:
        h.update(headers)
    return client.post(path, data=body, headers=h)


def count(platform: Any, model: Any, *where: Any) -> int:
    with platform.test_factory() as s:
        return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def tickets(platform: Any) -> list[Ticket]:
    with platform.test_factory() as s:
        return list(s.scalars(select(Ticket).order_by(Ticket.id)))


def records(platform: Any, channel: str | None = None) -> list[IntakeRecord]:
    with platform.test_factory() as s:
        q = select(IntakeRecord).order_by(IntakeRecord.id)
        if channel:
            q = q.where(IntakeRecord.channel == channel)
        return list(s.scalars(q))


def dead_letters(platform: Any, channel: str | None = None) -> list[DeadLetter]:
    with platform.test_factory() as s:
        q = select(DeadLetter).order_by(DeadLetter.id)
        if channel:
            q = q.where(DeadLetter.channel == channel)
        return list(s.scalars(q))
