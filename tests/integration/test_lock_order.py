"""No deadlock under load: the simulator at a high rate and the 12345 push at once, on PostgreSQL.

The recipe that used to take the platform down within seconds: the simulator
took several requests in one transaction while HTTP threads pushed work orders;
the two took the process's intake lock and PostgreSQL's advisory lock in
opposite orders, the pool drained and every request hung. The unit of work now
takes them in one order (``tickets/uow.py``); this test runs the recipe against
the real platform process and asks for ``/api/v1/health`` all the while.
"""
from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine, text

from tests.helpers import HOTLINE_SECRET, signed_headers
from tests.servers import PlatformProcess, PostgresServer

PUSHES_PER_SECOND = 4
SECONDS = 25


def _order(tag: int, n: int, at: datetime) -> dict[str, Any]:
    return {
        "工单编号": f"GS{at:%Y%m%d}{tag}{n:05d}", "派单时间": at.strftime("%Y-%m-%d %H:%M:%S"),
        "来电人": "王女士", "联系电话": f"139{n:08d}", "事发地址": "济南市历下区泉城路芙蓉街",
        "诉求类型": "投诉", "标题": "夜间施工噪音", "诉求内容": f"工地夜间施工噪音扰民，第{n}次反映。",
        "紧急程度": "普通", "工单状态": "0",
    }


def _timed(url: str, data: bytes | None = None, headers: dict[str, str] | None = None,
           timeout: float = 30.0) -> tuple[float, int]:
    started = time.monotonic()
    request = urllib.request.Request(url, data=data, headers=headers or {}, method="POST" if data else "GET")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (urllib.error.URLError, TimeoutError, OSError):
        status = 0  # no answer in time: the platform hangs
    return time.monotonic() - started, status


def _under_load(platform: PlatformProcess, tags: tuple[int, ...], during: Callable[[], None],
                push_timeout: float = 30.0) -> tuple[list[tuple[float, int]], list[tuple[float, int]]]:
    """(health answers, push answers): ``/api/v1/health`` asked every 0.25 s and 12345 work orders
    pushed at PUSHES_PER_SECOND for each tag while ``during()`` runs; each as (seconds, status)."""
    stop = threading.Event()
    health: list[tuple[float, int]] = []
    pushes: list[tuple[float, int]] = []

    def ask_health() -> None:
        while not stop.is_set():
            health.append(_timed(f"{platform.base_url}/api/v1/health", timeout=5.0))
            stop.wait(0.25)

    def push(tag: int) -> None:
        n = 0
        while not stop.is_set():
            n += 1
            at = datetime.now(ZoneInfo("Asia/Shanghai")) - timedelta(seconds=5)
            body = json.dumps(_order(tag, n, at), ensure_ascii=False).encode("utf-8")
            pushes.append(_timed(f"{platform.base_url}/api/v1/intake/hotline", body, signed_headers(body),
                                 timeout=push_timeout))
            stop.wait(1 / PUSHES_PER_SECOND)

    threads = [threading.Thread(target=ask_health), *(threading.Thread(target=push, args=(tag,)) for tag in tags)]
    for t in threads:
        t.start()
    try:
        during()
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    assert all(not t.is_alive() for t in threads), "a request never came back: the platform hangs"
    return health, pushes


def _stored_pushes(pg_url: str) -> tuple[int, int]:
    """(rows, distinct work orders) of the pushed orders stored as intake records."""
    engine = create_engine(pg_url)
    with engine.connect() as c:
        stored = c.execute(text("SELECT count(*), count(DISTINCT external_id) FROM intake_records "
                                "WHERE channel = 'hotline_12345' AND external_id LIKE 'GS%'")).one()
    engine.dispose()
    return int(stored[0]), int(stored[1])


@pytest.mark.timeout(240)
def test_simulator_and_pushes_together_never_hang_the_platform(pg_url: str, redis_url: str) -> None:
    platform = PlatformProcess(pg_url, redis_url, extra_args=["--simulate", "--rate", "7200", "--backfill-hours", "0.5"],
                               env={"MINSHENG_HOTLINE_SECRET": HOTLINE_SECRET, "MINSHENG_SIMULATOR_SEED": "7"})
    platform.start(timeout=120)
    try:
        health, pushes = _under_load(platform, (1, 2), lambda: time.sleep(SECONDS))
        slow = [(round(s, 2), code) for s, code in health if s >= 1.0 or code != 200]
        assert len(health) >= SECONDS * 2 and not slow, f"health answered late or not ok: {slow[:10]} of {len(health)}"
        # Pushes may wait for the simulator's batch (the intake lock), never fail or hang.
        taken = sorted(s for s, _code in pushes)
        codes = {code for _s, code in pushes}
        log = platform.log()
        assert len(taken) >= SECONDS and codes == {201} and taken[-1] < 10.0, \
            (f"pushes: {len(taken)} sent, answers {sorted(codes)}, median {taken[len(taken) // 2]:.2f} s, "
             f"slowest {taken[-1]:.2f} s\n{log[-4000:]}")
        assert "deadlock" not in log.lower() and "Traceback" not in log, log[-3000:]
        # Every push answered 201 is stored, once.
        stored = _stored_pushes(pg_url)
        assert stored == (len(pushes), len(pushes)), (stored, len(pushes))
        # What health says of the pool and of lock waits, once the load is over.
        details = json.loads(urllib.request.urlopen(urllib.request.Request(
            f"{platform.base_url}/api/v1/health", headers={"Authorization": f"Bearer {platform.kiosk_token}"}),
            timeout=5).read())
        assert details["pool"]["lock_waits"] == 0 and details["pool"]["size"] == 10, details["pool"]
    finally:
        platform.stop()


@pytest.mark.timeout(240)
def test_pushes_across_a_postgresql_restart_are_stored_or_refused_never_lost(
        postgres_server: PostgresServer, pg_url: str, redis_url: str) -> None:
    """PostgreSQL goes away for 5 s under the simulator and the pushes: health answers within a
    second throughout (503 while the database is away), every push is answered, and every push
    answered 201 is stored exactly once; a refused one (503) can be sent again."""
    platform = PlatformProcess(pg_url, redis_url, extra_args=["--simulate", "--rate", "300", "--backfill-hours", "0"],
                               env={"MINSHENG_HOTLINE_SECRET": HOTLINE_SECRET, "MINSHENG_SIMULATOR_SEED": "7"})
    platform.start(timeout=120)

    def outage() -> None:
        time.sleep(5)
        postgres_server.restart(down_seconds=5)
        time.sleep(10)

    try:
        health, pushes = _under_load(platform, (3,), outage, push_timeout=20.0)
        slow = [(round(s, 2), code) for s, code in health if s >= 1.0 or code not in (200, 503)]
        assert not slow, f"health answered late or wrongly: {slow[:10]} of {len(health)}"
        assert health[-1][1] == 200, "healthy again after the restart"
        codes = [code for _s, code in pushes]
        assert set(codes) <= {201, 503} and codes[-1] == 201, sorted(set(codes))
        stored = _stored_pushes(pg_url)
        assert stored == (codes.count(201), codes.count(201)), (stored, codes)
    finally:
        platform.stop()
