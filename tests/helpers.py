"""Plain builders and sample data shared by the tests: no fixtures here (those are
all in tests/conftest.py) and no processes (tests/servers.py starts those)."""
from __future__ import annotations

import csv
import gzip
import itertools
import json
import math
import os
import random
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from tickets import followup, lifecycle, services, supervision
from tickets.errors import IllegalStep
from tickets.bootstrap import session_factory
from tickets.db import make_engine
from tickets.intake import NewRequest
from tickets.models import DeadLetter, IntakeRecord, Notification, Ticket, TicketEvent, Unit, User
from tickets.schema import upgrade
from tickets.units import load_bureau
from tickets.roles import SYSTEM
from tickets.uow import unit_of_work

TZ = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")  # the Boston bureau's zone
ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
FIXTURES = ROOT / "tests" / "fixtures"
JINAN_BUREAU = EXAMPLES / "jinan_bureau.yaml"
MONDAY_9 = datetime(2026, 11, 23, 9, 0, tzinfo=TZ)
_serial = itertools.count(1)


# ------------------------------------------------------------------ databases
def bureau_database(url: str, bureau: str = "jinan_bureau.yaml", **overrides: Any) -> sessionmaker[Session]:
    """A database at ``url``, migrated, with a bureau from examples/ loaded; ``overrides`` go into
    the domain's configuration (``tz=`` the bureau's zone …)."""
    upgrade(url)
    factory = session_factory(url, **overrides)
    with unit_of_work(factory) as s:
        load_bureau(s, EXAMPLES / bureau)
    return factory


def add_small_bureau(factory: sessionmaker[Session]) -> None:
    """A city bureau, one branch for 历下区 with two stations, and the platform office."""
    with unit_of_work(factory) as s:
        city = Unit(code="JN", name="济南市公安局", level=1, kind="bureau", topics=[])
        office = Unit(code="JN-PTB", name="民生警务平台办公室", level=2, kind="platform_office", parent=city, topics=[])
        branch = Unit(code="JN-LX", name="历下分局", level=2, kind="branch", district="历下区", parent=city, topics=[])
        s.add_all([
            city, office, branch,
            Unit(code="JN-LX-01", name="泉城路派出所", level=3, kind="station", district="历下区",
                 parent=branch, lat=36.664, lon=117.020, topics=[]),
            Unit(code="JN-LX-02", name="甸柳新村派出所", level=3, kind="station", district="历下区",
                 parent=branch, lat=36.668, lon=117.062, topics=[]),
        ])


def add_people(factory: sessionmaker[Session]) -> None:
    """On the small bureau: the supervision units (督察、法制、信访) and a division, and users
    (警号 100001…): heads of the station and the branch, the chief, officers, staff, an
    inspector, a viewer."""
    with unit_of_work(factory) as s:
        city = s.scalar(select(Unit).where(Unit.code == "JN"))
        for code, name in (("JN-DC", "督察支队"), ("JN-FZ", "法制支队"), ("JN-XF", "信访处"), ("JN-ZA", "治安支队")):
            s.add(Unit(code=code, name=name, level=2, kind="division", parent=city, topics=[]))
        s.flush()
        for n, (username, role, code) in enumerate((
            ("chief", "leader", "JN"), ("branch_head", "leader", "JN-LX"), ("station_head", "leader", "JN-LX-01"),
            ("officer", "handler", "JN-LX-01"), ("other_officer", "handler", "JN-LX-02"),
            ("admin", "admin", "JN-PTB"), ("dispatcher", "dispatcher", "JN-PTB"), ("duty", "duty_officer", "JN"),
            ("inspector", "supervisor", "JN-DC"), ("viewer", "viewer", "JN"),
        ), start=1):
            unit = s.scalar(select(Unit).where(Unit.code == code))
            s.add(User(username=username, real_name=username, police_number=f"1000{n:02d}", unit_id=unit.id,
                       role=role))


def outbox_events(session: Session) -> list[dict[str, Any]]:
    """Every ticket event payload in the outbox, in order (a bulk write's message carries several)."""
    from tickets.events import event_payloads
    from tickets.models import OutboxMessage

    return [e for m in session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
            for e in event_payloads(m.topic, m.payload)]


# ------------------------------------------------------------------- requests
PHONE = "13812345678"  # new_request's citizen


def new_request(
    at: datetime | None = None, *, channel: str = "hotline_12345", topic: str = "noise",
    external_id: str | None = None, lat: float = 36.665, lon: float = 117.03,
    phone: str = PHONE, district: str = "历下区", sla_class: str = "service",
) -> NewRequest:
    return NewRequest(
        channel=channel,
        external_id=external_id or f"T-{next(_serial)}",
        received_at=at or datetime.now(timezone.utc),
        kind="complaint",
        topic=topic,
        sla_class=sla_class,
        title="楼下烧烤店噪音扰民",
        content="历下区泉城路附近烧烤店每晚营业到凌晨，噪音很大，请求处理。",
        district=district,
        lat=lat,
        lon=lon,
        citizen_name="张三",
        citizen_phone=phone,
    )


def submit(factory: sessionmaker[Session], request: NewRequest, now: datetime | None = None) -> Ticket:
    with unit_of_work(factory) as s:
        return services.receive_one(s, request, now=now or request.received_at)


@dataclass
class Clock:
    """A settable clock for the live path's relay and aggregator."""
    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)


@dataclass
class LiveBackend:
    """What the live path runs on (conftest's ``live_backend``)."""
    database_url: str
    factory: sessionmaker[Session]  # on the migrated, empty database
    redis: Any  # a client with decode_responses=True


def poisson(rng: random.Random, lam: float) -> int:
    """Knuth's method: exact, and fine for the small daily rates of the surge tests."""
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def wait_until(predicate: Callable[[], Any], timeout: float = 20.0, what: str = "condition",
               every: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")


def together(threads: Iterable[threading.Thread]) -> float:
    """Start ``threads`` at once and wait for them all; the seconds that took."""
    threads = list(threads)
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started


def run_app(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``python app.py ARGS`` in its own process, with ``env`` added to this one's environment."""
    return subprocess.run([sys.executable, "app.py", *args], cwd=ROOT, env={**os.environ, **env},
                          capture_output=True, text=True, timeout=120)


# ---------------------------------------------------------- planted tickets
# Straight into the database (fast, no lifecycle): for map, hotspot and early-warning
# tests that need weeks of background.
def unit_ids(session: Session) -> dict[str, int]:
    return dict(session.execute(select(Unit.code, Unit.id)).all())


def ticket_row(at: datetime, lat: float | None, lon: float | None, topic: str = "noise", *,
               district: str | None = "历下区", unit_id: int | None = None, status: str = "dispatched") -> dict[str, Any]:
    n = next(_serial)
    return {
        "number": f"PL{n:010d}", "channel": "hotline_12345", "kind": "complaint", "sla_class": "service",
        "topic": topic, "title": "测试", "content": "测试内容", "district": district, "lat": lat, "lon": lon,
        "citizen_name": "张三", "citizen_phone": "13812345678", "status": status, "unit_id": unit_id,
        "received_at": at, "escalation_level": 1, "redo_count": 0, "extension_pending": False,
    }


def plant(session: Session, rows: Iterable[dict[str, Any]]) -> int:
    rows = list(rows)
    if rows:
        session.execute(insert(Ticket), rows)
    return len(rows)


# ------------------------------------------------------- intake channels (HTTP)
HOTLINE_SECRET = "test-hotline-secret"
SMS_INBOUND_SECRET = "s3cret"
OPEN311_KEY = "minsheng-open311-demo"  # the published demo key (settings default)


def with_changes(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``changes`` applied: a value replaces, None removes the field."""
    for key, value in changes.items():
        if value is None:
            base.pop(key, None)
        else:
            base[key] = value
    return base


def signed_headers(body: bytes, secret: str = HOTLINE_SECRET, at: float | None = None) -> dict[str, str]:
    from feeds import hotline

    stamp = str(int(time.time() if at is None else at))
    return {"Content-Type": "application/json", hotline.TIMESTAMP_HEADER: stamp,
            hotline.SIGNATURE_HEADER: hotline.sign(secret, stamp, body)}


def push(client: Any, payload: Any, *, path: str = "/api/v1/intake/hotline", secret: str = HOTLINE_SECRET,
         raw: bytes | None = None, at: float | None = None, headers: dict[str, str] | None = None) -> Any:
    body = raw if raw is not None else json.dumps(payload, ensure_ascii=False).encode("utf-8")
    h = signed_headers(body, secret, at)
    if headers is not None:
        h.update(headers)
    return client.post(path, data=body, headers=h)


def form_fields(client: Any, path: str, headers: dict[str, str] | None = None) -> dict[str, str]:
    """The hidden fields (csrf_token, form_id) of the web form at ``path`` (/mailbox, /frontdesk)."""
    page = client.get(path, headers=headers or {})
    assert page.status_code == 200, page.status_code
    html = page.get_data(as_text=True)
    found = {n: re.search(rf'name="{n}" value="([^"]+)"', html) for n in ("csrf_token", "form_id")}
    return {n: m.group(1) for n, m in found.items() if m}


def log_in(client: Any, username: str, password: str, next_url: str | None = None, **headers: str) -> Any:
    """Log a Flask test client in through ``/login`` as a browser does: the form (and its CSRF
    token) first, then the post; the post's answer."""
    token = form_fields(client, "/login")["csrf_token"]
    form = {"username": username, "password": password, "csrf_token": token}
    if next_url is not None:
        form["next"] = next_url
    return client.post("/login", data=form, headers=headers)


def browser_login(browser: Any, base_url: str, username: str, password: str = "minsheng-demo",
                  next_path: str = "/") -> Any:
    """A new page of its own (its own cookies) at 1920×1080, logged in as ``username`` (the demo
    accounts' published password by default), on the page after the login."""
    page = browser.new_context(viewport={"width": 1920, "height": 1080}).new_page()
    page.goto(f"{base_url}/login?next={next_path}")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    return page


def csrf_headers(client: Any) -> dict[str, str]:
    """What a page's script sends with a write authorised by its session cookie: the session's
    CSRF token, from the cookie the platform set (dashboard/security.py)."""
    cookie = client.get_cookie("_csrf_token")
    assert cookie is not None, "the platform set the CSRF cookie with a page"
    return {"X-CSRFToken": cookie.value}


def count(platform: Any, model: Any, *where: Any) -> int:
    with platform.test_factory() as s:
        return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def tickets(platform: Any) -> list[Ticket]:
    with platform.test_factory() as s:
        return list(s.scalars(select(Ticket).order_by(Ticket.id)))


def _of_channel(platform: Any, model: Any, channel: str | None) -> list[Any]:
    with platform.test_factory() as s:
        q = select(model).order_by(model.id)
        if channel:
            q = q.where(model.channel == channel)
        return list(s.scalars(q))


def records(platform: Any, channel: str | None = None) -> list[IntakeRecord]:
    return _of_channel(platform, IntakeRecord, channel)


def dead_letters(platform: Any, channel: str | None = None) -> list[DeadLetter]:
    return _of_channel(platform, DeadLetter, channel)


# ------------------------------------------------------------- the API (/api/v1)
# username: (role, unit) of api_world's people, each with an API token
API_PEOPLE = {
    "admin": ("admin", "JN-PTB"),
    "duty": ("duty_officer", "JN"),
    "viewer": ("viewer", "JN-LX"),
    "handler": ("handler", "JN-TQ-01"),
}


@dataclass
class ApiWorld:
    """The in-process platform on the Jinan bureau and a bearer token per person (conftest's ``api_world``)."""
    platform: Any  # dashboard.Platform
    tokens: dict[str, str]  # username (or "kiosk") -> bearer token

    def headers(self, who: str | None, **extra: str) -> dict[str, str]:
        return {**({"Authorization": f"Bearer {self.tokens[who]}"} if who else {}), **extra}

    def get(self, path: str, who: str | None = "admin", **headers: str) -> Any:
        return self.platform.server.test_client().get(path, headers=self.headers(who, **headers))

    def post(self, path: str, who: str | None = "admin", headers: dict[str, str] | None = None, **kwargs: Any) -> Any:
        return self.platform.server.test_client().post(path, headers=self.headers(who, **(headers or {})), **kwargs)

    def add_person(self, username: str, role: str, unit: str) -> None:
        """One more user, with an API token under ``username``."""
        from tickets import accounts

        with unit_of_work(self.platform.factory) as s:
            user = accounts.create_user(s, username, "测试民警", None, unit, role, "api-tests-2026")
            self.tokens[username] = accounts.issue_token(s, "api", user, label=f"{username} token")


def api_world(tmp_path: Path, database_url: str | None = None, **settings: Any) -> Iterator[ApiWorld]:
    """Yields an ApiWorld, then stops the platform (use as a fixture's body); SQLite under
    ``tmp_path`` unless given a database; ``settings`` go into the platform's settings."""
    import settings as settings_module
    from dashboard import create_platform
    from tickets import accounts

    url = database_url or f"sqlite:///{tmp_path / 'api.db'}"
    upgrade(url)
    cfg = settings_module.load(environ={}, database_url=url, demo_accounts_file="none", **settings)
    platform = create_platform(cfg, live=False)
    tokens: dict[str, str] = {}
    with unit_of_work(platform.factory) as s:
        load_bureau(s, JINAN_BUREAU)
        for username, (role, unit) in API_PEOPLE.items():
            user = accounts.create_user(s, username, "测试民警", None, unit, role, "api-tests-2026")
            tokens[username] = accounts.issue_token(s, "api", user, label=f"{username} token")
        tokens["kiosk"] = accounts.issue_token(s, "kiosk", label="指挥中心 1 号屏")
    try:
        yield ApiWorld(platform, tokens)
    finally:
        platform.stop()


def api_world_again(database_url: str, tokens: dict[str, str], **settings: Any) -> Iterator[ApiWorld]:
    """An ApiWorld on a database an :func:`api_world` already set up (a copy of it): the same
    people, the same tokens."""
    import settings as settings_module
    from dashboard import create_platform

    cfg = settings_module.load(environ={}, database_url=database_url, demo_accounts_file="none", **settings)
    platform = create_platform(cfg, live=False)
    try:
        yield ApiWorld(platform, dict(tokens))
    finally:
        platform.stop()


# ------------------------------------------- follow-up and supervision (三级回访, 督办)
@dataclass
class FollowupWorld:
    """The small bureau with add_people's units and users, and the SMS sandbox gateway."""
    factory: sessionmaker[Session]
    gateway: Any  # tickets.sms.SandboxGateway
    engine: Any  # sqlalchemy.Engine
    settings: Any

    def reconfigure(self, settings: Any = None, **overrides: Any) -> None:
        """From now on, units of work of the same database with other settings or overrides
        (``gateway=``, ``follow_up=``, ``dedup=`` …): as a platform started with them would have."""
        self.factory = session_factory(self.engine, settings or self.settings, **overrides)

    def unit(self, s: Session, code: str) -> Unit:
        unit = s.scalar(select(Unit).where(Unit.code == code))
        assert unit is not None
        return unit

    def user(self, s: Session, username: str) -> User:
        user = s.scalar(select(User).where(User.username == username))
        assert user is not None
        return user

    def actor(self, s: Session, username: str) -> Any:
        from tickets.roles import actor_for

        return actor_for(s, self.user(s, username))

    def refuse(self, s: Session, usernames: Iterable[str], act: Callable[[Any], object]) -> None:
        """``act(actor)`` is refused (``NotAllowed``) to each of ``usernames``."""
        import pytest

        from tickets.errors import NotAllowed

        for username in usernames:
            with pytest.raises(NotAllowed):
                act(self.actor(s, username))


def followup_world(url: str | None, **overrides: Any) -> Iterator[FollowupWorld]:
    """A FollowupWorld on SQLite in memory (``url`` None) or on a migrated database at ``url``;
    ``overrides`` go into its domain configuration (``tickets.bootstrap.session_factory``), its
    SMS gateway a sandbox."""
    import settings as settings_module
    from tickets.models import Base
    from tickets.sms import SandboxGateway

    if url is None:
        engine = make_engine("sqlite://")
        Base.metadata.create_all(engine)
    else:
        upgrade(url)
        engine = make_engine(url)
    gateway = SandboxGateway()
    cfg = settings_module.load(environ={})
    factory = session_factory(engine, cfg, gateway=gateway, **overrides)
    add_small_bureau(factory)
    add_people(factory)
    yield FollowupWorld(factory, gateway, engine, cfg)
    engine.dispose()


def handled(world: FollowupWorld, at: datetime, phone: str | None = PHONE) -> int:
    """A ticket at 泉城路派出所 (JN-LX-01), contacted, reported and approved: ready to reply."""
    from tickets import lifecycle

    request = new_request(at)
    if phone != PHONE:
        request = replace(request, citizen_phone=phone)
    ticket = submit(world.factory, request)
    with unit_of_work(world.factory) as s:
        t = s.get(Ticket, ticket.id)
        assert t.unit.code == "JN-LX-01"
        lifecycle.contact(s, t, at + timedelta(minutes=10))
        lifecycle.report(s, t, at + timedelta(minutes=60))
        lifecycle.approve(s, t, at + timedelta(minutes=70))
    return ticket.id


def reply(world: FollowupWorld, ticket_id: int, at: datetime) -> None:
    from tickets import lifecycle

    with unit_of_work(world.factory) as s:
        t = s.get(Ticket, ticket_id)
        if t.status == "contacted":
            lifecycle.report(s, t, at)
            lifecycle.approve(s, t, at)
        lifecycle.reply(s, t, at, text="已处理")


def inbound(world: FollowupWorld, text: str, at: datetime, phone: str = PHONE) -> str:
    from tickets.followup import handle_inbound

    with unit_of_work(world.factory) as s:
        return handle_inbound(s, phone, text, at)


def recipients(s: Session, ticket_id: int, kind: str) -> set[tuple[str, str | None, str | None]]:
    """(unit code, role, username) of every notification of ``kind`` about the ticket."""
    rows = s.execute(
        select(Unit.code, Notification.role, User.username)
        .join(Unit, Unit.id == Notification.unit_id)
        .outerjoin(User, User.id == Notification.user_id)
        .where(Notification.ticket_id == ticket_id, Notification.kind == kind)
    ).all()
    return {tuple(r) for r in rows}


def events(s: Session, ticket_id: int) -> list[TicketEvent]:
    return list(s.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket_id).order_by(TicketEvent.id)))


def overdue_world(world: FollowupWorld) -> tuple[dict[str, int], datetime]:
    """Tickets at JN-LX-01 in every situation, and a moment when three of them are overdue."""
    from tickets import lifecycle

    ids = {}
    ids["dispatched"] = submit(world.factory, new_request(MONDAY_9)).id
    ids["contacted"] = submit(world.factory, new_request(MONDAY_9)).id
    ids["replied"] = handled(world, MONDAY_9)
    ids["closed"] = handled(world, MONDAY_9)
    with unit_of_work(world.factory) as s:
        lifecycle.contact(s, s.get(Ticket, ids["contacted"]), MONDAY_9 + timedelta(minutes=20))
        lifecycle.reply(s, s.get(Ticket, ids["replied"]), MONDAY_9 + timedelta(hours=2))
        closed = s.get(Ticket, ids["closed"])
        lifecycle.reply(s, closed, MONDAY_9 + timedelta(hours=2))
        lifecycle.close(s, closed, MONDAY_9 + timedelta(hours=3))
        due = s.get(Ticket, ids["dispatched"]).resolve_due_at
    now = due + timedelta(hours=1)
    ids["fresh"] = submit(world.factory, new_request(now - timedelta(minutes=30))).id
    return ids, now


def orders(world: FollowupWorld) -> list[Any]:
    """Every supervision order (督办单), oldest first."""
    from tickets.models import SupervisionOrder

    with world.factory() as s:
        return list(s.scalars(select(SupervisionOrder).order_by(SupervisionOrder.id)))


def complaint(world: FollowupWorld, at: datetime, *, lat: float, lon: float, phone: str, topic: str = "noise",
              kind: str = "complaint") -> int:
    return submit(world.factory, replace(new_request(at, lat=lat, lon=lon, phone=phone, topic=topic), kind=kind)).id


def letters(world: FollowupWorld) -> list[Any]:
    """Every reminder letter (提醒函), oldest first."""
    from tickets.models import ReminderLetter

    with world.factory() as s:
        return list(s.scalars(select(ReminderLetter).order_by(ReminderLetter.id)))


def number_of(world: FollowupWorld, ticket_id: int) -> str:
    with world.factory() as s:
        return s.get(Ticket, ticket_id).number


def merged_pair(world: FollowupWorld) -> tuple[int, int]:
    """拆分's case: ticket A (a 12345 call) and ticket B (another caller, 3 km away, plus a
    letter from that caller merged into B at intake), B then merged into A by the dispatcher."""
    ktv = ("泉城路KTV深夜噪音扰民", "历下区泉城路芙蓉街口一家KTV每晚营业到凌晨两三点，音响声音很大，附近居民无法休息。")
    a = submit(world.factory, replace(new_request(MONDAY_9, channel="hotline_12345", phone="13905310101"),
                                      title=ktv[0], content=ktv[1], lat=36.6650, lon=117.0205)).id
    b = submit(world.factory, new_request(MONDAY_9 + timedelta(minutes=5), channel="call", phone="13600000001",
                                          lat=36.6800, lon=117.0600)).id
    letter = submit(world.factory, new_request(MONDAY_9 + timedelta(minutes=30), channel="letter",
                                               phone="13600000001", lat=36.6800, lon=117.0600)).id
    assert letter == b  # a certain duplicate at intake: a merged record of B
    with unit_of_work(world.factory) as s:
        services.merge(s, world.actor(s, "dispatcher"), number_of(world, b), number_of(world, a), note="重复诉求",
                       at=MONDAY_9 + timedelta(hours=1))
    return a, b


# --------------------------------------------------------- de-duplication
DEDUP_DAY1 = datetime(2026, 11, 23, 10, 0, tzinfo=TZ)  # a Monday
KTV_CALL = ("泉城路KTV深夜噪音扰民",
            "市民来电反映：历下区泉城路与芙蓉街路口一家KTV每晚营业到凌晨两三点，音响声音很大，附近居民无法休息。")
KTV_LETTER = ("关于泉城路一家KTV长期扰民的投诉",
              "局长您好！我住泉城路芙蓉街口，楼下那家KTV每天夜里唱到两三点，音响太吵，打过110也没用，请彻底解决。")
KTV_APP = ("芙蓉街口ＫＴＶ太吵", "泉城路芙蓉街口那家ＫＴＶ现在还在放音乐，音响声音很大，楼上居民根本没法休息！！")
KTV_PLACE = (36.6650, 117.0205)


def dedup_request(at: datetime, *, channel: str, external_id: str, text: tuple[str, str], phone: str | None,
                  point: tuple[float, float] | None, topic: str = "noise", kind: str = "complaint") -> NewRequest:
    return replace(new_request(at, channel=channel, topic=topic, external_id=external_id, phone=phone or ""),
                   title=text[0], content=text[1], kind=kind, citizen_phone=phone,
                   lat=point[0] if point else None, lon=point[1] if point else None)


class LockPerThread:
    """Stands in for ``tickets.uow``'s process intake lock where threads play separate
    platform processes (each with its own engine): every thread gets a lock of its own, as
    every process has, so only the database's intake lock stands between them."""

    def __init__(self) -> None:
        self._mine = threading.local()

    def _lock(self) -> threading.Lock:
        if not hasattr(self._mine, "lock"):
            self._mine.lock = threading.Lock()
        return self._mine.lock

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        return self._lock().acquire(blocking, timeout)

    def release(self) -> None:
        self._lock().release()


# ------------------------------------------------------- deadlines (SLA)
def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


TEST_2027_CALENDAR = """\
year: 2027
source: test schedule, not the official one
holidays:
  - 2027-01-01
  - {days: 2027-01-04, name: test holiday on a Monday}
  - "2027-02-06..2027-02-13"
workdays:
  - 2027-02-14
"""

# A policy file with overrides per channel and per topic.
SLA_OVERRIDES = """\
channels:
  cad_110:
    contact_hours: 0.5
    resolve_working_days: {consultation: 1}
topics:
  fraud:
    resolve_working_days: {consultation: 2}
    amber_share: 0.5
"""


# ------------------------------------------------------- import files
BOSTON_MAPPING = EXAMPLES / "boston311.yaml"
BOSTON_SAMPLE = FIXTURES / "boston311_sample.csv.gz"

# A 12345 export.
HOTLINE_MAPPING: dict[str, Any] = {
    "name": "hotline_export",
    "source": "jn12345",
    "timezone": "Asia/Shanghai",
    "dates": {"formats": ["yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd"]},
    "columns": {"external_id": "工单编号", "received_at": "派单时间", "closed_at": "办结时间", "due_at": "办理时限",
                "title": "诉求主题", "content": "诉求内容", "address": "事发地址", "district": "区县",
                "lat": "纬度", "lon": "经度", "phone": "来电号码", "name": "来电人"},
    "status": {"column": "状态", "closed": ["2"], "open": ["0", "1"]},
    "due": {"missing": "sla"},
    "coordinates": {"system": "gcj02", "required": False},
    "channel": {"column": "来源", "map": {"12345": "hotline_12345", "信箱": "director_mailbox"},
                "default": "hotline_12345"},
    "topic": {"from_text": True},
    "kind": {"column": "诉求类型", "map": {"咨询": "consultation", "求助": "help", "投诉": "complaint",
                                          "举报": "report", "建议": "suggestion"}, "default": "help"},
    "sla_class": {"value": "service"},
    "dedup": {"mode": "auto"},
    # Open work orders past their deadline are imported as they are (the refusal, ``ask``, has
    # tests of its own in tests/unit/test_import_history.py).
    "open": {"past_due": "keep"},
}
HEADER = ["工单编号", "派单时间", "办结时间", "办理时限", "状态", "来源", "诉求类型", "诉求主题", "诉求内容",
          "事发地址", "区县", "纬度", "经度", "来电号码", "来电人"]


def hotline_row(n: int, *, at: str = "2026-11-18 09:00:00", closed: str = "", due: str = "", status: str = "1",
                source: str = "12345", kind: str = "投诉", title: str = "楼下烧烤店噪音扰民",
                content: str = "历下区泉城路附近烧烤店每晚营业到凌晨，噪音很大。",
                point: tuple[float, float] | None = None,
                phone: str | None = None, district: str = "历下区") -> list[str]:
    from geo.coords import wgs84_to_gcj02

    lat, lon = wgs84_to_gcj02(*(point or (36.6616 + n * 0.01, 117.0200)))
    return [f"GS2026111800{n:04d}", at, closed, due, status, source, kind, title, content, "泉城路", district,
            f"{lat:.7f}", f"{lon:.7f}", phone or f"1390531{n:04d}", "张先生"]


def write_csv(path: Path, rows: list[list[str]], header: list[str] = HEADER, gz: bool = False) -> Path:
    opener = gzip.open if gz else open
    with opener(path, "wt", encoding="utf-8", newline="") as f:  # type: ignore[operator]
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


# ------------------------------------------------------------ a simulated month (the weekly bulletin)
WEEK = "2026-W48"  # Monday 23 November to Sunday 29 November 2026
FIRST_DAY = datetime(2026, 11, 9, 0, 0, tzinfo=TZ)  # two weeks of history before it, and a week after
DAYS = 28
PER_DAY = 24
MADE_AT = datetime(2026, 11, 30, 7, 0, tzinfo=TZ)  # Monday 07:00: when the leader makes it
TOPICS = ["noise", "noise", "theft", "dispute", "traffic", "household", "other"]
# Jinan districts' centres, so tickets route to stations of several branches
PLACES = [(36.6640, 117.0230, "历下区"), (36.6580, 116.9930, "市中区"), (36.6610, 116.9700, "槐荫区"),
          (36.6950, 117.0250, "天桥区"), (36.6860, 117.0650, "历城区"), (36.7120, 117.5300, "章丘区")]


class Month:
    """Tickets of four weeks, each played through its own life at its own times."""

    def __init__(self, factory: Any) -> None:
        self.factory = factory
        self.rng = random.Random(20261130)
        self.serial = 0

    def play(self) -> None:
        for day in range(DAYS):
            with unit_of_work(self.factory) as s:
                stations = s.scalars(select(Unit).where(Unit.kind == "station")).all()
                for _ in range(PER_DAY):
                    self.serial += 1
                    at = FIRST_DAY + timedelta(days=day, minutes=self.rng.randrange(0, 24 * 60))
                    lat, lon, district = self.rng.choice(PLACES)
                    phone = f"137{self.serial:08d}"
                    request = new_request(at, topic=self.rng.choice(TOPICS), phone=phone, district=district,
                                          lat=lat + self.rng.uniform(-0.01, 0.01), lon=lon + self.rng.uniform(-0.01, 0.01),
                                          channel=self.rng.choice(["hotline_12345", "hotline_12345", "call", "letter",
                                                                   "director_mailbox"]),
                                          sla_class=self.rng.choice(["consultation", "service", "enforcement"]),
                                          external_id=f"MONTH-{self.serial}")
                    ticket = services.receive_one(s, request, now=at)
                    if ticket.status == "dispatched":
                        self.live(s, ticket, at, phone, stations)

    def live(self, s: Any, t: Ticket, at: datetime, phone: str, stations: list[Unit]) -> None:
        rng = self.rng
        try:
            if rng.random() < 0.08:  # 退单, then re-routed
                at += timedelta(minutes=rng.randrange(5, 50))
                lifecycle.return_ticket(s, t, at, SYSTEM, "非本单位管辖")
                at += timedelta(minutes=rng.randrange(5, 60))
                lifecycle.dispatch(s, t, rng.choice(stations), at)
            if rng.random() < 0.1:
                return  # never touched: open, past every deadline
            at += timedelta(minutes=rng.choice([5, 20, 45, 70, 150]))
            if rng.random() < 0.6:
                lifecycle.accept(s, t, at)
                at += timedelta(minutes=rng.choice([5, 30, 80]))
            lifecycle.contact(s, t, at)
            if rng.random() < 0.1:
                if rng.random() < 0.5:
                    supervision.issue_order(s, t, at + timedelta(days=2), SYSTEM, "请尽快办理")
                return  # contacted, then left open
            self.handle(s, t, at, phone)
        except IllegalStep:
            pass

    def handle(self, s: Any, t: Ticket, at: datetime, phone: str) -> None:
        rng = self.rng
        for _round in range(3):
            at += timedelta(hours=rng.choice([1, 3, 6, 20, 40]))
            lifecycle.report(s, t, at)
            if rng.random() < 0.1:  # 审核退回
                at += timedelta(minutes=30)
                lifecycle.send_back(s, t, at, SYSTEM, "办理不到位")
                at += timedelta(hours=2)
                lifecycle.report(s, t, at)
            at += timedelta(minutes=30)
            lifecycle.approve(s, t, at)
            at += timedelta(minutes=30)
            lifecycle.reply(s, t, at, text="已处理")
            at += timedelta(hours=rng.choice([1, 5]))
            r = rng.random()
            if r < 0.1:
                return  # the citizen does not answer
            followup.handle_inbound(s, phone, "1" if r < 0.7 else "2" if r < 0.82 else "3", at)
            if t.status != "contacted":  # not redone: closed (or waiting for findings)
                return
