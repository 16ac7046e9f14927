"""The production layout (issue 18): ``app.py serve`` (gunicorn, two workers, threads) and
``app.py worker`` (the background duties) on the real PostgreSQL and Redis.

Screens connected to either gunicorn worker get every event exactly once, pushed by the
worker process through the Redis message queue; tickets come in through the web (Open311)
and from another process (a feed); killing the worker and starting another resumes the live
path, nothing lost or doubled; the access log shows no kiosk token; ``serve`` refuses the
published SECRET_KEY.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from typing import Iterator

import pytest
import redis
import requests

from tests.helpers import OPEN311_KEY, new_request, submit
from tests.integration.test_end_to_end import LiveClient
from tests.servers import ROOT, PlatformProcess, WorkerProcess
from tickets.bootstrap import session_factory

pytestmark = pytest.mark.real_servers

SECRET = "serve-test-" + "5e" * 24
ENV = {"SECRET_KEY": SECRET, "MINSHENG_DEDUP_MODE": "off"}  # every test ticket is its own


def _app(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MINSHENG_", "DATABASE_URL", "REDIS_URL",
                                                                      "SECRET_KEY"))}
    return subprocess.run([sys.executable, "app.py", *args], cwd=ROOT, env={**clean, **env}, capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture
def deployment(pg_url: str, redis_url: str) -> Iterator[tuple[PlatformProcess, WorkerProcess]]:
    env = {**ENV, "DATABASE_URL": pg_url, "REDIS_URL": redis_url}
    for step in (("db", "upgrade"), ("demo", "load")):  # a bureau's units and (here) the demo kiosk token
        done = _app(*step, env=env)
        assert done.returncode == 0, done.stderr
    web = PlatformProcess(pg_url, redis_url, command=["serve", "--workers", "2", "--threads", "16"],
                          ready="health", env=ENV).start()
    worker = WorkerProcess(pg_url, redis_url, env=ENV).start()
    try:
        yield web, worker
    finally:
        worker.stop()
        web.stop()


def _open311(base_url: str, n: int) -> str:
    answer = requests.post(f"{base_url}/open311/v2/requests.json", data={
        "api_key": OPEN311_KEY, "jurisdiction_id": "police.jinan.gov.cn", "service_code": "noise",
        "lat": f"{36.650 + n * 0.002:.4f}", "long": f"{117.000 + n * 0.002:.4f}",
        "attribute[noise_source]": "construction",
        "description": f"第{n}号：夜间施工噪音扰民，持续到凌晨。", "phone": f"1380000{n:04d}",
    }, timeout=10)
    assert answer.status_code == 201, answer.text
    return str(answer.json()[0]["service_request_id"])


def _screens_on_both_workers(web: PlatformProcess, redis_url: str, most: int = 12) -> list[LiveClient]:
    """Connect screens until both gunicorn workers serve some (the kernel picks the worker)."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    screens: list[LiveClient] = []
    while len(screens) < most:
        screens.append(LiveClient(web.base_url))
        time.sleep(0.3)
        serving = [n for n in client.hvals("ms:live:listeners") if int(n.split(":")[0]) > 0]
        if len(screens) >= 2 and len(serving) >= 2:
            return screens
    pytest.fail(f"{most} screens all landed on one gunicorn worker")


def _received(screen: LiveClient) -> Counter[str]:
    return Counter(e["ticket"]["number"] for e in screen.events("received"))


def _wait_all(screens: list[LiveClient], numbers: set[str], timeout: float = 30.0) -> None:
    for screen in screens:
        screen.wait_for(lambda s=screen: set(_received(s)) >= numbers, timeout=timeout)


def test_serve_and_worker_push_every_event_once_and_survive_a_killed_worker(
        deployment: tuple[PlatformProcess, WorkerProcess], pg_url: str, redis_url: str) -> None:
    web, worker = deployment
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # the worker leads and has built the live state
        try:
            web.get("/api/v1/live/snapshot")
            break
        except urllib.error.HTTPError:
            time.sleep(0.2)
    screens = _screens_on_both_workers(web, redis_url)
    factory = session_factory(pg_url)
    try:
        # Through the web (either gunicorn worker) and from another process (a feed).
        numbers = {_open311(web.base_url, n) for n in range(10)}
        numbers |= {submit(factory, new_request()).number for _ in range(10)}
        _wait_all(screens, numbers)

        with urllib.request.urlopen(web.base_url + "/api/v1/health", timeout=5) as answer:
            assert answer.status == 200 and json.loads(answer.read())["status"] == "ok"
        health = web.get("/api/v1/health")  # a logged-in caller's details: the web never leads
        assert health["database"] == "ok" and health["redis"] == "ok" and health["leader"] is False

        # The worker dies outright (no clean stop: its lease must run out); another, standing
        # by, takes over.
        second = WorkerProcess(pg_url, redis_url, env=ENV).start()
        worker.kill()
        killed_at = time.monotonic()
        try:
            after = {submit(factory, new_request()).number}  # committed while nobody leads
            _wait_all(screens, after, timeout=30)
            resumed = time.monotonic() - killed_at
            print(f"\nlive path resumed {resumed:.1f} s after the worker was killed")
            assert resumed <= 10.0, f"the live path resumed only after {resumed:.1f} s"
            more = {_open311(web.base_url, n) for n in range(10, 15)}
            _wait_all(screens, more)
            time.sleep(1.5)  # anything doubled would arrive by now
            everything = numbers | after | more
            for screen in screens:
                received = _received(screen)
                assert set(received) == everything
                assert max(received.values()) == 1, "an event reached a screen twice"
            counters = web.get("/api/v1/live/snapshot")["counters"]
            assert counters["received_today"] == len(everything)

            # A clean stop (SIGTERM) resigns the lease: a standing-by worker takes over at once.
            third = WorkerProcess(pg_url, redis_url, env=ENV).start()
            try:
                second.stop()
                stopped_at = time.monotonic()
                last = {submit(factory, new_request()).number}
                _wait_all(screens, last, timeout=30)
                handed = time.monotonic() - stopped_at
                print(f"live path resumed {handed:.1f} s after the leading worker stopped cleanly")
                assert handed < 5.0, f"a clean stop handed over only after {handed:.1f} s"
                time.sleep(1.0)
                for screen in screens:
                    assert _received(screen) == Counter(everything | last)
            finally:
                third.stop()
        finally:
            second.stop()

        # The access log printed the wall's URL, never its token.
        with urllib.request.urlopen(web.wall_url(), timeout=10) as answer:
            assert answer.status == 200
        time.sleep(0.5)
        log = web.log_path.read_text(errors="replace")
        assert "kiosk=***" in log
        assert web.kiosk_token not in log
    finally:
        for screen in screens:
            screen.close()


def test_serve_refuses_the_published_secret_key(pg_url: str, redis_url: str) -> None:
    # Even on the loopback host with the demo accounts: only `app.py run` (the demo) may.
    done = _app("serve", "--host", "127.0.0.1", env={"DATABASE_URL": pg_url, "REDIS_URL": redis_url}, timeout=60)
    assert done.returncode == 2
    assert "SECRET_KEY is the published development value" in done.stderr
    # And the embedded Redis stand-in: the web processes and the worker must share a real one.
    done = _app("serve", env={"DATABASE_URL": pg_url, "SECRET_KEY": SECRET}, timeout=60)
    assert done.returncode == 2 and "REDIS_URL" in done.stderr
    done = _app("worker", env={"DATABASE_URL": pg_url}, timeout=60)
    assert done.returncode == 2 and "REDIS_URL" in done.stderr
