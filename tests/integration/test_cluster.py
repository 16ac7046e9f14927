"""Several processes, as a bureau runs them (issue 18, item 3): Debian's nginx with the shipped
site (deploy/nginx/minsheng.conf, on private ports) in front of THREE ``app.py serve`` web
processes, and TWO ``app.py worker`` processes, on the real PostgreSQL and Redis.

Light wall screens (tests/wall_client.py: what assets/live.js does) connect through nginx over
HTTPS. To pin screens to each web process, the test adds to the shipped site one upstream per
web process, that process first and the other two as ``backup`` ones, chosen by the handshake's
``?pin=N`` (a ``map`` in front of the /socket.io/ location's proxy_pass): a pinned screen whose
process dies reconnects through nginx to the others, as through the shipped upstream. Two more
screens use the shipped round-robin upstream itself. Everything else is the shipped site.

- Every screen gets every committed ticket's event exactly once (tickets through nginx's
  Open311 and from a feed process).
- Web process 1 is killed (SIGKILL, its gunicorn worker too): its screens reconnect to the
  others, reload the snapshot, and every ticket committed while they were away is in their
  count, none twice.
- The leading worker is killed: the other takes the live path over within 10 s, nothing lost or
  doubled on any screen.
"""
from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
import requests

from dashboard.live.keys import LEADER
from dashboard.push import LISTENERS_KEY
from tests.helpers import OPEN311_KEY, bureau_database, new_request, submit, wait_until
from tests.integration.test_deploy_nginx import NGINX, _site_for_test, _write_config, running_nginx
from tests.servers import DEMO_ACCOUNTS, PlatformProcess, WorkerProcess, demo_kiosk_token, free_port
from tests.wall_client import WallScreen
from tickets.accounts import load_demo_accounts
from tickets.bootstrap import session_factory
from tickets.uow import unit_of_work

pytestmark = [
    pytest.mark.real_servers,
    pytest.mark.skipif(not (os.path.exists(NGINX) and shutil.which("openssl"))
                       and not os.environ.get("MINSHENG_REQUIRE_REAL_SERVERS"),
                       reason="nginx (Debian package nginx-light or nginx) and openssl are needed"),
]

ENV = {"SECRET_KEY": "cluster-test-" + "c1" * 24, "MINSHENG_DEDUP_MODE": "off",  # every ticket its own
       "MINSHENG_PROXY_HOPS": "1"}  # behind nginx, as deployed
WEB = ["serve", "--workers", "1", "--threads", "16"]


@dataclass
class Cluster:
    webs: list[PlatformProcess]
    workers: list[WorkerProcess]
    https_url: str
    redis: redis.Redis

    def leader(self) -> WorkerProcess:
        token = self.redis.get(LEADER)
        assert token, "no worker leads"
        pid = int(str(token).split(":")[1])
        return next(w for w in self.workers if w.proc is not None and w.proc.pid == pid)


def pinned_site(site: str, ports: list[int]) -> str:
    """The shipped site (already on the test's first web port) with all three web processes in
    its upstream, and one upstream per process chosen by ``?pin=`` for /socket.io/."""
    first = f"server 127.0.0.1:{ports[0]} max_fails=1 fail_timeout=10s;"
    assert first in site
    site = site.replace(first, "\n    ".join(f"server 127.0.0.1:{p} max_fails=1 fail_timeout=10s;" for p in ports))
    pins = "".join(
        f"upstream minsheng_pin{n} {{\n"
        + "".join(f"    server 127.0.0.1:{p}{'' if p == port else ' backup'};\n" for p in ports) + "}\n"
        for n, port in enumerate(ports, 1))
    choose = ("map $arg_pin $minsheng_pool {\n    default minsheng_web;\n"
              + "".join(f"    {n} minsheng_pin{n};\n" for n in range(1, len(ports) + 1)) + "}\n")
    shipped = "location /socket.io/ {\n        proxy_pass http://minsheng_web;"
    assert shipped in site
    site = site.replace(shipped, "location /socket.io/ {\n        proxy_pass http://$minsheng_pool;")
    # The app compares a write's (and a WebSocket's) Origin with the Host it gets: on a port
    # other than 443 that is $http_host, as the site's own comment says.
    site = site.replace("proxy_set_header Host              $host;", "proxy_set_header Host              $http_host;")
    return pins + choose + site


@pytest.fixture
def cluster(pg_url: str, redis_url: str, tmp_path: Path) -> Iterator[Cluster]:
    factory = bureau_database(pg_url)
    with unit_of_work(factory) as session:
        load_demo_accounts(session, DEMO_ACCOUNTS)  # the demo kiosk token opens the walls
    webs = [PlatformProcess(pg_url, redis_url, command=WEB, ready="health", env=ENV) for _ in range(3)]
    workers = [WorkerProcess(pg_url, redis_url, env=ENV) for _ in range(2)]
    http_port, https_port = free_port(), free_port()
    site = pinned_site(_site_for_test(tmp_path, webs[0].port, http_port, https_port), [w.port for w in webs])
    conf = _write_config(tmp_path, site)
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        with ThreadPoolExecutor(5) as pool:  # all five start at once
            for started in [pool.submit(p.start) for p in [*webs, *workers]]:
                started.result()
        with running_nginx(conf, http_port):
            yield Cluster(webs, workers, f"https://127.0.0.1:{https_port}", client)
    finally:
        for process in [*workers, *webs]:
            process.stop()
        client.close()


def _open311(base_url: str, n: int) -> str:
    answer = requests.post(f"{base_url}/open311/v2/requests.json", data={
        "api_key": OPEN311_KEY, "jurisdiction_id": "police.jinan.gov.cn", "service_code": "noise",
        "lat": f"{36.650 + n * 0.002:.4f}", "long": f"{117.000 + n * 0.002:.4f}",
        "attribute[noise_source]": "construction",
        "description": f"第{n}号：夜间施工噪音扰民，持续到凌晨。", "phone": f"1390000{n:04d}",
    }, timeout=10, verify=False)
    assert answer.status_code == 201, answer.text
    return str(answer.json()[0]["service_request_id"])


def _live(web: PlatformProcess) -> bool:
    try:
        return bool(web.get("/api/v1/live/snapshot")["counters"]["epoch"])
    except OSError:  # 503 until the leading worker has built the live state
        return False


def _all_have(screens: list[WallScreen], total: int, timeout: float = 20.0) -> None:
    wait_until(lambda: all(s.connected and s.received == total for s in screens), timeout=timeout,
               what=f"every screen to count {total} tickets: "
                    + ", ".join(f"{s.name}={s.received}{'' if s.connected else ' (away)'}" for s in screens))


def _none_doubled(screens: list[WallScreen], total: int) -> None:
    for screen in screens:
        assert screen.received == total, f"screen {screen.name} counts {screen.received} of {total}"
        assert screen.counters["received_today"] == total, f"screen {screen.name}'s counter"
        doubled = [n for n, times in screen.numbers.items() if times > 1]
        assert not doubled, f"screen {screen.name} applied {doubled} twice"


def test_three_web_processes_and_two_workers_behind_nginx(cluster: Cluster, pg_url: str) -> None:
    token = demo_kiosk_token()
    wait_until(lambda: _live(cluster.webs[0]), timeout=30, what="a worker to lead and build the live state")
    screens: list[WallScreen] = []
    factory = session_factory(pg_url)
    try:
        for n, k in [(n, k) for n in (1, 2, 3) for k in (1, 2)]:
            screens.append(WallScreen(cluster.https_url, token, query=f"pin={n}", name=f"pin{n}.{k}"))
        screens += [WallScreen(cluster.https_url, token, name=f"rr{k}") for k in (1, 2)]
        # Each web process serves screens (their listener counts, by process).
        wait_until(lambda: sum(int(v.split(":")[0]) > 0 for v in cluster.redis.hvals(LISTENERS_KEY)) >= 3,
                   timeout=10, what="screens on all three web processes")

        # 1. Every event to every screen, once: through nginx (Open311) and from a feed.
        numbers = {_open311(cluster.https_url, n) for n in range(6)}
        numbers |= {submit(factory, new_request()).number for _ in range(6)}
        _all_have(screens, len(numbers))
        time.sleep(1.0)  # anything doubled would arrive by now
        for screen in screens:
            assert set(screen.numbers) == numbers and max(screen.numbers.values()) == 1, screen.name

        # 2. Web process 1 is lost: its screens reconnect through nginx to the others.
        away = [s for s in screens if s.name.startswith("pin1")]
        resyncs = {s.name: s.resyncs for s in away}
        cluster.webs[0].kill()
        while_away = {submit(factory, new_request()).number for _ in range(5)}
        numbers |= while_away
        _all_have(screens, len(numbers))
        for screen in away:
            assert screen.resyncs > resyncs[screen.name], f"{screen.name} did not reload its snapshot"
        more = {_open311(cluster.https_url, n) for n in range(6, 9)}
        numbers |= more
        _all_have(screens, len(numbers))

        # 3. The leading worker is lost: the other takes the live path over within 10 s.
        before = set(numbers)
        leader = cluster.leader()
        leader.kill()
        killed_at = time.monotonic()
        handed = {submit(factory, new_request()).number for _ in range(3)}  # while nobody leads
        numbers |= handed
        _all_have(screens, len(numbers), timeout=20)
        handover = time.monotonic() - killed_at
        print(f"\nlive path handed over {handover:.1f} s after the leading worker was killed")
        assert handover <= 10.0, f"the live path resumed only {handover:.1f} s after the leader was killed"
        numbers |= {submit(factory, new_request()).number for _ in range(3)}
        _all_have(screens, len(numbers))
        time.sleep(1.0)
        _none_doubled(screens, len(numbers))
        for screen in screens:  # those that never left had every earlier ticket by its own event
            if screen.name.startswith(("pin2", "pin3")):
                assert set(screen.numbers) >= before, screen.name
    finally:
        for screen in screens:
            screen.close()
