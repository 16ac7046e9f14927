"""The production layout (issue 18): ``serve`` refuses the published SECRET_KEY, and both
``serve`` and ``worker`` the embedded Redis stand-in.

The layout running (several ``serve`` processes, one with two gunicorn workers, and workers
behind nginx: every event once, a killed web process, a killed and a cleanly stopped leading
worker, the health check, kiosk tokens out of the access log) is tests/integration/test_cluster.py,
on one shared set-up.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.servers import ROOT

pytestmark = pytest.mark.real_servers

SECRET = "serve-test-" + "5e" * 24
ENV = {"SECRET_KEY": SECRET, "MINSHENG_DEDUP_MODE": "off"}  # every test ticket is its own


def _app(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MINSHENG_", "DATABASE_URL", "REDIS_URL",
                                                                      "SECRET_KEY"))}
    return subprocess.run([sys.executable, "app.py", *args], cwd=ROOT, env={**clean, **env}, capture_output=True,
                          text=True, timeout=timeout)


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


def test_serve_with_gevent_workers(pg_url: str, redis_url: str) -> None:
    """The second server configuration (issue 18, item 1): gunicorn's gevent worker, Flask-SocketIO
    in gevent mode. One web process and one worker on a bureau's database: a page, an API write,
    and a screen's WebSocket that receives that write's event once."""
    from tests.helpers import OPEN311_KEY, bureau_database, wait_until
    from tests.servers import PlatformProcess, WorkerProcess
    from tests.wall_client import WallScreen
    from tickets import accounts
    from tickets.uow import unit_of_work

    import requests

    # (A class in a mode it does not serve is refused: tests/unit/test_serve_check.py.)
    with unit_of_work(bureau_database(pg_url)) as s:
        token = accounts.issue_token(s, "kiosk", label="指挥中心 1 号屏")
    env = {**ENV, "MINSHENG_DEMO_ACCOUNTS_FILE": "none"}
    web = PlatformProcess(pg_url, redis_url, env=env, ready="health",
                          command=["serve", "--worker-class", "gevent", "--workers", "1"])
    worker = WorkerProcess(pg_url, redis_url, env=env)
    try:
        with ThreadPoolExecutor(1) as pool:  # both start at once: their imports are most of the wait
            started = pool.submit(web.start)
            worker.start()
            started.result()
        assert "1 × gevent × 1000 connections" in web.log()

        page = requests.get(f"{web.base_url}/login", timeout=10)
        assert page.status_code == 200 and "<html" in page.text.lower()
        wait_until(lambda: _snapshot_ready(web, token), timeout=30, what="the live state built by the worker")
        screen = WallScreen(web.base_url, token, name="gevent")
        try:
            answer = requests.post(f"{web.base_url}/open311/v2/requests.json", data={
                "api_key": OPEN311_KEY, "jurisdiction_id": "police.jinan.gov.cn", "service_code": "noise",
                "lat": "36.6510", "long": "117.0010", "attribute[noise_source]": "construction",
                "description": "夜间施工噪音扰民，持续到凌晨。", "phone": "13900001234"}, timeout=10)
            assert answer.status_code == 201, answer.text
            number = str(answer.json()[0]["service_request_id"])
            wait_until(lambda: screen.numbers[number] >= 1, timeout=20, what="the event on the gevent screen")
            time.sleep(0.5)  # a doubled frame would have come by now
            assert screen.numbers[number] == 1
        finally:
            screen.close()
    finally:
        web.stop()
        worker.stop()
    # gevent said nothing about patching too late (the master patches before its first import).
    assert "has already been imported" not in web.log(), web.log()


def _snapshot_ready(web: Any, token: str) -> bool:
    try:
        return bool(web.get("/api/v1/live/snapshot", token=token)["counters"]["epoch"])
    except OSError:  # 503 until the leading worker has built the live state
        return False
