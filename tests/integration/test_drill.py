"""Drill mode (issue 19, item 3): a drill leaves the real platform exactly as it was.

A real platform on PostgreSQL + Redis with tickets and a wall listening; then ``app.py drill``
on the same PostgreSQL server and the same Redis server, as a trainer would start it: a
handful of a simulated day's tickets at high speed, and a trainee working one of them to the
reply (which texts the citizen). The training space has its tickets, its texts and its wall
marked 演练; the real figures, the real wall's counters and pushes, and the real SMS outbox
are exactly as before.
"""
from __future__ import annotations

import re
import threading
import time
import urllib.error
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
from sqlalchemy import func, select

from dashboard.drill.marking import SESSION_COOKIE as DRILL_COOKIE
from tests.helpers import new_request, submit
from tests.integration.test_end_to_end import LiveClient
from tests.servers import PlatformProcess, PostgresServer, RedisServer
from tickets import accounts
from tickets.bootstrap import session_factory
from tickets.models import SmsMessage, Ticket
from tickets.uow import unit_of_work

DRILL_TICKETS = 6
REAL_TICKETS = 4


class SmsGateway(BaseHTTPRequestHandler):
    """The real platform's SMS gateway (HTTP): every text it is handed, kept."""

    texts: list[bytes] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.texts.append(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"id": "real-1"}')

    def log_message(self, *_: Any) -> None:
        pass


@dataclass
class Drilled:
    real: PlatformProcess
    drill: PlatformProcess
    wall_url: str  # the drill wall's kiosk URL, as the command printed it
    before: dict[str, Any]
    after: dict[str, Any]
    drill_numbers: set[str]
    drill_sms: list[str]  # the statuses of the drill's texts
    gateway_texts: list[bytes]  # what reached the real SMS gateway
    real_frames: list[dict[str, Any]]  # what the real wall was pushed during the drill
    drill_frames: list[dict[str, Any]]  # and the drill's wall


def _wait(predicate: Any, what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _count(factory: Any, model: Any) -> int:
    with factory() as session:
        return int(session.scalar(select(func.count()).select_from(model)))


def _real_state(real: PlatformProcess, token: str) -> dict[str, Any]:
    """What the drill must not change: the figures API's answer, the wall's counters, the SMS outbox."""
    factory = session_factory(real.database_url)
    try:
        sms, tickets = _count(factory, SmsMessage), _count(factory, Ticket)
    finally:
        factory.kw["bind"].dispose()
    counters = real.get("/api/v1/live/snapshot")["counters"]
    return {"figures": real.get("/api/v1/figures", token), "counters": counters, "epoch": counters["epoch"],
            "sms": sms, "tickets": tickets}


def _received_today(platform: PlatformProcess, token: str | None = None) -> int:
    """The wall's count of today's tickets; 0 while its live state is still being built (503)."""
    try:
        return int(platform.get("/api/v1/live/snapshot", token)["counters"]["received_today"])
    except urllib.error.HTTPError as exc:
        if exc.code != 503:
            raise
        return 0


def _trainee(drill: PlatformProcess, username: str, password: str) -> requests.Session:
    """A browser's session on the drill, logged in through its /login form with the printed password."""
    browser = requests.Session()
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', browser.get(f"{drill.base_url}/login", timeout=10).text)
    assert csrf
    answer = browser.post(f"{drill.base_url}/login", timeout=10, allow_redirects=False,
                          data={"username": username, "password": password, "csrf_token": csrf.group(1), "next": "/"})
    assert answer.status_code == 302 and DRILL_COOKIE in browser.cookies, answer.text
    return browser


def _act(drill: PlatformProcess, trainee: requests.Session, number: str, step: str, **body: Any) -> None:
    answer = trainee.post(f"{drill.base_url}/api/v1/tickets/{number}/{step}", json=body, timeout=10,
                          headers={"X-CSRFToken": trainee.cookies.get("_csrf_token", "")})
    assert answer.status_code == 200, (step, answer.text)


@pytest.fixture(scope="module")
def drilled(postgres_server: PostgresServer, redis_server: RedisServer,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Drilled]:
    name = f"test_{uuid.uuid4().hex[:16]}"
    real_url = postgres_server.create_database(name)
    if not redis_server.running:
        redis_server.start()
    redis.Redis.from_url(redis_server.url).flushall()
    real = drill = wall = drill_wall = None
    gateway = ThreadingHTTPServer(("127.0.0.1", 0), SmsGateway)
    threading.Thread(target=gateway.serve_forever, daemon=True).start()
    # The real platform texts through an HTTP gateway; the drill is started with the same settings.
    texting = {"MINSHENG_SMS_GATEWAY": "http", "MINSHENG_SMS_GATEWAY_URL": f"http://127.0.0.1:{gateway.server_port}/"}
    try:
        real = PlatformProcess(real_url, redis_server.url, env=texting).start()
        factory = session_factory(real_url)
        for _ in range(REAL_TICKETS):
            submit(factory, new_request())
        with unit_of_work(factory) as s:
            admin = accounts.find_user(s, "admin")
            token = accounts.issue_token(s, "api", admin, label="drill test")
        factory.kw["bind"].dispose()
        _wait(lambda: _received_today(real) == REAL_TICKETS,
              "the real wall's counters")
        wall = LiveClient(real.base_url)
        before = _real_state(real, token)

        drill = PlatformProcess(real_url, redis_server.url, ready="health",
                                env={**texting, "MINSHENG_DRILL_DIR": str(tmp_path_factory.mktemp("drill"))},
                                command=["drill", "--from-day", "2026-08-16", "--from-time", "09:00",
                                         "--speed", "0", "--limit", str(DRILL_TICKETS), "--reset"])
        drill.extra_args = ["--port", str(drill.port)]
        drill.start()
        printed = re.search(r"drill wall \(no login\): (\S+)", drill.log())
        assert printed, drill.log()
        wall_url = printed.group(1)
        kiosk = wall_url.split("kiosk=")[1]
        password = re.search(r"trainees' password \(all accounts\): (\S+)", drill.log())
        assert password, drill.log()
        # The drill is a black box from here: what it did is asked of its own API, as a trainee.
        _wait(lambda: _received_today(drill, kiosk) >= DRILL_TICKETS, "the drill's tickets on its wall")
        # A drill wall listening (the drill pushes only while one does), once its live state is
        # built: building it forgets the screens that said they listen until they say so again.
        drill_wall = LiveClient(drill.base_url, kiosk)
        trainee = _trainee(drill, "admin", password.group(1))
        listed = trainee.get(f"{drill.base_url}/api/v1/tickets?limit=100", timeout=10).json()["items"]
        numbers = {row["number"] for row in listed}
        number = min(row["number"] for row in listed if row["status"] == "dispatched")
        # A trainee works a ticket to the reply, which texts the citizen (the follow-up SMS).
        for step, body in (("accept", {}), ("contact", {"note": "已电话联系"}), ("report", {"result": "已处理"}),
                           ("approve", {}), ("reply", {"text": "您反映的问题已处理。"})):
            _act(drill, trainee, number, step, **body)
        timeline = trainee.get(f"{drill.base_url}/api/v1/tickets/{number}", timeout=10).json()["timeline"]
        drill_sms = [e["data"]["status"] for e in timeline if e["kind"] == "sms_out"]
        _wait(lambda: number in repr(list(drill_wall.messages)), "the trainee's steps on the drill's wall")
        # Each wall's next frame (a heartbeat comes every 5 s): a frame pushed onto the other's
        # channel meanwhile would be there by then.
        seen = (len(wall.messages), len(drill_wall.messages))
        _wait(lambda: len(wall.messages) > seen[0] and len(drill_wall.messages) > seen[1], "the walls' next frames")
        after = _real_state(real, token)
        frames, drill_frames = list(wall.messages), list(drill_wall.messages)
        yield Drilled(real, drill, wall_url, before, after, numbers, drill_sms, list(SmsGateway.texts), frames,
                      drill_frames)
    finally:
        for client in (wall, drill_wall):
            if client is not None:
                client.close()
        gateway.shutdown()
        for proc in (drill, real):
            if proc is not None:
                proc.stop()
        postgres_server.drop_database(name)
        postgres_server.drop_database(f"{name}_drill")


def test_a_drill_leaves_the_real_figures_wall_and_outbox_unchanged(drilled: Drilled) -> None:
    assert len(drilled.drill_numbers) >= DRILL_TICKETS and drilled.drill_sms  # the drill did its work
    # Its texts were the sandbox's ("sent": recorded, nothing left; the real HTTP gateway would
    # have queued them for delivery), and none reached the real gateway.
    assert set(drilled.drill_sms) == {"sent"} and drilled.gateway_texts == []
    assert drilled.after == drilled.before
    assert drilled.before["tickets"] == REAL_TICKETS
    # Every frame names the live state it comes from (its epoch; ticket numbers do not tell: each
    # database numbers its own tickets from 1): each wall heard only its own platform.
    token = drilled.wall_url.split("kiosk=")[1]
    drill_counters = drilled.drill.get("/api/v1/live/snapshot", token)["counters"]
    assert drill_counters["received_today"] >= DRILL_TICKETS and drill_counters["epoch"] != drilled.before["epoch"]
    assert {f["counters"]["epoch"] for f in drilled.real_frames} == {drilled.before["epoch"]}
    assert {f["counters"]["epoch"] for f in drilled.drill_frames} == {drill_counters["epoch"]}
    # A drill's tickets are numbered YL… (演练), never taken for real ones (MS…).
    assert all(n.startswith("YL") for n in drilled.drill_numbers)
    assert not [n for n in drilled.drill_numbers if n in repr(drilled.real_frames)]
    # The drill's wall says it is a drill; the real one does not.
    page = requests.get(drilled.wall_url, timeout=10).text
    assert "演练" in page and "<title>【演练】" in page
    assert "演练" not in requests.get(drilled.real.wall_url(), timeout=10).text


def test_a_drill_screen_shows_the_band(drilled: Drilled, browser: Any) -> None:
    page = browser.new_page(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
    try:
        page.goto(drilled.wall_url)
        page.wait_for_selector(".wall")
        band = page.locator("#drill-band")
        assert band.is_visible() and "演练" in band.inner_text()
        assert band.bounding_box()["y"] == 0  # across the top, above the wall
        assert page.title().startswith("【演练】")
        page.goto(f"{drilled.drill.base_url}/login?lang=en")
        assert "DRILL 演练" in page.locator("#drill-band").inner_text() and page.title().startswith("[DRILL]")
    finally:
        page.close()
